"""Tests for drill_jax.detection.unsupervised and .honest: gamma threshold, VAE scores,
save/load, honest folds."""

import dataclasses

import jax
import numpy as np
import pytest
import scipy.stats

from drill_jax import data
from drill_jax.classify import classical
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import honest, labelfree, scoring, unsupervised
from drill_jax.vae import trainer

# Tiny VAEs: over the 32 log-Mel bands, and over 256 samples (two stride-8 stages).
TINY_LOGMEL_VAE = dataclasses.replace(
    unsupervised.LOGMEL_VAE,
    epochs=15,
    network=dataclasses.replace(
        unsupervised.LOGMEL_VAE.network, enc_features=(8, 8), dec_features=(8, 8)
    ),
)
TINY = unsupervised.AnomalyConfig(
    clip_samples=2000, vae=TINY_LOGMEL_VAE, threshold_rule="percentile"
)
TINY_WAVE = unsupervised.AnomalyConfig(
    input_repr="waveform",
    clip_samples=2000,
    vae=trainer.VAEConfig(
        network=trainer.NetworkConfig(
            input_length=256,  # reads the first 256 samples of each 2000-sample clip
            enc_features=(4, 4),
            dec_features=(4, 4),
            strides=(8, 8),
        ),
        loss=trainer.LossConfig(recon="mse"),
        epochs=1,
    ),
)


def _sounds(rng, n, kind):
    """'normal': quiet 3 kHz tones (random phase); 'abnormal': loud broadband noise. [n, 2000]"""
    t = np.arange(2000) / 96000
    if kind == "normal":
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        x = 0.1 * np.sin(2 * np.pi * 3000 * t[None] + phase) + 0.005 * rng.normal(size=(n, 2000))
    else:
        x = 0.6 * rng.uniform(-1, 1, (n, 2000))
    return x.astype(np.float32)


def test_gamma_threshold_recovers_known_quantile():
    rng = np.random.default_rng(0)
    s = scipy.stats.gamma.rvs(4.0, loc=10.0, scale=2.0, size=4000, random_state=rng)
    thr, info = unsupervised.gamma_threshold(s, 0.9)
    want = scipy.stats.gamma.ppf(0.9, 4.0, loc=10.0, scale=2.0)
    assert thr == pytest.approx(want, rel=0.02)
    assert info["rule"] == "gamma" and info["shape"] > 0
    thr_p, _ = unsupervised.percentile_threshold(s, 0.9)
    assert thr_p == pytest.approx(np.quantile(s, 0.9))
    assert abs(np.mean(s >= thr) - 0.1) < 0.02  # ~10 % of normal scores above it


def test_threshold_fallback_and_validation():
    thr, info = unsupervised.choose_threshold(np.full(10, 3.0), "gamma", 0.9)
    assert thr == 3.0 and info["fallback_from"] == "gamma"
    with pytest.raises(ValueError, match="finite"):
        unsupervised.gamma_threshold(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="quantile"):
        unsupervised.AnomalyConfig(quantile=1.5)


@pytest.fixture(scope="module")
def tiny_detector():
    rng = np.random.default_rng(0)
    normal = _sounds(rng, 24, "normal")
    det = unsupervised.train_unsupervised_detector(list(normal), 96000, TINY, jax.random.key(0))
    return det, rng


def test_vae_ranks_abnormal_higher(tiny_detector):
    det, rng = tiny_detector
    normal, abnormal = _sounds(rng, 8, "normal"), _sounds(rng, 8, "abnormal")
    for score in scoring.SCORES:
        d = dataclasses.replace(det, score_name=score)
        s_n, s_a = scoring.score_clips(d, normal), scoring.score_clips(d, abnormal)
        assert s_a.min() > s_n.max(), score
    # the threshold (90th percentile of training scores) passes most held-out normal sounds
    assert np.mean(scoring.score_clips(det, normal) >= det.threshold) <= 0.5
    assert np.all(scoring.score_clips(det, abnormal) >= det.threshold)


