"""Every registered saved-detector model: trained (tiny), saved, loaded, the same scores."""

import dataclasses
import json
import os

import numpy as np
import pytest
import sklearn.covariance
import sklearn.metrics

from drill_jax import data, features, training
from drill_jax.classify import classical, cnn
from drill_jax.detection import build, labelfree, registry, scoring
from drill_jax.detection import detector as detector_lib
from drill_jax.asd import autoencoder, outlier
from drill_jax.asd import features as asd_features
from drill_jax.detection.models import clip_classical, dcase_ae, dcase_oe, vae

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

SR = 16000
# Tiny configs where a model's defaults take long; other models run with their defaults.
TINY = {
    "jax_cnn": cnn.ClassifierConfig(epochs=2, batch_size=8, conv_features=(4,), hidden=8),
    "clip_classical": clip_classical.Config(recipes=(classical.Recipe("shape", "lr"),)),
    "vae": vae.Config(
        vae=dataclasses.replace(
            vae.LOGMEL_VAE,
            epochs=1,
            network=dataclasses.replace(
                vae.LOGMEL_VAE.network, enc_features=(4, 4), dec_features=(4, 4)
            ),
        )
    ),
    "dcase_ae": dcase_ae.Config(
        ae=autoencoder.AEConfig(
            front_end=asd_features.LogMelConfig(n_mels=16),
            hidden=8,
            bottleneck=4,
            train=training.Schedule(epochs=2, batch_size=256),
        )
    ),
    "dcase_oe": dcase_oe.Config(
        oe=outlier.OEConfig(
            outlier.InputConfig(
                front_end=asd_features.LogMelConfig(n_mels=16),
                window_frames=8,
                eval_hop_frames=4,
                spectrum_fft=256,
            ),
            width=8,
            embedding_dim=8,
            train=training.Schedule(epochs=1),
        )
    ),
}


@pytest.fixture(scope="module")
def sounds():
    """12 normal (noise) and 8 anomaly (2 kHz tone in noise) sounds of 4000 samples."""
    rng = np.random.default_rng(0)
    t = np.arange(4000) / SR
    labels = np.array([0] * 8 + [1] * 12)
    waves = [
        (0.4 * np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.1 * rng.normal(size=4000)) for y in labels
    ]
    return data.Dataset.from_arrays(waves, labels, ("anomaly", "normal"), SR)


@pytest.mark.parametrize("name", sorted(registry.MODELS))
def test_every_model_trains_saves_loads_and_scores_the_same(name, sounds, tmp_path):
    module = registry.get(name)
    config = TINY.get(name, module.Config())
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0))
    det = build.train(sounds, name, config, settings, build.TrainConfig(clip_samples=2000))
    clips = np.stack([w[:2000] for w in sounds.waveforms])
    scores = scoring.score_clips(det, clips)
    assert scores.shape == (len(sounds),) and np.all(np.isfinite(scores))
    assert np.isfinite(det.threshold) and np.isfinite(det.file_threshold)
    detector_lib.save_detector(str(tmp_path / name), det)
    loaded = detector_lib.load_detector(str(tmp_path / name), sample_rate=SR)
    np.testing.assert_allclose(scoring.score_clips(loaded, clips), scores, rtol=1e-6)
    assert loaded.model_config == det.model_config and loaded.settings == det.settings
    assert (loaded.kind, loaded.threshold, loaded.file_threshold) == (
        module.KIND,
        det.threshold,
        det.file_threshold,
    )
    file_s, window_s, _, owner = scoring.file_scores(loaded, list(sounds.waveforms))
    np.testing.assert_allclose(file_s, [window_s[owner == i].mean() for i in range(len(sounds))])


def test_label_free_models_fit_on_normal_sounds_only(sounds):
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0))
    det = build.train(sounds, "zscore", registry.get("zscore").Config(), settings)
    # 12 normal recordings: 9 fitted, 3 held out for the thresholds; anomalies never seen
    assert det.info["n_train_sounds"] == 9 and det.info["thresholds"]["n_threshold_files"] == 3
    assert det.class_names == ("anomaly", "normal") and det.anomaly_class == "anomaly"


