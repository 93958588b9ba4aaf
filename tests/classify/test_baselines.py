"""Tests for drill_jax.classify.baselines: known values on the bundled data and synthetic sets."""

import numpy as np
import pytest

from drill_jax import data
from drill_jax.classify import baselines
from drill_jax.evaluation import metrics

NAMES = ("anomaly", "normal")


@pytest.fixture(scope="module")
def bundled():
    ds = data.load_dataset()
    return np.asarray(ds.labels), np.asarray(ds.lengths)


def test_clip_length_reproduces_76_percent_on_bundled_data(bundled):
    y, lengths = bundled
    fitted = baselines.fit_baseline("clip_length", None, y, lengths, n_classes=2)
    proba = baselines.baseline_proba(fitted, None, lengths)
    rep = metrics.classification_report(y, proba, NAMES)
    # anomaly = 46 x 2000 + 21 x 4000, normal = 11 x 2000 + 56 x 4000 samples.
    assert rep["accuracy"] == pytest.approx((46 + 56) / 134)
    assert rep["confusion_matrix"] == [[46, 21], [11, 56]]
    # Anomaly score = share of anomalies among training clips of that length.
    np.testing.assert_allclose(proba[lengths == 2000, 0], 46 / 57)
    np.testing.assert_allclose(proba[lengths == 4000, 0], 21 / 77)
    # AUC of a two-valued score: P(pos 2000 > neg 4000) + 0.5 P(tie).
    auc = (46 * 56 + 0.5 * (46 * 11 + 21 * 56)) / (67 * 67)
    assert rep["roc_auc"] == pytest.approx(auc)


def test_clip_length_unseen_length_gets_training_prior():
    y = np.array([0, 0, 1, 1, 1])
    lengths = np.array([10, 10, 20, 20, 10])
    fitted = baselines.fit_baseline("clip_length", None, y, lengths)
    proba = baselines.baseline_proba(fitted, None, np.array([10, 20, 30]))
    np.testing.assert_allclose(proba, [[2 / 3, 1 / 3], [0, 1], [2 / 5, 3 / 5]])


def test_majority_and_chance():
    y = np.array([1, 1, 1, 0])
    fitted = baselines.fit_baseline("majority", None, y, None)
    proba = baselines.baseline_proba(fitted, None, np.zeros(6, np.int64))
    assert proba.shape == (6, 2) and np.all(proba.argmax(1) == 1)
    np.testing.assert_allclose(proba[0], [0.25, 0.75])
    # A tie goes to the lowest class index.
    tie = baselines.fit_baseline("majority", None, np.array([0, 1]), None)
    assert baselines.baseline_proba(tie, None, np.zeros(3, np.int64)).argmax(1).tolist() == [0] * 3
    assert baselines.chance_level(2) == {"accuracy": 0.5, "balanced_accuracy": 0.5, "roc_auc": 0.5}
    assert baselines.chance_level(4)["accuracy"] == 0.25
    ch = baselines.fit_baseline("chance", None, y, None, seed=3)
    lengths = np.zeros(4000, np.int64)
    p1 = baselines.baseline_proba(ch, None, lengths)
    np.testing.assert_array_equal(p1, baselines.baseline_proba(ch, None, lengths))
    np.testing.assert_allclose(p1.sum(1), 1.0)
    # Random guessing: about half of the argmaxes are each class.
    assert abs(np.mean(p1.argmax(1) == 0) - 0.5) < 0.03


def test_logreg_beats_chance_on_separable_set():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    shift = np.where(y[:, None, None] == 1, 3.0, 0.0) * (np.arange(32) < 8)[None, None, :]
    X = (rng.normal(size=(80, 2, 32)) + shift - 50.0).astype(np.float32)
    train, test = np.arange(0, 80, 2), np.arange(1, 80, 2)
    fitted = baselines.fit_baseline("logreg", X[train], y[train], None, n_classes=2)
    proba = baselines.baseline_proba(fitted, X[test], None)
    rep = metrics.classification_report(y[test], proba, NAMES)
    assert rep["accuracy"] >= 0.95 and rep["roc_auc"] >= 0.99


def test_logreg_band_features_and_frame_count():
    clips = [np.full((1, 32), 1.0), np.array([np.full(32, 1.0), np.full(32, 3.0)])]
    feats = baselines.band_features(clips, include_frames=True)
    np.testing.assert_allclose(feats[:, :32], [[1.0] * 32, [2.0] * 32])
    np.testing.assert_allclose(feats[:, 32], [1, 2])
    # With the frame count, logreg learns a class that only the frame count reveals.
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 20)
    X = [rng.normal(size=(1 + int(c), 32)) for c in y]
    with_frames = baselines.fit_baseline("logreg", X, y, None, include_frames=True)
    acc = np.mean(baselines.baseline_proba(with_frames, X, None).argmax(1) == y)
    assert acc == 1.0


def test_unknown_name_and_bad_labels_raise():
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.fit_baseline("svm", None, np.array([0, 1]), None)
    with pytest.raises(ValueError, match="labels"):
        baselines.fit_baseline("majority", None, np.array([0.0, 1.0]), None)
    with pytest.raises(ValueError, match="lengths"):
        baselines.fit_baseline("clip_length", None, np.array([0, 1]), None)
