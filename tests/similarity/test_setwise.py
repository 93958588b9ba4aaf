"""Tests for drill_jax.similarity.setwise: known answers on made-up sets and on the bundled
sounds."""

import numpy as np
import pytest

from drill_jax import data
from drill_jax.similarity import pairwise, realism, setwise, two_sample


@pytest.fixture(scope="module")
def anomaly():
    """The bundled anomaly sounds (first 1999 samples are what every measure compares)."""
    ds = data.load_dataset(classes=["anomaly"])
    return list(ds.waveforms), ds.sample_rate


def test_crop_set_and_summarize():
    x = setwise.crop_set([np.arange(5.0), np.arange(3.0)])
    np.testing.assert_array_equal(x, [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError, match="fewer than"):
        setwise.crop_set([np.ones(3)], 4)
    with pytest.raises(ValueError, match="empty"):
        setwise.crop_set([])
    s = setwise.summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s["n"], s["median"], s["min"], s["max"], s["q25"]) == (5, 3.0, 1.0, 5.0, 2.0)


def test_best_matches_finds_shifted_negated_copies():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((6, 400))
    which = np.array([3, 0, 5])
    query = -np.roll(ref[which], 2, axis=1) + 0.01 * rng.standard_normal((3, 400))
    bm = setwise.best_matches(query, ref)
    np.testing.assert_array_equal(bm.index, which)
    assert np.all(bm.peak < -0.98) and np.all(bm.lag == 2)  # query = reference delayed by 2
    np.testing.assert_allclose(bm.abs_peak, -bm.peak)
    loo = setwise.best_matches(ref, ref, exclude_self=True)
    assert np.all(loo.index != np.arange(6)) and np.all(loo.abs_peak < 0.5)


