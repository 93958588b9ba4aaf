"""Trivial and classical baselines, fitted and scored on the same folds as the real models.

Uniform API for every name in ``BASELINES``::

    fitted = fit_baseline(name, X_train, y_train, len_train, seed=0, n_classes=2)
    proba = baseline_proba(fitted, X, lengths)          # [N, C], rows sum to 1

``X`` is the per-clip log-Mel features, either a sequence of ``[frames_i, n_mels]`` arrays
(unpadded per-clip log-Mel, ``FeatureSet.unpadded()``) or an array ``[N, F, n_mels]`` in
which every frame is real. ``lengths`` [N] are the clip lengths in samples. Each baseline
uses only what it needs ('clip_length' only the lengths, 'logreg' only the features) and
ignores the rest (pass None).

* 'chance': a seeded random guesser: each row is a Dirichlet(1, ..., 1) draw, so the argmax
  is a uniformly random class and the AUC is that of a random score. Its expected accuracy
  and balanced accuracy are 1/C and its expected ROC-AUC 0.5 (``chance_level``).
* 'majority': the class frequencies of the training side for every item (argmax = majority
  class; ties go to the lowest class index; constant score, so ROC-AUC = 0.5).
* 'clip_length': per clip length seen in training, the class frequencies of the training
  items of that length (argmax = majority label for that length, ties to the lowest index);
  a length unseen in training gets the training class frequencies. The positive-class
  column is the fraction of training items of that length in the positive class, which is
  the score the binary ROC-AUC ranks.
* 'logreg': standardised logistic regression (scikit-learn, L2, C=1) on the 32 log-Mel band
  energies averaged over a clip's frames; ``include_frames=True`` appends the frame count.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence, Union

import numpy as np
import sklearn.linear_model
import sklearn.pipeline
import sklearn.preprocessing

BASELINES = ("chance", "majority", "clip_length", "logreg")

Features = Union[np.ndarray, Sequence[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class FittedBaseline:
    """A fitted baseline: its name, number of classes, seed and learned state."""

    name: str
    n_classes: int
    seed: int
    state: Any = None


def chance_level(n_classes: int) -> dict:
    """Expected scores of uniform random guessing over ``n_classes`` classes."""
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    return {"accuracy": 1.0 / n_classes, "balanced_accuracy": 1.0 / n_classes, "roc_auc": 0.5}


def _check_labels(y, n_classes: Optional[int]) -> tuple[np.ndarray, int]:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D integer array, got {y.dtype} {y.shape}")
    if n_classes is None:
        n_classes = max(int(y.max()) + 1, 2)
    if n_classes < 2 or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be in [0, n_classes={n_classes}), got {np.unique(y)}")
    return y, int(n_classes)


def _check_lengths(lengths, n: int) -> np.ndarray:
    if lengths is None:
        raise ValueError("this baseline needs the clip lengths (samples)")
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be [N={n}] integers, got {lengths.dtype} {lengths.shape}")
    return lengths


def _frequencies(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(y, minlength=n_classes).astype(np.float64) / y.size


def band_features(X: Features, include_frames: bool = False) -> np.ndarray:
    """Per-clip mean log-Mel band energy (dB): [N, n_mels], or [N, n_mels + 1] with the frame
    count appended. ``X``: list of [frames_i, n_mels] or [N, F, n_mels] (all frames real)."""
    if isinstance(X, np.ndarray) and X.ndim == 3:
        clips = list(X)
    elif isinstance(X, np.ndarray):
        raise ValueError(f"X must be [N, F, n_mels] or a list of [frames, n_mels], got {X.shape}")
    else:
        clips = [np.asarray(c) for c in X]
    if not clips:
        raise ValueError("X is empty")
    n_mels = clips[0].shape[-1]
    for c in clips:
        if c.ndim != 2 or c.shape[1] != n_mels or c.shape[0] == 0:
            raise ValueError(f"each clip must be [frames >= 1, {n_mels}], got {c.shape}")
    means = np.stack([c.mean(axis=0) for c in clips]).astype(np.float64)
    if not np.all(np.isfinite(means)):
        raise ValueError("X holds non-finite values")
    if include_frames:
        frames = np.array([c.shape[0] for c in clips], dtype=np.float64)
        means = np.concatenate([means, frames[:, None]], axis=1)
    return means


def fit_baseline(
    name: str,
    X_train: Optional[Features],
    y_train,
    len_train,
    seed: int = 0,
    n_classes: Optional[int] = None,
    include_frames: bool = False,
    C: float = 1.0,
) -> FittedBaseline:
    """Fits baseline ``name`` (one of ``BASELINES``) on the training side.

    Args:
      X_train: log-Mel features (see module doc); only 'logreg' reads them.
      y_train: [N] integer labels.
      len_train: [N] clip lengths in samples; only 'clip_length' reads them.
      seed: seed of the 'chance' guesser and of the logistic-regression solver.
      n_classes: number of classes C (default max(y_train) + 1, at least 2); pass
        ``len(class_names)`` so every probability matrix has C columns.
      include_frames: 'logreg' also sees the frame count (lets it learn the length confound).
      C: inverse L2 strength of 'logreg'.
    """
    y, n_classes = _check_labels(y_train, n_classes)
    if name == "chance":
        return FittedBaseline(name, n_classes, seed)
    if name == "majority":
        return FittedBaseline(name, n_classes, seed, _frequencies(y, n_classes))
    if name == "clip_length":
        lengths = _check_lengths(len_train, y.size)
        table = {int(n): _frequencies(y[lengths == n], n_classes) for n in np.unique(lengths)}
        return FittedBaseline(name, n_classes, seed, (table, _frequencies(y, n_classes)))
    if name == "logreg":
        feats = band_features(X_train, include_frames)
        if feats.shape[0] != y.size:
            raise ValueError(f"X_train has {feats.shape[0]} clips but y_train has {y.size}")
        if np.unique(y).size < 2:
            return FittedBaseline(
                name, n_classes, seed, (None, _frequencies(y, n_classes), include_frames)
            )
        model = sklearn.pipeline.make_pipeline(
            sklearn.preprocessing.StandardScaler(),
            sklearn.linear_model.LogisticRegression(C=C, max_iter=5000, random_state=seed),
        )
        model.fit(feats, y)
        return FittedBaseline(name, n_classes, seed, (model, None, include_frames))
    raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")


def baseline_proba(fitted: FittedBaseline, X: Optional[Features], lengths) -> np.ndarray:
    """Class probabilities [N, C] of a fitted baseline for N items.

    N is taken from ``lengths`` when given, else from ``X``. 'chance' draws its rows from
    ``np.random.default_rng(fitted.seed)``: the same call gives the same rows.
    """
    if lengths is not None:
        n = int(np.asarray(lengths).shape[0])
    elif X is not None:
        n = len(X)
    else:
        raise ValueError("pass X or lengths so the number of items is known")
    c = fitted.n_classes
    if fitted.name == "chance":
        rng = np.random.default_rng(fitted.seed)
        return rng.dirichlet(np.ones(c), size=n)
    if fitted.name == "majority":
        return np.tile(fitted.state, (n, 1))
    if fitted.name == "clip_length":
        lengths = _check_lengths(lengths, n)
        table, prior = fitted.state
        return np.stack([table.get(int(k), prior) for k in lengths]) if n else np.zeros((0, c))
    if fitted.name == "logreg":
        model, prior, include_frames = fitted.state
        feats = band_features(X, include_frames)
        if model is None:
            return np.tile(prior, (feats.shape[0], 1))
        proba = np.zeros((feats.shape[0], c))
        proba[:, model.classes_] = model.predict_proba(feats)
        return proba
    raise ValueError(f"unknown baseline {fitted.name!r}; choose from {BASELINES}")
