"""Tests for drill_jax.detection.supervised: a trained jax_cnn saved as a detector."""

import numpy as np
import pytest

from drill_jax.classify import cnn, registry
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import scoring, supervised
from drill_jax.evaluation import pipeline, protocols
from tests.toys import toy_dataset as _toy_dataset

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time


def test_save_supervised_detector_round_trip(tmp_path):
    ds = _toy_dataset(n_per_class=8)
    result = pipeline.run_classification(
        ds, protocols.ProtocolConfig(n_splits=2, n_repeats=1), registry.DetectorConfig("logreg")
    )
    path = supervised.save_supervised_detector(ds, result, str(tmp_path / "det"), crop=2000)
    det = detector_lib.load_detector(path, sample_rate=96000)
    assert det.kind == "supervised" and det.class_names == ("anomaly", "normal")
    assert (
        det.metrics["evaluation_mean"]["accuracy"]
        == result["summary"]["metrics"]["accuracy"]["mean"]
    )
    clips = np.stack([w[:2000] for w in ds.waveforms])
    scores = scoring.score_clips(det, clips)
    assert scores.shape == (16,) and np.all((scores >= 0) & (scores <= 1))
    with pytest.raises(ValueError, match="48000"):
        detector_lib.load_detector(path, sample_rate=48000)


def test_loose_array_entry_points_train_registry_models():
    ds = _toy_dataset(n_per_class=6)
    tiny = cnn.ClassifierConfig(epochs=1, conv_features=(4,), hidden=8)
    det = supervised.train_supervised_detector(
        ds.waveforms, ds.labels, ds.class_names, ds.sample_rate, clip_samples=2000, config=tiny
    )
    assert det.model == "jax_cnn" and det.settings.clip_samples == 2000
    assert det.model_config.hidden == 8 and det.anomaly_class == "anomaly"
