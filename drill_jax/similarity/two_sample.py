"""Two-sample tests of two sets of feature vectors: a cross-validated classifier, a kernel MMD
with a permutation p-value, and feature-by-feature differences that say which interpretable
feature differs and by how much.

* Classifier test: standardised features, L2 logistic regression, repeated stratified k-fold;
  balanced accuracy (chance 0.5 whatever the set sizes), ROC-AUC (chance 0.5) and plain
  accuracy (chance = the majority fraction).

* MMD (Gretton et al. 2012): the unbiased estimate of MMD^2 with a Gaussian kernel
  ``k(a, b) = exp(-|a - b|^2 / (2 h^2))`` on features standardised over the pooled sets
  (columns constant over both sets dropped), ``h`` = the median pairwise distance of the
  pooled set. Its p-value: the fraction of random relabellings of the pooled set whose MMD^2
  reaches the observed one, ``(1 + #{perm >= observed}) / (1 + n_permutations)``. Unlike a
  classifier's accuracy it keeps ranking sets that are all far from real (it does not
  saturate at 1).
* Feature differences: per feature, the medians of both sets, the standardised mean difference
  ``d = (mean_b - mean_a) / pooled std`` (Cohen's d; 0 = no difference, |d| ~ 0.8 = large),
  and the two-sided Mann-Whitney U p-value, Holm-adjusted over the features; a feature
  *differs* when its adjusted p-value is below 0.05.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.spatial.distance
import scipy.stats
import sklearn.linear_model
import sklearn.model_selection
import sklearn.pipeline
import sklearn.preprocessing
import threadpoolctl

ALPHA = 0.05


def classifier_test(
    real: np.ndarray, synth: np.ndarray, n_splits: int = 5, n_repeats: int = 4, seed: int = 0
) -> dict:
    """How well a logistic regression separates real [n, D] from synthesized [m, D] vectors.

    Repeated stratified k-fold; returns dict(balanced_accuracy {mean, std over folds},
    accuracy {mean, std}, roc_auc {mean, std}, majority_baseline, n_folds). Balanced accuracy
    and ROC-AUC: 0.5 = indistinguishable, 1.0 = perfectly separable.
    """
    real = np.asarray(real, np.float64)
    synth = np.asarray(synth, np.float64)
    if real.ndim != 2 or synth.ndim != 2 or real.shape[1] != synth.shape[1]:
        raise ValueError(f"need [n, D] and [m, D] features, got {real.shape} and {synth.shape}")
    if min(real.shape[0], synth.shape[0]) < n_splits:
        raise ValueError(f"each set needs at least n_splits={n_splits} sounds")
    x = np.concatenate([real, synth])
    y = np.concatenate([np.zeros(real.shape[0], int), np.ones(synth.shape[0], int)])
    model = sklearn.pipeline.make_pipeline(
        sklearn.preprocessing.StandardScaler(),
        sklearn.linear_model.LogisticRegression(C=1.0, max_iter=5000),
    )
    cv = sklearn.model_selection.RepeatedStratifiedKFold(
        n_splits=n_splits, n_repeats=n_repeats, random_state=seed
    )
    # One BLAS thread: on matrices this small more threads only contend (8x slower measured
    # on a busy 2-core machine).
    with threadpoolctl.threadpool_limits(1):
        scores = sklearn.model_selection.cross_validate(
            model, x, y, cv=cv, scoring=("balanced_accuracy", "accuracy", "roc_auc")
        )
    bal, acc = scores["test_balanced_accuracy"], scores["test_accuracy"]
    auc = scores["test_roc_auc"]
    return {
        "balanced_accuracy": {"mean": float(bal.mean()), "std": float(bal.std())},
        "accuracy": {"mean": float(acc.mean()), "std": float(acc.std())},
        "roc_auc": {"mean": float(auc.mean()), "std": float(auc.std())},
        "majority_baseline": float(max(real.shape[0], synth.shape[0]) / y.shape[0]),
        "n_folds": int(bal.shape[0]),
    }


def standardize_pooled(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[n, D] and [m, D] -> both standardised by the pooled mean and std, columns constant over
    the pooled set dropped: [n, D'], [m, D']."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need [n, D] and [m, D] features, got {a.shape} and {b.shape}")
    pooled = np.concatenate([a, b])
    if not np.all(np.isfinite(pooled)):
        raise ValueError("non-finite feature values")
    std = pooled.std(axis=0)
    keep = std > 1e-12 * max(float(np.abs(pooled).max()), 1.0)
    mean = pooled.mean(axis=0)
    return (a[:, keep] - mean[keep]) / std[keep], (b[:, keep] - mean[keep]) / std[keep]


def _mmd2_unbiased(k: np.ndarray, in_a: np.ndarray) -> float:
    """Unbiased MMD^2 from the pooled kernel matrix [N, N] and a [N] bool mask of set a."""
    n, m = int(in_a.sum()), int((~in_a).sum())
    kaa = k[np.ix_(in_a, in_a)]
    kbb = k[np.ix_(~in_a, ~in_a)]
    kab = k[np.ix_(in_a, ~in_a)]
    return float(
        (kaa.sum() - np.trace(kaa)) / (n * (n - 1))
        + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
        - 2.0 * kab.mean()
    )


def mmd_test(a: np.ndarray, b: np.ndarray, n_permutations: int = 500, seed: int = 0) -> dict:
    """Gaussian-kernel MMD two-sample test of [n, D] vs [m, D] features (module docstring).

    Returns {'mmd2', 'p_value', 'bandwidth', 'n_permutations', 'dims'}; mmd2 is near 0 (it can
    be slightly negative) when both sets come from one distribution. Needs n, m >= 2.
    """
    if min(len(a), len(b)) < 2 or n_permutations < 1:
        raise ValueError("need at least 2 items per set and 1 permutation")
    sa, sb = standardize_pooled(a, b)
    pooled = np.concatenate([sa, sb])
    d2 = scipy.spatial.distance.squareform(scipy.spatial.distance.pdist(pooled, "sqeuclidean"))
    h2 = float(np.median(d2[np.triu_indices_from(d2, 1)]))
    h2 = h2 if h2 > 0 else 1.0
    k = np.exp(-d2 / (2.0 * h2))
    in_a = np.arange(pooled.shape[0]) < sa.shape[0]
    observed = _mmd2_unbiased(k, in_a)
    rng = np.random.default_rng(seed)
    null = np.array([_mmd2_unbiased(k, rng.permutation(in_a)) for _ in range(n_permutations)])
    return {
        "mmd2": observed,
        "p_value": float((1 + np.sum(null >= observed)) / (1 + n_permutations)),
        "bandwidth": float(np.sqrt(h2)),
        "n_permutations": int(n_permutations),
        "dims": int(pooled.shape[1]),
    }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values [K] -> [K] (each in [0, 1])."""
    p = np.asarray(p_values, np.float64)
    order = np.argsort(p)
    steps = p[order] * (p.size - np.arange(p.size))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


