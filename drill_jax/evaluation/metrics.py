"""Classification metrics (scikit-learn) and their summary over cross-validation folds.

Conventions
-----------
* ``proba`` is ``[N, C]`` class probabilities (rows sum to 1); the predicted class is
  ``argmax`` over a row, ties going to the lowest class index (``np.argmax``).
* Binary ROC-AUC scores ``proba[:, positive_index]`` against ``y_true == positive_index``.
  For the bundled Valmet data, ``class_names == ('anomaly', 'normal')`` and the positive
  class is **'anomaly' = index 0** (a detector of broken drill bits), so the default is
  ``positive_index=0``. With more than two classes ROC-AUC is the macro one-vs-rest AUC.
* Precision/recall/F1 of a class that is never predicted (or absent) are 0.0
  (scikit-learn ``zero_division=0``); ROC-AUC of a set with a single class is NaN.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Mapping, Optional, Sequence

import numpy as np
import scipy.stats
import sklearn.metrics as skm

# Keys of a report that are not scalar metrics (skipped by summarize_folds).
_NON_METRIC_KEYS = ("n", "confusion_matrix", "class_names", "positive_class", "positive_index")


def _check_inputs(y_true, proba, class_names) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    class_names = tuple(str(c) for c in class_names)
    if y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array, got shape {y_true.shape}")
    if not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"y_true must hold integer class indices, got dtype {y_true.dtype}")
    if proba.ndim != 2 or proba.shape[0] != y_true.size:
        raise ValueError(f"proba must be [N={y_true.size}, C], got shape {proba.shape}")
    if proba.shape[1] != len(class_names) or len(class_names) < 2:
        raise ValueError(
            f"proba has {proba.shape[1]} columns but {len(class_names)} class names given "
            "(need >= 2 classes)"
        )
    if not np.all(np.isfinite(proba)):
        raise ValueError("proba holds non-finite values")
    if y_true.min() < 0 or y_true.max() >= len(class_names):
        raise ValueError(
            f"y_true values must be in [0, {len(class_names)}), got {np.unique(y_true)}"
        )
    return y_true, proba, class_names


def roc_auc(y_true, proba, positive_index: int = 0) -> float:
    """ROC-AUC of ``proba [N, C]`` for integer labels ``y_true [N]``.

    Binary (C == 2): ``roc_auc_score(y_true == positive_index, proba[:, positive_index])``.
    C > 2: macro one-vs-rest AUC. NaN when ``y_true`` holds a single class.
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    n_classes = proba.shape[1]
    if np.unique(y_true).size < 2:
        return float("nan")
    if n_classes == 2:
        return float(skm.roc_auc_score(y_true == positive_index, proba[:, positive_index]))
    if np.unique(y_true).size < n_classes:
        return float("nan")
    return float(
        skm.roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=range(n_classes)
        )
    )


