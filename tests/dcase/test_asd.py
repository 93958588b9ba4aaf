"""The baseline twin and the outlier-exposure detector: front-end shapes, PyTorch-style init,
one-compile train steps whose loss goes down, score formulas against hand computations."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training
from drill_jax.asd import autoencoder, features, fusion, knn, oe_net, outlier, reconstruction

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

RATE = 16000
TINY_AE = autoencoder.AEConfig(front_end=features.LogMelConfig(n_mels=16), hidden=16,
                               bottleneck=4, train=training.Schedule(epochs=3, batch_size=32))
TINY_OE = outlier.OEConfig(
    outlier.InputConfig(features.LogMelConfig(n_mels=16), window_frames=8, eval_hop_frames=4,
                        spectrum_fft=256),
    width=16, embedding_dim=8, train=training.Schedule(epochs=40, batch_size=16))
QUICK_OE = dataclasses.replace(TINY_OE, fusion="stats+reconstruction", components=3,
                               train=training.Schedule(epochs=2, batch_size=16))


def _tones(freqs, seconds=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return [0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size) for f in freqs]


def test_log_mel_frames_and_frame_vectors():
    x = _tones([1000.0], seconds=1.0)[0]
    lm = features.log_mel(features.LogMelConfig(), x, RATE)
    assert lm.shape == (1 + RATE // 512, 128)
    assert abs(np.argmax(lm[10]) - np.argmax(np.abs(lm[10] - lm[10].min()))) == 0
    v = features.frame_vectors(np.arange(12.0).reshape(4, 3), 2)
    np.testing.assert_array_equal(v, [[0, 1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8], [6, 7, 8, 9, 10, 11]])
    np.testing.assert_array_equal(features.window_starts(10, 4, 3), [0, 3, 6])
    np.testing.assert_array_equal(features.window_starts(3, 4, 3), [0])
    assert features.crop(np.ones((3, 2)), 0, 5).shape == (5, 2)
    assert features.tiled_frame_vectors(np.ones((3, 2)), 5).shape == (1, 10)


@pytest.mark.parametrize(
    "kwargs", [dict(n_mels=0), dict(n_fft=1), dict(hop=0), dict(power=0.0)]
)
def test_log_mel_config_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError, match="LogMelConfig needs"):
        features.LogMelConfig(**kwargs)



def test_twin_init_is_pytorch_linear_and_step_compiles_once_and_learns():
    state = autoencoder.init_state(TINY_AE, jax.random.key(0))
    k = np.asarray(state.params["enc0"]["kernel"])
    assert k.shape == (80, 16) and np.abs(k).max() <= 1 / np.sqrt(80)
    assert np.abs(k).max() > 0.9 / np.sqrt(80)  # uniform over the whole range
    assert autoencoder.AEConfig().input_dim == 640
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 3)) @ rng.normal(size=(3, 80))).astype(np.float32)  # rank 3
    batch = {"x": x, "mask": np.ones(64, np.float32)}
    before = training.compiled_count(autoencoder.train_step)
    losses = []
    for _ in range(100):
        state, m = autoencoder.train_step(state, batch, jax.random.key(0))
        losses.append(float(m["loss"]))
    assert training.compiled_count(autoencoder.train_step) - before <= 1
    assert losses[-1] < 0.7 * losses[0]


def test_selective_mahalanobis_is_the_official_matrix_mean():
    """The official score averages delta P delta^T over every pair of blocks; that is the
    quadratic form of the mean block."""
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(15, 4))
    a = rng.normal(size=(4, 4))
    p = a @ a.T
    official = np.mean(np.mean(delta @ p @ delta.T, axis=1))
    mean = delta.mean(axis=0)
    assert mean @ p @ mean == pytest.approx(official)


def test_twin_fit_and_score_rank_an_odd_tone_higher():
    normal = _tones([400.0 + 5 * i for i in range(12)])
    odd = _tones([3000.0], seed=1)
    vec = autoencoder.file_vectors(TINY_AE, normal + odd, RATE)
    config = dataclasses.replace(TINY_AE, train=training.Schedule(epochs=150, batch_size=32))
    model = autoencoder.fit(config, vec[:10], np.arange(10) >= 8, jax.random.key(0))
    s = autoencoder.score(TINY_AE, model, vec[10:])
    assert set(s) == {"mse", "mahalanobis"} and s["mse"].shape == (3,)
    assert s["mse"][2] > s["mse"][:2].max() and s["mahalanobis"][2] > s["mahalanobis"][:2].max()


def test_arcface_loss_hand_computed():
    cos = jnp.array([[[0.5], [0.0]]])
    got = float(oe_net.arcface_loss(cos, jnp.array([0]), margin=0.1, scale=2.0)[0])
    target = np.cos(np.arccos(0.5) + 0.1)
    assert got == pytest.approx(-np.log(np.exp(2 * target) / (np.exp(2 * target) + 1.0)), 1e-5)
    assert float(oe_net.arcface_loss(cos, jnp.array([1]), 0.0, 2.0)[0]) == pytest.approx(
        -np.log(1.0 / (1.0 + np.exp(1.0))), 1e-5)
    sub = jnp.array([[[0.5, 0.2], [0.0, 0.1]]])  # two sub-clusters per class
    p0 = (np.exp(0.5) + np.exp(0.2)) / (np.exp(0.5) + np.exp(0.2) + 1.0 + np.exp(0.1))
    assert float(oe_net.arcface_loss(sub, jnp.array([0]), 0.0, 1.0)[0]) == pytest.approx(
        -np.log(p0), 1e-5)


def test_knn_takes_the_nearest_domain_per_section():
    refs = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [1.0, 0.0]])
    ref_sec = np.array(["00", "00", "00", "01"])
    ref_dom = np.array(["source", "source", "target", "source"])
    q = np.array([[0.8, 0.6], [0.0, 1.0]])
    got = knn.scores(refs, ref_sec, ref_dom, q, np.array(["00", "01"]), 2, "cosine")
    # section 00: source 2-NN mean distance (1 - .8 + 1 - .6) / 2 = 0.3; target 1 - .96
    # section 01: one reference, k capped at 1: 1 - 0 = 1
    np.testing.assert_allclose(got, [1 - 0.96, 1.0])
    with pytest.raises(ValueError, match="section '02' has no normal training recordings"):
        knn.scores(refs, ref_sec, ref_dom, q[:1], np.array(["02"]), 1, "cosine")


def test_knn_domain_scores_per_domain_and_leave_one_out():
    refs = np.array([[0.0], [1.0], [3.0], [10.0]])
    doms = np.array(["source", "source", "target", "target"])
    secs = np.zeros(4)
    var = (refs.std() + 1e-3) ** 2
    got = knn.domain_scores(refs, secs, doms, np.array([[2.0]]), np.zeros(1), 1, "zscore")
    np.testing.assert_allclose(got, [[1.0 / var, 1.0 / var]])  # nearest 1.0 and 3.0
    loo = knn.domain_scores(refs, secs, doms, refs, secs, 1, "zscore", leave_one_out=True)
    np.testing.assert_allclose(loo[2], [4.0 / var, 49.0 / var])  # 3.0 does not count itself
    np.testing.assert_allclose(loo[0], [1.0 / var, 9.0 / var])
    one = knn.domain_scores(refs[:2], secs[:2], doms[:2], refs[:1], secs[:1], 1, "zscore",
                            leave_one_out=True)
    assert one.shape == (1, 1)


def test_knn_zscore_distance_hand_computed():
    refs = np.array([[0.0], [1.0], [3.0]])
    var = (refs.std() + 1e-3) ** 2  # each feature standardised by the references
    pools = (np.zeros(3), np.zeros(3))
    got = knn.scores(refs, *pools, np.array([[5.0], [0.5]]), np.zeros(2), 2, "zscore")
    np.testing.assert_allclose(got, [(4.0 + 16.0) / 2 / var, (0.25 + 0.25) / 2 / var])


def test_reconstruction_is_the_principal_subspace_of_the_frame_vectors():
    rng = np.random.default_rng(0)
    bands = rng.standard_normal((3, 6))  # every frame mixes 3 spectral shapes of 6 bands
    mels = [rng.standard_normal((20, 3)) @ bands + 5.0 for _ in range(4)]
    pca = reconstruction.fit(mels, 4, 2)  # 2-frame vectors: 12 dims, 6 of them used
    v = np.concatenate([features.tiled_frame_vectors(m, 2) for m in mels]).astype(np.float64)
    _, _, vh = np.linalg.svd(v - v.mean(0), full_matrices=False)
    proj = pca["basis"] @ pca["basis"].T
    np.testing.assert_allclose(pca["mean"], v.mean(0), atol=1e-9)
    np.testing.assert_allclose(proj, vh[:4].T @ vh[:4], atol=1e-6)
    d = features.tiled_frame_vectors(mels[1], 2) - v.mean(0)
    np.testing.assert_allclose(reconstruction.errors(pca, mels[1:2], 2),
                               [np.mean((d - d @ proj) ** 2)], rtol=1e-6)
    full = reconstruction.fit(mels, 6, 2)  # the whole subspace: normal frames reconstruct
    odd = rng.standard_normal((20, 6)) + 5.0
    errs = reconstruction.errors(full, mels + [odd], 2)
    assert errs[:4].max() < 1e-8 < 0.1 < errs[4]


def test_reconstruction_leave_one_out_refits_without_the_recording():
    rng = np.random.default_rng(1)
    mels = [rng.standard_normal((6, 3)) + i for i in range(5)]
    got = reconstruction.leave_one_out_errors(reconstruction.moment_sums(mels, 2),
                                              [mels[1], mels[4]], 2, 2)
    for value, i in zip(got, [1, 4]):
        pca = reconstruction.fit([m for j, m in enumerate(mels) if j != i], 2, 2)
        assert value == pytest.approx(reconstruction.errors(pca, [mels[i]], 2)[0], rel=1e-6)


def test_fusion_standardises_each_domain_on_its_own_normal_scores():
    names = np.array(["source", "target"])
    # held-out: 3 source recordings of section a; column 0 = source, 1 = target
    held = {"embedding": np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),
            "stats": np.array([[0.0, 9.0], [1.0, 9.0], [2.0, 9.0]])}
    norms = fusion.norms(held, np.array(["a"] * 3), np.array(["source"] * 3), names)
    sd = np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(norms["a"], [[2.0, sd], [1.0, np.std([0.0, 1.0, 2.0])]])
    refs_sec, refs_dom = np.array(["a"] * 5), np.array(["source"] * 2 + ["target"] * 3)
    wanted = fusion.uncovered(refs_sec, refs_dom, np.array(["a"] * 3), np.array(["source"] * 3))
    np.testing.assert_array_equal(wanted, [False, False, True, True, True])
    assert not fusion.uncovered(refs_sec, refs_dom, np.array(["a"]), None).any()
    assert not fusion.uncovered(refs_sec, refs_dom, np.array(["b"]), np.array(["source"])).any()
    loo = {"stats": np.array([[5.0, 10.0], [5.0, 20.0], [5.0, 30.0]])}
    by_domain = fusion.domain_norms(loo, refs_sec[2:], refs_dom[2:], names, norms)
    np.testing.assert_allclose(  # the embedding keeps its held-out norm
        by_domain["a|target"], [[2.0, sd], [20.0, np.std([10.0, 20.0, 30.0])]])
    # a query: embedding 2 (z 0); stats 1 in source (z 1 / sd), 20 in target (z 0): min = 0
    query = {"embedding": np.array([[2.0, 2.0]]), "stats": np.array([[1.0 + sd, 20.0]])}
    got = fusion.fuse(query, np.array(["a"]), names, norms, by_domain)
    assert got[0] == pytest.approx(0.0, abs=1e-9)
    only_held = fusion.fuse(query, np.array(["a"]), names, norms)  # target on source norms
    assert only_held[0] == pytest.approx(min(sd / norms["a"][1, 1], 19.0 / norms["a"][1, 1]))
    with pytest.raises(ValueError, match="section 'b' has no score norms"):
        fusion.fuse(query, np.array(["b"]), names, norms)


def test_leave_one_out_fused_scores_each_held_out_recording_under_the_others_norms():
    names = np.array(["source", "target"])
    sections = np.array(["m|a"] * 4 + ["m|b"] * 2)  # pool names carry a "|" of their own
    domains = np.array(["source"] * 6)
    emb = np.array([1.0, 2.0, 4.0, 7.0, 1.0, 3.0])
    stats = np.array([0.0, 3.0, 1.0, 2.0, 5.0, 6.0])
    held = {"embedding": np.stack([emb, emb], 1), "stats": np.stack([stats, stats + 10], 1)}
    # row 0, the embedding's held-out norm, is recomputed without each recording
    by_domain = {"m|a|target": np.array([[emb[:4].mean(), emb[:4].std()], [12.0, 2.0]])}
    got = fusion.leave_one_out_fused(held, sections, domains, names, by_domain)
    for i in range(4):  # section a: the norms of the other three, by hand
        e, t = np.delete(emb[:4], i), np.delete(stats[:4], i)
        z_emb = (emb[i] - e.mean()) / e.std()
        source = z_emb + (stats[i] - t.mean()) / t.std()
        target = z_emb + (stats[i] + 10 - 12.0) / 2.0
        assert got[i] == pytest.approx(min(source, target)), i
    # section b has 2 held-out recordings: too few to leave one out, its in-sample scores stay
    in_sample = fusion.fuse(held, sections, names,
                            fusion.norms(held, sections, domains, names), by_domain)
    np.testing.assert_allclose(got[4:], in_sample[4:])
    assert got[:4].std() > in_sample[:4].std()  # new recordings spread wider than their norm


def test_oe_calibrated_scores_target_domain_on_its_training_recordings(oe_data):
    data, labels = oe_data
    domains = np.array(["source"] * 6 + ["target"] * 6)
    secs = np.array(["00"] * 12)
    train = data.take(range(12))
    model = outlier.fit(QUICK_OE, train, labels, secs, domains, jax.random.key(0))
    comps = outlier.components(QUICK_OE, model, data.take([12, 13]), secs[:2])
    assert all(c.shape == (2, 2) for c in comps.values())
    model = outlier.calibrated(QUICK_OE, model, comps, secs[:2], domains[:2], train)
    assert sorted(model.domain_norms) == ["00|target"]
    loo = outlier.leave_one_out(QUICK_OE, model, train, np.arange(6, 12))
    np.testing.assert_allclose(model.domain_norms["00|target"][1:, 0],
                               [loo["stats"][:, 1].mean(), loo["reconstruction"][:, 1].mean()])
    np.testing.assert_allclose(model.domain_norms["00|target"][0], model.norms["00"][0])
    assert np.all(np.isfinite(outlier.fused(QUICK_OE, model, comps, secs[:2])))
    loaded = dataclasses.replace(model, moments=None)  # what a saved detector gives back
    with pytest.raises(ValueError, match="need the model as fitted"):
        outlier.leave_one_out(QUICK_OE, loaded, train, np.arange(6, 12))


@pytest.fixture(scope="module")
def oe_data():
    waves = _tones([300.0] * 6 + [900.0] * 6 + [300.0, 2500.0], seed=2)
    return outlier.inputs(TINY_OE, waves, RATE), np.array([0] * 6 + [1] * 6)


def test_oe_same_key_same_scores_and_odd_sound_scores_high(oe_data):
    data, labels = oe_data
    fit_idx, held_idx = np.array([0, 1, 2, 3, 4, 6, 7, 8, 9, 10]), np.array([5, 11])
    train, test = data.take(fit_idx), data.take([12, 13])
    secs, doms = np.array(["00"] * 10), np.array(["source"] * 10)
    runs = []
    for _ in range(2):
        model = outlier.fit(TINY_OE, train, labels[fit_idx], secs, doms, jax.random.key(3))
        with pytest.raises(ValueError, match="needs a calibrated model"):
            outlier.score(TINY_OE, model, test, np.array(["00", "00"]))
        model = outlier.calibrate(TINY_OE, model, data.take(held_idx), np.array(["00", "00"]))
        runs.append(outlier.score(TINY_OE, model, test, np.array(["00", "00"])))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0][1] > runs[0][0]
    held = outlier.components(TINY_OE, model, data.take(held_idx), np.array(["00", "00"]))
    assert list(held) == ["embedding", "stats", "reconstruction"]
    np.testing.assert_allclose(  # the norms standardise each component on the held-out pair
        outlier.score(TINY_OE, model, data.take(held_idx), np.array(["00", "00"])),
        sum((c[:, 0] - c[:, 0].mean()) / (c[:, 0].std() + 1e-12) for c in held.values()),
        atol=1e-9)


def test_oe_reconstruction_fusion_adds_the_section_pca_error(oe_data):
    data, labels = oe_data
    config = QUICK_OE
    secs = np.array(["a"] * 6 + ["b"] * 6)
    model = outlier.fit(config, data.take(range(12)), labels, secs, np.array(["source"] * 12),
                        jax.random.key(0))
    queries, q_secs = data.take([12, 13]), np.array(["a", "b"])
    comps = outlier.components(config, model, queries, q_secs)
    pca_b = reconstruction.fit(data.take(range(6, 12)).mels, 3, outlier.RECONSTRUCTION_FRAMES)
    np.testing.assert_allclose(
        comps["reconstruction"][1, 0],
        reconstruction.errors(pca_b, queries.mels[1:], outlier.RECONSTRUCTION_FRAMES)[0])
    assert list(comps) == ["embedding", "stats", "reconstruction"]


def test_oe_train_step_compiles_once_and_loss_goes_down(oe_data):
    data, labels = oe_data
    state = outlier.init_state(TINY_OE, data, 2, jax.random.key(0))
    mel = np.stack([features.crop(m, 0, 8) for m in data.mels[:12]])
    batch = {"mel": mel, "spectrum": data.spectra[:12], "label": labels}
    before = training.compiled_count(outlier.train_step)
    losses = []
    for _ in range(15):
        state, m = outlier.train_step(state, batch, jax.random.key(1),
                                      outlier.LossConfig(mixup_alpha=0.0))
        losses.append(float(m["loss"]))
    assert training.compiled_count(outlier.train_step) - before <= 1
    assert losses[-1] < 0.5 * losses[0]


def test_knn_and_reconstruction_reject_impossible_settings():
    refs = np.eye(2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn.scores(refs, np.zeros(2), np.zeros(2), refs, np.zeros(2), 0, "cosine")
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        reconstruction.fit([np.zeros((4, 3))], 0, 2)
    with pytest.raises(ValueError, match="no normal recordings"):
        reconstruction.fit([], 4, 2)