def test_nn_ratio_hand_computed():
    # Training points on a line at 0, 1, 3: leave-one-out NN distances 1, 1, 2 -> scale 1.
    t = np.array([[0.0], [1.0], [3.0]])
    q = np.array([[0.0], [2.0], [10.0]])
    d_tt = setwise.euclidean_distances(t, t)
    nn = setwise.nn_distance_ratio(setwise.euclidean_distances(q, t), d_tt)
    assert nn.scale == 1.0
    np.testing.assert_allclose(nn.ratio, [0.0, 1.0, 7.0])
    np.testing.assert_array_equal(nn.nn_index, [0, 1, 2])
    np.testing.assert_allclose(nn.train_ratio, [1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="is 0"):
        setwise.nn_distance_ratio(np.zeros((1, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not match"):
        setwise.nn_distance_ratio(np.zeros((1, 3)), d_tt[:2, :2])


def test_frechet_self_zero_mean_shift_and_known_gaussians():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6))
    assert setwise.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.arange(6.0)
    # Same covariance: the distance is exactly |delta mu|^2, growing with the shift.
    for scale in (0.5, 1.0, 2.0):
        fd = setwise.frechet_distance(x, x + scale * shift)
        np.testing.assert_allclose(fd, scale**2 * np.sum(shift**2), rtol=1e-8)
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2 for sample moments.
    a, b = rng.standard_normal((50, 1)), 3.0 * rng.standard_normal((40, 1)) + 1.0
    sa, sb = np.std(a, ddof=1), np.std(b, ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + (sa - sb) ** 2
    np.testing.assert_allclose(setwise.frechet_distance(a, b), expected, rtol=1e-8)
    # Fewer vectors than dimensions (singular covariances) still gives a finite, zero self-distance.
    small = rng.standard_normal((10, 32))
    assert setwise.frechet_distance(small, small) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="differ"):
        setwise.frechet_distance(x, x[:, :3])


def test_frechet_reference_scale():
    rng = np.random.default_rng(2)
    real = rng.standard_normal((60, 4))
    same = setwise.frechet_with_reference(real, rng.standard_normal((50, 4)), rng, repeats=10)
    far = setwise.frechet_with_reference(real, rng.standard_normal((50, 4)) + 3.0, rng, 10)
    assert 0.5 < same["ratio"] < 2.0  # same distribution: like two halves of the real set
    assert far["ratio"] > 10.0 and far["real_vs_synth"] > 30.0  # 4 * 3^2 = 36
    assert same["half_size"] == 30


def test_classifier_test_on_gaussians():
    rng = np.random.default_rng(3)
    same = two_sample.classifier_test(rng.standard_normal((60, 5)), rng.standard_normal((40, 5)))
    assert abs(same["balanced_accuracy"]["mean"] - 0.5) < 0.15
    assert same["majority_baseline"] == 0.6 and same["n_folds"] == 20
    sep = two_sample.classifier_test(
        rng.standard_normal((60, 5)), rng.standard_normal((40, 5)) + 2.0
    )
    assert sep["balanced_accuracy"]["mean"] > 0.95 and sep["accuracy"]["std"] < 0.1


def test_copies_of_training_sounds_are_flagged_as_memorised(anomaly):
    waves, sr = anomaly
    train = np.zeros(len(waves), bool)
    train[::2] = True
    rng = np.random.default_rng(4)
    picks = rng.choice(np.flatnonzero(train), 20)
    copies = [waves[i][:1999].copy() for i in picks]
    report = setwise.class_similarity(
        copies, waves, sr, train_mask=train, seed=0, repeats=setwise.Repeats(cv=1, fd=5)
    )
    for name in ("xcorr", "log_mel"):
        memo = report["memorisation"]["train"][name]
        assert memo["ratio"]["max"] < 1e-6, name
        assert memo["fraction_below_0.5"] == 1.0
        assert memo["train_loo_ratio"]["median"] == pytest.approx(1.0)
    assert report["best_match_abs_xcorr"]["min"] > 1 - 1e-9
    np.testing.assert_array_equal(np.array(report["best_index"]), picks)
    # Copies of real sounds are indistinguishable from real sounds.
    assert report["two_sample_log_mel"]["balanced_accuracy"]["mean"] < 0.65
    fd = report["frechet_log_mel"]
    assert fd["ratio"] < 2.0


def test_noise_is_separable_and_far(anomaly):
    waves, sr = anomaly
    rng = np.random.default_rng(5)
    noise = [0.1 * rng.standard_normal(1999).astype(np.float32) for _ in range(30)]
    report = setwise.class_similarity(
        noise, waves, sr, seed=0, repeats=setwise.Repeats(cv=1, fd=5)
    )
    assert report["two_sample_log_mel"]["balanced_accuracy"]["mean"] > 0.95
    assert report["frechet_log_mel"]["ratio"] > 5.0
    assert report["memorisation"]["all_real"]["xcorr"]["ratio"]["min"] > 0.5
    assert report["best_match_abs_xcorr"]["max"] < report["real_loo_best_match_abs_xcorr"]["max"]
    # Cross-check one best match with the pairwise function.
    i = report["best_index"][0]
    xc = pairwise.xcorr_coeff(noise[0], waves[i], sr)
    np.testing.assert_allclose(report["best_peak"][0], xc.peak, atol=1e-9)


def _write_synth_dir(root, waves, sr, picks, rng):
    """Half exact copies of real sounds ('copy'), half heavily noised copies ('noisy')."""
    rows = ["class,file,mode,source_split,source_file"]
    for k, i in enumerate(picks):
        x = waves[i][:1999].copy()
        mode = "copy" if k % 2 == 0 else "noisy"
        if mode == "noisy":
            x = x + 0.5 * np.std(x) * rng.standard_normal(1999).astype(np.float32)
        data.write_wav(str(root / "anomaly" / f"{k:03d}.wav"), x, sr)
        rows.append(f"anomaly,anomaly/{k:03d}.wav,{mode},test,/data/anomaly/fault_{i + 1}.wav")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")


def test_build_report_on_copies(tmp_path, anomaly):
    import json

    from drill_jax.similarity import report as similarity_report

    waves, sr = anomaly
    ds = data.load_dataset(classes=["anomaly"])
    assert [p.split("/")[-1] for p in ds.paths[:3]] == ["fault_1.wav", "fault_2.wav", "fault_3.wav"]
    synth = tmp_path / "synth"
    picks = np.arange(1, 21, 2)  # held-out (odd) sounds, as the paper's code decoded
    _write_synth_dir(synth, waves, sr, picks, np.random.default_rng(6))
    (synth / "anomaly" / "999.wav").write_bytes(b"not a wav")
    with pytest.raises(data.AudioError, match="999.wav"):
        similarity_report.build_report(str(synth), ds, str(tmp_path / "out"))
    out = tmp_path / "out"
    config = similarity_report.ReportConfig(
        skip_bad=True,
        repeats=setwise.Repeats(cv=1, fd=3),
        null_pairs=40,
        realism=realism.RealismConfig(cv_repeats=1, n_permutations=199),
    )
    report = similarity_report.build_report(str(synth), ds, str(out), config=config)
    assert len(report["skipped_synth_files"]) == 1
    assert set(report["groups"]) == {"anomaly", "anomaly/copy", "anomaly/noisy"}
    copy = report["groups"]["anomaly/copy"]
    # Copies of held-out sounds: novel w.r.t. the training half, copies w.r.t. all real sounds.
    assert copy["memorisation"]["all_real"]["xcorr"]["ratio"]["max"] < 1e-6
    assert copy["memorisation"]["train"]["xcorr"]["ratio"]["median"] > 0.3
    assert copy["source"]["best_match_is_source"] == 1.0
    assert report["groups"]["anomaly"]["source"]["num_with_source"] == 10
    noisy = report["groups"]["anomaly/noisy"]
    assert 0.85 < noisy["best_match_abs_xcorr"]["median"] < 0.95  # 1 / sqrt(1 + 0.5^2) = 0.894
    null = report["coherence_null_white_noise"]
    assert 0.08 < null["mean_coherence"]["median"] < 0.2  # ~1/segments for unrelated signals
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["groups"]["anomaly"]["num_synth"] == 10
    # four tables, the held-out scoreboard (a row per group), realism (two rows per group)
    assert (out / "report.md").read_text().count("\n| anomaly") == 12 + 3 + 6
    held = on_disk["groups"]["anomaly"]["realism"]
    assert (held["num_train"], held["num_heldout"], held["num_synth"]) == (34, 33, 10)
    assert [r["group"] for r in on_disk["realism"]["rows"]] == list(on_disk["groups"])
    # the scoreboard: one row per group; exact copies of real sounds pass the multi-frame test
    board = {r["group"]: r for r in on_disk["scoreboard"]}
    assert set(board) == {"anomaly", "anomaly/copy", "anomaly/noisy"}
    assert board["anomaly/copy"]["two_sample_multiframe"] < 0.8
    assert not board["anomaly"]["trained_on_scorer_feature"]
    assert board["anomaly/noisy"]["heldout_one_frame"] > board["anomaly/copy"]["heldout_one_frame"]
    assert len((out / "best_matches.csv").read_text().splitlines()) == 11
    assert len(report["figures"]) == 4  # real vs synth, then the best pair's three
    for rel in report["figures"]:
        assert (out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_files(tmp_path, anomaly):
    from drill_jax.similarity import report as similarity_report

    waves, sr = anomaly
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    data.write_wav(str(a), waves[0], sr)
    data.write_wav(str(b), -waves[0][:1500], sr)
    result = similarity_report.compare_files(str(a), str(b), str(tmp_path / "pair"))
    assert result["xcorr_peak"] < -0.999 and result["xcorr_peak_lag_samples"] == 0
    assert result["length"] == 1500
    assert (tmp_path / "pair" / "pair.json").exists() and len(result["figures"]) == 3
    data.write_wav(str(b), waves[0], sr // 2)
    with pytest.raises(data.AudioError, match="sample rate"):
        similarity_report.compare_files(str(a), str(b), str(tmp_path / "pair2"))


def test_spectral_shape_removes_a_gain_change(anomaly):
    waves, sr = anomaly
    loud = setwise.log_mel_vectors(waves[:20], sr)
    quiet = setwise.log_mel_vectors([0.1 * w for w in waves[:20]], sr)
    assert loud.shape == (20, 32)
    # -20 dB in every band (bands clipped at the clip's max - 80 dB move with it too).
    np.testing.assert_allclose(quiet - loud, -20.0, atol=0.05)
    np.testing.assert_allclose(
        setwise.spectral_shape(quiet), setwise.spectral_shape(loud), atol=0.05
    )
    assert setwise.frechet_distance(loud, quiet) == pytest.approx(32 * 400, rel=0.01)
    with pytest.raises(ValueError, match="n_mels"):
        setwise.spectral_shape(np.ones(3))