def test_unknown_model_is_a_one_line_error_listing_the_names():
    with pytest.raises(ValueError) as err:
        registry.get("nope")
    assert "\n" not in str(err.value) and "'zscore'" in str(err.value)
    kinds = {n: m.KIND for n, m in registry.MODELS.items()}
    assert {n for n, k in kinds.items() if k == "supervised"} == {"jax_cnn", "clip_classical"}
    assert set(kinds.values()) == set(registry.KINDS)


def test_model_configs_round_trip_through_json():
    for name, module in registry.MODELS.items():
        config = TINY.get(name, module.Config())
        text = json.dumps(registry.config_to_json(config))
        assert registry.config_from_json(name, json.loads(text)) == config, name
    with pytest.raises(ValueError, match="no fields"):
        registry.config_from_json("knn", {"k": 3, "colour": "red"})


def test_loading_checks_the_arrays_against_the_model(sounds, tmp_path):
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0))
    det = build.train(sounds, "knn", registry.get("knn").Config(), settings)
    path = str(tmp_path / "knn")
    detector_lib.save_detector(path, det)
    meta_path = os.path.join(path, detector_lib.META_FILE)
    meta = json.load(open(meta_path))
    meta["model_config"]["features"] = "shape"  # the stored arrays are of logmel64
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(ValueError, match="do not match"):
        detector_lib.load_detector(path)
    meta["model"] = "nope"
    json.dump(meta, open(meta_path, "w"))
    with pytest.raises(ValueError, match="unknown detector model 'nope'"):
        detector_lib.load_detector(path)


def test_ensemble_is_the_mean_of_its_standardised_members(sounds):
    """zscore on logmel64 and Mahalanobis (scikit-learn's) on shape, fitted on the normal
    sounds, each standardised by its median and 90th percentile there, then averaged."""
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0), clip_samples=4000)
    ensemble = registry.get("ensemble")
    normal = sounds.subset(np.flatnonzero(sounds.labels == 1))
    fitted = ensemble.fit(ensemble.Config(), normal, settings, None)
    clips = np.stack(sounds.waveforms)
    fit_rows = sounds.labels == 1
    raw = []
    for feats in ("logmel64", "shape"):
        x = labelfree.clip_features(feats, clips, settings)
        mean, std = x[fit_rows].mean(0), np.maximum(x[fit_rows].std(0), 1e-3)
        if feats == "logmel64":
            raw.append(np.mean(((x - mean) / std) ** 2, axis=1))
        else:
            lw = sklearn.covariance.LedoitWolf().fit((x[fit_rows] - mean) / std)
            raw.append(lw.mahalanobis((x - mean) / std))
    mid = [np.median(s[fit_rows]) for s in raw]
    want = np.mean(
        [(s - m) / (np.percentile(s[fit_rows], 90) - m) for s, m in zip(raw, mid)], axis=0
    )
    got = ensemble.score(fitted.config, settings, fitted.arrays, clips)
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert sklearn.metrics.roc_auc_score(~fit_rows, got) == 1.0


def test_ensemble_members_are_registered_label_free_models(sounds):
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0), clip_samples=4000)
    ensemble = registry.get("ensemble")
    for bad in ("nope", "vae", "ensemble"):
        config = ensemble.Config(members=("knn", bad), features=("shape", "shape"))
        with pytest.raises(ValueError) as err:
            ensemble.fit(config, sounds, settings, None)
        assert "\n" not in str(err.value) and repr(bad) in str(err.value)
        assert str(sorted(registry.label_free())) in str(err.value)
    assert sorted(registry.label_free()) == ["gmm", "knn", "mahalanobis", "zscore"]
    with pytest.raises(ValueError, match="unknown label-free feature set 'mfcc'"):
        ensemble.Config(members=("knn",), features=("mfcc",))
    config = ensemble.Config(members=("knn", "gmm"), features=("shape", "logmel64"))
    arrays = ensemble.fit(config, sounds, settings, None).arrays
    ensemble.check(config, settings, arrays, "here")
    swapped = dataclasses.replace(config, features=("logmel64", "shape"))
    with pytest.raises(ValueError, match=r"here \(member 0\): arrays do not match"):
        ensemble.check(swapped, settings, arrays, "here")