def test_vae_scores_deterministic_and_batch_independent(tiny_detector):
    det, rng = tiny_detector
    x = _sounds(rng, 10, "normal")
    whole = scoring.score_clips(det, x)
    parts = np.concatenate([scoring.score_clips(det, x[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(whole, parts, rtol=1e-5)


@pytest.mark.parametrize("which", ["logmel", "waveform"])
def test_unsupervised_round_trip(which, tiny_detector, tmp_path):
    _, rng = tiny_detector
    if which == "logmel":
        det = tiny_detector[0]
    else:
        det = unsupervised.train_unsupervised_detector(
            list(_sounds(rng, 8, "normal")), 96000, TINY_WAVE, jax.random.key(1)
        )
    detector_lib.save_detector(str(tmp_path / "vae"), det)
    loaded = detector_lib.load_detector(str(tmp_path / "vae"), sample_rate=96000)
    x = np.concatenate([_sounds(rng, 3, "normal"), _sounds(rng, 3, "abnormal")])
    np.testing.assert_allclose(
        scoring.score_clips(loaded, x), scoring.score_clips(det, x), rtol=1e-6
    )
    assert loaded.model_config == det.model_config and loaded.kind == "unsupervised"
    assert loaded.input_repr == which
    assert loaded.threshold == det.threshold and loaded.score_name == "neg_elbo"


def test_honest_protocol_trains_vae_on_training_normals_only(monkeypatch):
    rng = np.random.default_rng(1)
    waves = list(_sounds(rng, 8, "abnormal")) + list(_sounds(rng, 8, "normal"))
    ds = data.Dataset(
        waveforms=tuple(waves),
        sample_rate=96000,
        labels=np.repeat([0, 1], 8),
        class_names=("anomaly", "normal"),
        paths=tuple(f"s{i}.wav" for i in range(16)),
        groups=np.arange(16),
        starts=np.zeros(16, np.int64),
    )
    seen = []
    real_train = unsupervised.train_unsupervised_detector

    def spy(normal_waveforms, *args, **kw):
        seen.append({id_of(w) for w in normal_waveforms})
        return real_train(normal_waveforms, *args, **kw)

    def id_of(w):
        return next(i for i, v in enumerate(waves) if np.array_equal(v[:2000], w[:2000]))

    monkeypatch.setattr(unsupervised, "train_unsupervised_detector", spy)
    out = honest.evaluate_honest(
        ds,
        TINY,
        n_splits=2,
        n_repeats=1,
        seed=0,
        supervised=None,
        classical_recipes=(classical.Recipe("logmel", "lr"),),
    )
    splits = data.repeated_stratified_kfold(ds.labels, 2, 1, 0, ds.groups)
    assert len(seen) == len(out["folds"]) == 2
    for used, (tr, te) in zip(seen, splits):
        assert used == {i for i in tr if ds.labels[i] == 1}  # training-fold normals only
        assert not used & set(te)
    for fold in out["folds"]:
        assert fold["n_test"] == 8 and fold["n_test_anomaly"] == 4
        assert fold["vae"]["roc_auc"] == 1.0 and fold["vae"]["pauc"] == 1.0
        # The label-free scorers and the classical detector are scored on the same folds.
        for name in labelfree.SCORERS:
            assert 0.0 <= fold[f"labelfree_{name}"]["roc_auc"] <= 1.0
        assert fold["clip_classical_supervised"]["roc_auc"] == 1.0
    assert "McClish" in out["pauc_definition"]
    assert out["summary"]["vae"]["roc_auc"]["mean"] == 1.0


def test_save_waveform_detector_from_a_vae_config(tmp_path):
    """experiments.vae --save_detector: the VAE config trained on normal sounds only, saved."""
    rng = np.random.default_rng(4)
    waves = list(_sounds(rng, 8, "normal")) + list(_sounds(rng, 8, "abnormal"))
    ds = data.Dataset(
        waveforms=tuple(waves),
        sample_rate=96000,
        labels=np.array([1] * 8 + [0] * 8),
        class_names=("anomaly", "normal"),
        paths=tuple(f"/toy/{i}.wav" for i in range(16)),
        groups=np.arange(16),
        starts=np.zeros(16, np.int64),
    )
    path = unsupervised.save_waveform_detector(ds, TINY_WAVE.vae, str(tmp_path / "det"))
    det = detector_lib.load_detector(path, sample_rate=96000)
    assert det.kind == "unsupervised" and det.class_names == ("anomaly", "normal")
    info = det.info
    assert det.input_repr == "waveform" and info["source"].startswith("experiments.vae")
    assert info["n_train_normal_sounds"] + info["n_threshold_normal_sounds"] == 8  # normal only
    scores = scoring.score_clips(det, np.stack(waves))
    assert scores.shape == (16,) and np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="no class"):
        unsupervised.save_waveform_detector(ds, TINY_WAVE.vae, str(tmp_path / "x"), "healthy")
