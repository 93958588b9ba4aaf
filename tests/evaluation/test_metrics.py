"""Tests for drill_jax.evaluation.metrics: hand-computed values on small inputs."""

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from drill_jax.evaluation import metrics

NAMES = ("anomaly", "normal")


def _proba(p0):
    p0 = np.asarray(p0, dtype=np.float64)
    return np.stack([p0, 1.0 - p0], axis=1)


def test_report_hand_computed():
    # Predictions (argmax): [0, 1, 0, 1, 1] against truth [0, 0, 1, 1, 1].
    y = np.array([0, 0, 1, 1, 1])
    rep = metrics.classification_report(y, _proba([0.9, 0.4, 0.6, 0.2, 0.1]), NAMES)
    assert rep["n"] == 5
    assert rep["accuracy"] == pytest.approx(3 / 5)
    # class 0: TP 1, FP 1, FN 1; class 1: TP 2, FP 1, FN 1.
    assert rep["precision/anomaly"] == pytest.approx(0.5)
    assert rep["recall/anomaly"] == pytest.approx(0.5)
    assert rep["f1/anomaly"] == pytest.approx(0.5)
    assert rep["precision/normal"] == pytest.approx(2 / 3)
    assert rep["recall/normal"] == pytest.approx(2 / 3)
    assert rep["f1/normal"] == pytest.approx(2 / 3)
    assert rep["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert rep["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert rep["confusion_matrix"] == [[1, 1], [1, 2]]
    assert rep["support/anomaly"] == 2 and rep["support/normal"] == 3
    # Positive = anomaly (index 0): positives score {0.9, 0.4}, negatives {0.6, 0.2, 0.1};
    # 5 of the 6 (pos, neg) pairs are ranked correctly.
    assert rep["roc_auc"] == pytest.approx(5 / 6)
    assert rep["positive_class"] == "anomaly"


def test_four_point_auc_by_hand_and_positive_index():
    y = np.array([0, 1, 0, 1])
    proba = _proba([0.8, 0.3, 0.35, 0.5])
    # Positive 0: pos {0.8, 0.35} vs neg {0.3, 0.5}: pairs won 2 + 1 of 4.
    assert metrics.roc_auc(y, proba, positive_index=0) == pytest.approx(3 / 4)
    # Positive 1 scores proba[:, 1] = 1 - p0: the same ranking seen from the other class.
    assert metrics.roc_auc(y, proba, positive_index=1) == pytest.approx(3 / 4)
    # A tie counts one half: pos {0.5, 0.9} vs neg {0.5, 0.1} -> (0.5 + 1 + 1 + 1) / 4.
    assert metrics.roc_auc(y, _proba([0.5, 0.5, 0.9, 0.1]), 0) == pytest.approx(3.5 / 4)


def test_auc_single_class_is_nan_and_multiclass_matches_sklearn():
    assert math.isnan(metrics.roc_auc(np.array([1, 1]), _proba([0.2, 0.7])))
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    p = rng.dirichlet(np.ones(3), size=30)
    rep = metrics.classification_report(y, p, ("a", "b", "c"))
    assert rep["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    assert np.sum(rep["confusion_matrix"]) == 30


def test_pauc_is_mcclish_standardised():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    assert metrics.pauc(y, s, 0.1) == pytest.approx(skm.roc_auc_score(y, s, max_fpr=0.1))
    assert metrics.pauc(y, y.astype(float), 0.1) == pytest.approx(1.0)
    assert metrics.pauc(y, s, 1.0) == pytest.approx(skm.roc_auc_score(y, s))


def test_mean_ci_known_numbers():
    out = metrics.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    t = 2.7764451051977987  # t_{0.975, 4}
    half = t * math.sqrt(2.5) / math.sqrt(5)
    assert out["mean"] == pytest.approx(3.0)
    assert out["std"] == pytest.approx(math.sqrt(2.5))
    assert out["ci_low"] == pytest.approx(3.0 - half)
    assert out["ci_high"] == pytest.approx(3.0 + half)
    assert out["n"] == 5 and out["n_nan"] == 0
    # Nadeau-Bengio: variance factor 1/n + n_test/n_train.
    nb = metrics.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], test_train_ratio=0.25)
    assert nb["ci_high"] - 3.0 == pytest.approx(t * math.sqrt(2.5) * math.sqrt(0.2 + 0.25))


def test_summarize_folds():
    y = np.array([0, 0, 1, 1])
    reports = [
        metrics.classification_report(y, _proba([0.9, 0.8, 0.1, 0.2]), NAMES),  # perfect
        metrics.classification_report(y, _proba([0.9, 0.2, 0.1, 0.2]), NAMES),  # 3 / 4
        metrics.classification_report(y, _proba([0.1, 0.2, 0.9, 0.8]), NAMES),  # all wrong
    ]
    s = metrics.summarize_folds(reports)
    assert s["n_folds"] == 3 and s["n_total"] == 12
    acc = s["metrics"]["accuracy"]
    assert acc["mean"] == pytest.approx(np.mean([1.0, 0.75, 0.0]))
    assert acc["std"] == pytest.approx(np.std([1.0, 0.75, 0.0], ddof=1))
    assert acc["ci_low"] < acc["mean"] < acc["ci_high"]
    assert "f1/anomaly" in s["metrics"] and "roc_auc" in s["metrics"]
    assert "n" not in s["metrics"] and "support/normal" not in s["metrics"]
    # [[2, 0], [0, 2]] + [[1, 1], [0, 2]] + [[0, 2], [2, 0]]
    assert s["confusion_matrix_sum"] == [[3, 3], [2, 4]]


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="columns"):
        metrics.classification_report(np.array([0, 1]), np.ones((2, 3)) / 3, NAMES)
    with pytest.raises(ValueError, match="y_true values"):
        metrics.classification_report(np.array([0, 2]), _proba([0.5, 0.5]), NAMES)
    with pytest.raises(ValueError, match="at least one"):
        metrics.summarize_folds([])
