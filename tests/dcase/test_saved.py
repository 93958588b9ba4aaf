"""Saved DCASE detectors: what the code writes now loads back (nested schedules, input and
loss parts, the reconstruction of the three-score fusion); configs written before those parts
existed fail with one line."""

import json

import numpy as np
import pytest

from drill_jax import data, features, training
from drill_jax.asd import features as asd_features
from drill_jax.asd import outlier
from drill_jax.detection import build, registry, scoring
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.models import dcase_ae, dcase_oe


def test_dcase_configs_round_trip_through_json():
    for name, config in (
        ("dcase_oe", dcase_oe.Config(outlier.OEConfig(
            outlier.InputConfig(window_frames=16), train=training.Schedule(epochs=3),
            loss=outlier.LossConfig(margin=0.1), fusion="none"))),
        ("dcase_oe", dcase_oe.Config(outlier.OEConfig(fusion="stats", components=4))),
        ("dcase_ae", dcase_ae.Config(score="mahalanobis")),
    ):
        text = json.dumps(registry.config_to_json(config))
        assert registry.config_from_json(name, json.loads(text)) == config


def test_a_config_of_the_older_flat_layout_is_a_one_line_error():
    old = registry.config_to_json(dcase_oe.Config())
    for part in ("inputs", "train", "loss", "fusion"):
        del old["oe"][part]
    old["oe"].update(steps=1000, batch_size=64, learning_rate=1e-3, window_frames=64)
    with pytest.raises(ValueError) as err:
        registry.config_from_json("dcase_oe", old)
    assert "\n" not in str(err.value) and "steps" in str(err.value)


def test_a_dcase_oe_with_the_reconstruction_saves_loads_and_scores_the_same(tmp_path):
    rate, rng = 16000, np.random.default_rng(0)
    t = np.arange(4000) / rate
    waves = [np.sin(2 * np.pi * (300 + 40 * (i % 3)) * t) + 0.1 * rng.normal(size=4000)
             for i in range(12)]
    sounds = data.Dataset.from_arrays(waves, np.zeros(12, int), ("normal",), rate)
    config = dcase_oe.Config(outlier.OEConfig(
        outlier.InputConfig(asd_features.LogMelConfig(n_mels=16), window_frames=8,
                            eval_hop_frames=4, spectrum_fft=256),
        width=8, embedding_dim=8, train=training.Schedule(epochs=1), components=3,
        fusion="stats+reconstruction"))
    settings = features.FeatureSettings(sample_rate=rate, band_hz=None)
    det = build.train(sounds, "dcase_oe", config, settings, build.TrainConfig(clip_samples=2000))
    pca, norms = det.variables["pca"], det.variables["norms"]
    assert pca["basis"].shape == (5 * 16, 3) and norms.shape == (3, 2)
    # its own threshold rule (a normal fit: the fused score has no lower bound), unless the
    # training config names one; models without a rule of their own keep the gamma fit
    fits = det.info["thresholds"]
    assert fits["window_fit"]["rule"] == fits["file_fit"]["rule"] == "normal"
    assert det.threshold_rule.startswith("normal 0.9 quantile of the window scores")
    assert registry.threshold_rule("zscore") == "gamma"
    other = build.train(sounds, "dcase_oe", config, settings,
                        build.TrainConfig(clip_samples=2000, threshold_rule="percentile"))
    assert other.info["thresholds"]["window_fit"]["rule"] == "percentile"
    clips = np.stack([w[:2000] for w in waves])
    detector_lib.save_detector(str(tmp_path / "oe"), det)
    loaded = detector_lib.load_detector(str(tmp_path / "oe"), sample_rate=rate)
    assert loaded.model_config == config
    np.testing.assert_allclose(scoring.score_clips(loaded, clips),
                               scoring.score_clips(det, clips), rtol=1e-6)
    del loaded.variables["pca"]
    with pytest.raises(ValueError, match="expected arrays"):
        registry.get("dcase_oe").check(config, settings, loaded.variables, "here")