def classification_report(
    y_true, proba, class_names: Sequence[str], positive_index: int = 0
) -> dict:
    """All metrics of one evaluation.

    Args:
      y_true: [N] integer class indices.
      proba: [N, C] class probabilities (or any scores whose row argmax is the prediction).
      class_names: C names; per-class keys use them.
      positive_index: class scored by the binary ROC-AUC (bundled data: 0 = 'anomaly').

    Returns a JSON-serialisable dict with scalar metrics ``accuracy``, ``balanced_accuracy``,
    ``roc_auc``, ``macro_f1`` and, per class name ``c``, ``precision/c``, ``recall/c``,
    ``f1/c``, ``support/c``; plus ``n``, ``confusion_matrix`` (list of C lists of ints,
    rows = true class, columns = predicted class, in class-index order), ``class_names``,
    ``positive_class`` and ``positive_index``.
    """
    y_true, proba, class_names = _check_inputs(y_true, proba, class_names)
    n_classes = len(class_names)
    if not 0 <= positive_index < n_classes:
        raise ValueError(f"positive_index must be in [0, {n_classes}), got {positive_index}")
    y_pred = np.argmax(proba, axis=1)
    labels = list(range(n_classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    with warnings.catch_warnings():
        # A fold may lack a class; its recall is then undefined and sklearn warns.
        warnings.simplefilter("ignore", UserWarning)
        balanced = skm.balanced_accuracy_score(y_true, y_pred)
    report = {
        "n": int(y_true.size),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "roc_auc": roc_auc(y_true, proba, positive_index),
        "macro_f1": float(np.mean(f1)),
    }
    for i, name in enumerate(class_names):
        report[f"precision/{name}"] = float(precision[i])
        report[f"recall/{name}"] = float(recall[i])
        report[f"f1/{name}"] = float(f1[i])
        report[f"support/{name}"] = int(support[i])
    report["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    report["class_names"] = list(class_names)
    report["positive_class"] = class_names[positive_index]
    report["positive_index"] = int(positive_index)
    return report


def pauc(y_true, score, max_fpr: float = 0.1) -> float:
    """Partial ROC-AUC up to false-positive rate ``max_fpr``.

    ``y_true`` [N]: 1/True for the positive class (bundled data: anomaly); ``score`` [N]:
    higher = more positive. This is ``sklearn.metrics.roc_auc_score(max_fpr=max_fpr)``,
    which returns the McClish (1989) *standardised* partial AUC: 0.5 for a random score and
    1.0 for a perfect one (not the raw area, which would be at most ``max_fpr``).
    """
    y_true = np.asarray(y_true)
    score = np.asarray(score, dtype=np.float64)
    if y_true.ndim != 1 or score.shape != y_true.shape:
        raise ValueError(
            f"y_true and score must be 1-D of equal length, got {y_true.shape}, {score.shape}"
        )
    if not 0.0 < max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    if np.unique(y_true).size != 2:
        raise ValueError("pauc needs both classes in y_true")
    return float(skm.roc_auc_score(y_true, score, max_fpr=max_fpr))


def mean_ci(
    values: Sequence[float], confidence: float = 0.95, test_train_ratio: Optional[float] = None
) -> dict:
    """Mean, sample std (ddof=1) and a Student-t confidence interval over folds.

    CI = mean +- t_{(1+confidence)/2, n-1} * s * sqrt(1/n) with n = number of finite values.
    Fold scores of (repeated) k-fold CV are not independent, so this interval is optimistic.
    ``test_train_ratio = n_test / n_train`` switches to the Nadeau & Bengio (2003) corrected
    variance s^2 * (1/n + n_test/n_train), which widens it. Non-finite values (e.g. ROC-AUC of
    a one-class fold) are dropped and counted in ``n_nan``. With n < 2 the std and CI are NaN.

    Returns {"mean", "std", "ci_low", "ci_high", "n", "n_nan"}.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if test_train_ratio is not None and test_train_ratio <= 0:
        raise ValueError(f"test_train_ratio must be > 0, got {test_train_ratio}")
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    nan = float("nan")
    mean = float(np.mean(finite)) if n else nan
    if n < 2:
        return {
            "mean": mean,
            "std": nan,
            "ci_low": nan,
            "ci_high": nan,
            "n": n,
            "n_nan": int(values.size - n),
        }
    std = float(np.std(finite, ddof=1))
    scale = 1.0 / n + (test_train_ratio or 0.0)
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2.0, df=n - 1)) * std * math.sqrt(scale)
    return {
        "mean": mean,
        "std": std,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "n": n,
        "n_nan": int(values.size - n),
    }


def _is_scalar(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def summarize_folds(
    reports: Sequence[Mapping], confidence: float = 0.95, test_train_ratio: Optional[float] = None
) -> dict:
    """Summary of per-fold reports (from ``classification_report``).

    For every key whose value is a real scalar in every fold (``n``, supports and other
    bookkeeping keys excepted) gives ``mean_ci`` of the fold values: mean, std (ddof=1) and
    the 95 % Student-t interval over folds (see ``mean_ci`` for the caveat and the optional
    Nadeau-Bengio correction). Also ``n_folds``, ``n_total`` (sum of ``n``) and, when the
    reports carry one, ``confusion_matrix_sum`` (element-wise sum over folds).

    Returns {"n_folds", "n_total", "metrics": {key: mean_ci dict}, "confusion_matrix_sum"?}.
    """
    if not reports:
        raise ValueError("summarize_folds needs at least one report")
    keys = [k for k in reports[0] if k not in _NON_METRIC_KEYS and not k.startswith("support/")]
    keys = [k for k in keys if all(_is_scalar(r.get(k)) for r in reports)]
    summary = {
        "n_folds": len(reports),
        "n_total": int(sum(int(r.get("n", 0)) for r in reports)),
        "metrics": {
            k: mean_ci([r[k] for r in reports], confidence, test_train_ratio) for k in keys
        },
    }
    if all("confusion_matrix" in r for r in reports):
        mats = [np.asarray(r["confusion_matrix"], dtype=np.int64) for r in reports]
        if len({m.shape for m in mats}) != 1:
            raise ValueError("confusion matrices of different shapes across folds")
        summary["confusion_matrix_sum"] = np.sum(mats, axis=0).tolist()
    return summary


PAUC_DEFINITION = (
    "pAUC = sklearn.metrics.roc_auc_score(y, score, max_fpr=0.1): the partial AUC over "
    "FPR <= 0.1, McClish-standardised (0.5 = chance, 1 = perfect), not the raw area"
)


def detection_metrics(is_anomaly: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """ROC-AUC, pAUC (FPR <= 0.1, McClish-standardised as sklearn's roc_auc_score(max_fpr=0.1))
    and the detection rates at ``threshold``. is_anomaly [N] bool, scores [N]."""
    y = np.asarray(is_anomaly, bool)
    s = np.asarray(scores, np.float64)
    pred = s >= threshold
    out = {
        "n": int(y.size),
        "n_anomaly": int(y.sum()),
        "n_normal": int((~y).sum()),
        "tpr": float(pred[y].mean()) if y.any() else float("nan"),
        "fpr": float(pred[~y].mean()) if (~y).any() else float("nan"),
        "accuracy": float(np.mean(pred == y)),
    }
    if y.any() and (~y).any():
        out["roc_auc"] = float(skm.roc_auc_score(y, s))
        out["pauc"] = pauc(y, s, max_fpr=0.1)
    out["pauc_definition"] = PAUC_DEFINITION
    return out
