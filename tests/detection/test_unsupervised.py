"""Label-free detectors: the VAE model's scores, the waveform VAE detector, honest folds."""

import dataclasses

import numpy as np
import pytest

from drill_jax import data, features
from drill_jax.classify import classical
from drill_jax.detection import build, honest, scoring, unsupervised
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.models import clip_classical, vae
from drill_jax.vae import trainer

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

# Tiny VAEs: over the 32 log-Mel bands, and over 256 samples (two stride-8 stages).
_NET = dataclasses.replace(vae.LOGMEL_VAE.network, enc_features=(8, 8), dec_features=(8, 8))
TINY = vae.Config(vae=dataclasses.replace(vae.LOGMEL_VAE, epochs=15, network=_NET))
TINY_WAVE_VAE = trainer.VAEConfig(
    network=trainer.NetworkConfig(
        input_length=256,  # reads the first 256 samples of each 2000-sample clip
        enc_features=(4, 4),
        dec_features=(4, 4),
        strides=(8, 8),
    ),
    loss=trainer.LossConfig(recon="mse"),
    epochs=1,
)
SETTINGS = features.FeatureSettings(sample_rate=96000)
TRAIN = build.TrainConfig(clip_samples=2000, threshold_rule="percentile")


def _sounds(rng, n, kind):
    """'normal': quiet 3 kHz tones (random phase); 'abnormal': loud broadband noise. [n, 2000]"""
    t = np.arange(2000) / 96000
    if kind == "normal":
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        x = 0.1 * np.sin(2 * np.pi * 3000 * t[None] + phase) + 0.005 * rng.normal(size=(n, 2000))
    else:
        x = 0.6 * rng.uniform(-1, 1, (n, 2000))
    return x.astype(np.float32)


def _dataset(rng, n_normal, n_anomaly):
    waves = list(_sounds(rng, n_anomaly, "abnormal")) + list(_sounds(rng, n_normal, "normal"))
    labels = np.repeat([0, 1], [n_anomaly, n_normal])
    return data.Dataset.from_arrays(waves, labels, ("anomaly", "normal"), 96000)


@pytest.fixture(scope="module")
def tiny_detector():
    rng = np.random.default_rng(0)
    det = build.train(_dataset(rng, 24, 0), "vae", TINY, SETTINGS, TRAIN)
    return det, rng


def test_vae_ranks_abnormal_higher_with_both_scores(tiny_detector):
    det, rng = tiny_detector
    normal, abnormal = _sounds(rng, 8, "normal"), _sounds(rng, 8, "abnormal")
    for score in vae.SCORES:
        d = dataclasses.replace(
            det, model_config=dataclasses.replace(det.model_config, score=score)
        )
        s_n, s_a = scoring.score_clips(d, normal), scoring.score_clips(d, abnormal)
        assert s_a.min() > s_n.max(), score
    # the threshold (90th percentile of held-out normal recordings) passes most new normals
    assert np.mean(scoring.score_clips(det, normal) >= det.threshold) <= 0.5
    assert np.all(scoring.score_clips(det, abnormal) >= det.threshold)
    assert det.info["n_train_sounds"] == 18  # 6 of 24 normal recordings held out


def test_vae_scores_deterministic_and_batch_independent(tiny_detector):
    det, rng = tiny_detector
    x = _sounds(rng, 10, "normal")
    whole = scoring.score_clips(det, x)
    parts = np.concatenate([scoring.score_clips(det, x[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(whole, parts, rtol=1e-5)


def test_save_waveform_detector_from_a_vae_config(tmp_path):
    """experiments.vae --save_detector: the VAE config trained on normal sounds only, saved."""
    ds = _dataset(np.random.default_rng(4), 8, 8)
    path = unsupervised.save_waveform_detector(ds, TINY_WAVE_VAE, str(tmp_path / "det"))
    det = detector_lib.load_detector(path, sample_rate=96000)
    assert det.kind == "unsupervised" and det.class_names == ("anomaly", "normal")
    assert det.model_config.input_repr == "waveform"
    assert det.info["source"].startswith("experiments.vae")
    assert det.info["n_train_sounds"] == 6  # normal only, 2 of 8 held out for thresholds
    scores = scoring.score_clips(det, np.stack(ds.waveforms))
    assert scores.shape == (16,) and np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="no class"):
        unsupervised.save_waveform_detector(ds, TINY_WAVE_VAE, str(tmp_path / "x"), "healthy")


def test_honest_protocol_trains_label_free_models_on_training_normals_only(monkeypatch):
    ds = _dataset(np.random.default_rng(1), 8, 8)
    seen = []
    real_train = build.train

    def spy(fit_ds, model, *args, **kw):
        seen.append((model, {int(p.split(":")[1].rstrip(">")) for p in fit_ds.paths}))
        return real_train(fit_ds, model, *args, **kw)

    monkeypatch.setattr(build, "train", spy)
    models = ("zscore", "ensemble", "clip_classical")
    cfg = honest.HonestConfig(n_splits=2, n_repeats=1, models=models)
    train = build.TrainConfig(threshold_rule="percentile")
    quick = {"clip_classical": clip_classical.Config(recipes=(classical.Recipe("shape", "lr"),))}
    out = honest.evaluate_honest(ds, SETTINGS, quick, train, cfg)
    splits = data.repeated_stratified_kfold(ds.labels, 2, 1, 0, ds.groups)
    assert len(seen) == 3 * len(splits) == 3 * len(out["folds"])
    for k, (tr, te) in enumerate(splits):
        for _, used in seen[3 * k : 3 * k + 3]:
            assert used == set(tr.tolist()) and not used & set(te.tolist())
    for fold in out["folds"]:
        assert fold["n_test"] == 8 and fold["n_test_anomaly"] == 4
        for name in models:
            assert fold[name]["roc_auc"] == 1.0, name
    assert "McClish" in out["pauc_definition"]
    assert set(out["summary"]) == set(models)
    assert "zscore" in honest.summary_text(out)
