"""Classical detectors on clip-level features, and model choice by inner cross-validation.

A ``Recipe`` names a feature variant (``FEATURE_VARIANTS``: which ``features.clipstats``
sets) and a scikit-learn model with its hyper-parameters:

* 'lr': standardised L2 logistic regression (``C``), class weights balanced;
* 'svm': standardised RBF support-vector machine (``C``, gamma 'scale'), class weights
  balanced; its probability is the logistic function of the margin (monotone, not
  calibrated: 0.5 is the SVM's own decision);
* 'ensemble': the mean of the 'lr' and 'svm' probabilities.

``choose_recipe`` picks one of ``CANDIDATES`` by grouped stratified k-fold on a training
side only (balanced accuracy, ties broken by ROC-AUC, then by order), which is how
``backbone='auto'`` stays honest: the outer test fold never takes part in the choice.
Features are per-clip functions (no fitted state), so they are computed once per clip;
every fitted statistic (standardisation, model) comes from the training rows only.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional, Sequence

import numpy as np
import sklearn.linear_model
import sklearn.metrics
import sklearn.model_selection
import sklearn.pipeline
import sklearn.preprocessing
import sklearn.svm

from drill_jax.features import clipstats

MODELS = ("lr", "svm", "ensemble")
FEATURE_VARIANTS = {
    "all": clipstats.SETS,
    "logmel": ("log_mel_stats",),
    "shape": ("band_energy_ratios", "spectral_shape", "time_stats"),
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Features x model x hyper-parameters. ``c``: inverse regularisation (lr: ``lr_c``,
    svm: ``svm_c``; the ensemble uses both)."""

    features: str = "all"
    model: str = "svm"
    lr_c: float = 0.03
    svm_c: float = 10.0

    def __post_init__(self):
        if self.features not in FEATURE_VARIANTS:
            raise ValueError(f"features must be one of {tuple(FEATURE_VARIANTS)}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.lr_c <= 0 or self.svm_c <= 0:
            raise ValueError("lr_c and svm_c must be positive")

    @property
    def name(self) -> str:
        c = {"lr": f"C={self.lr_c:g}", "svm": f"C={self.svm_c:g}"}.get(
            self.model, f"C={self.lr_c:g}/{self.svm_c:g}"
        )
        return f"{self.model}[{self.features}, {c}]"


CANDIDATES = tuple(
    [Recipe(f, "lr", lr_c=c) for f in ("all", "logmel") for c in (0.01, 0.1)]
    + [Recipe(f, "svm", svm_c=c) for f in ("all", "logmel", "shape") for c in (3.0, 10.0)]
    + [Recipe("all", "ensemble", lr_c=0.03, svm_c=10.0)]
)


def stats_settings(variant: str, sample_rate: int, band_hz) -> clipstats.ClipStatsSettings:
    """The clip-feature settings of a variant at ``sample_rate`` with ``band_hz``; band
    edges above the Nyquist limit are dropped from the band-energy ratios."""
    nyq = sample_rate / 2
    edges = [e for e in clipstats.ClipStatsSettings.band_edges_hz if e < nyq] + [nyq]
    return clipstats.ClipStatsSettings(
        sample_rate=int(sample_rate),
        band_hz=band_hz,
        sets=FEATURE_VARIANTS[variant],
        band_edges_hz=tuple(edges),
    )


_FEATURE_CACHE: dict = {}


def clip_features(variant: str, clips: Sequence[np.ndarray], sample_rate: int, band_hz):
    """``clipstats.clip_stats`` of each clip [N, D], cached per clip (by its bytes)."""
    settings = stats_settings(variant, sample_rate, band_hz)
    keys = [(settings, hashlib.sha1(np.ascontiguousarray(c).tobytes()).hexdigest()) for c in clips]
    missing = [i for i, k in enumerate(keys) if k not in _FEATURE_CACHE]
    if missing:
        made = clipstats.clip_stats(settings, [clips[i] for i in missing])
        for i, row in zip(missing, made):
            _FEATURE_CACHE[keys[i]] = row
    if len(_FEATURE_CACHE) > 20000:
        _FEATURE_CACHE.clear()
    return np.stack([_FEATURE_CACHE[k] for k in keys])


def _estimator(model: str, recipe: Recipe, seed: int):
    if model == "lr":
        est = sklearn.linear_model.LogisticRegression(
            C=recipe.lr_c, class_weight="balanced", max_iter=5000
        )
    else:
        est = sklearn.svm.SVC(C=recipe.svm_c, gamma="scale", class_weight="balanced")
    return sklearn.pipeline.make_pipeline(sklearn.preprocessing.StandardScaler(), est)


def fit(recipe: Recipe, x: np.ndarray, y: np.ndarray, seed: int = 0) -> list:
    """Fits the recipe's model(s) on x [N, D], binary y [N] (1 = positive). Returns the
    fitted scikit-learn pipelines (one, or two for the ensemble)."""
    x, y = _check_xy(x, y)
    models = ("lr", "svm") if recipe.model == "ensemble" else (recipe.model,)
    return [_estimator(m, recipe, seed).fit(x, y) for m in models]


def predict_positive(fitted: list, x: np.ndarray) -> np.ndarray:
    """P(positive) [N]: the logistic function of each model's decision value, averaged."""
    x = np.asarray(x, np.float64)
    return np.mean([1.0 / (1.0 + np.exp(-m.decision_function(x))) for m in fitted], axis=0)


def inner_scores(
    recipe: Recipe,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
) -> dict:
    """Grouped stratified k-fold of one recipe on a training side: mean balanced accuracy
    and ROC-AUC of its out-of-fold P(positive)."""
    cv = sklearn.model_selection.StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    p = np.empty(len(y))
    for tr, te in cv.split(x, y, groups):
        p[te] = predict_positive(fit(recipe, x[tr], y[tr], seed), x[te])
    return {
        "balanced_accuracy": float(sklearn.metrics.balanced_accuracy_score(y, p >= 0.5)),
        "roc_auc": float(sklearn.metrics.roc_auc_score(y, p)),
    }


def choose_recipe(
    features_by_variant: dict,
    y: np.ndarray,
    groups: np.ndarray,
    candidates: Sequence[Recipe] = CANDIDATES,
    n_splits: int = 5,
    seed: int = 0,
) -> tuple[Recipe, list]:
    """The candidate with the best inner balanced accuracy (then ROC-AUC, then order) on a
    training side. ``features_by_variant``: {variant: [N, D]} of the training rows only.
    Returns (recipe, [(recipe name, inner scores), ...])."""
    if not candidates:
        raise ValueError("no candidate recipes")
    table = []
    for r in candidates:
        x = features_by_variant[r.features]
        table.append((r, inner_scores(r, x, y, groups, n_splits, seed)))
    best = max(
        range(len(table)),
        key=lambda i: (table[i][1]["balanced_accuracy"], table[i][1]["roc_auc"], -i),
    )
    return table[best][0], [(r.name, s) for r, s in table]


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"expected x [N, D] and y [N], got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features hold non-finite values")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError(f"y must hold both classes 0 and 1, got {np.unique(y)}")
    return x, y


def recipe_from_json(d: Optional[dict]) -> Recipe:
    """A Recipe from its ``dataclasses.asdict`` (None = the default recipe)."""
    return Recipe(**(d or {}))