def feature_differences(a: np.ndarray, b: np.ndarray, names: Sequence[str]) -> dict:
    """How each of the D named features of set b [m, D] differs from set a [n, D].

    Returns {'features': [{'name', 'median_a', 'median_b', 'cohens_d', 'p_value',
    'p_holm'}, ...] sorted by |cohens_d| (largest first), 'differs': names with p_holm <
    ALPHA in that order}. A feature constant over both sets has d = 0 and p = 1.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape[1:] != (len(names),) or b.shape[1:] != (len(names),):
        raise ValueError(f"need [n, {len(names)}] features, got {a.shape} and {b.shape}")
    rows = []
    for j, name in enumerate(names):
        pooled_sd = np.sqrt((a[:, j].var(ddof=1) + b[:, j].var(ddof=1)) / 2.0)
        constant = np.ptp(np.concatenate([a[:, j], b[:, j]])) == 0
        d = 0.0 if constant or pooled_sd == 0 else (b[:, j].mean() - a[:, j].mean()) / pooled_sd
        p = 1.0 if constant else scipy.stats.mannwhitneyu(a[:, j], b[:, j]).pvalue
        rows.append(
            {
                "name": name,
                "median_a": float(np.median(a[:, j])),
                "median_b": float(np.median(b[:, j])),
                "cohens_d": float(d),
                "p_value": float(p),
            }
        )
    for row, adj in zip(rows, holm([r["p_value"] for r in rows])):
        row["p_holm"] = float(adj)
    rows.sort(key=lambda r: -abs(r["cohens_d"]))
    return {"features": rows, "differs": [r["name"] for r in rows if r["p_holm"] < ALPHA]}
