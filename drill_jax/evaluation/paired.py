"""Paired comparison of two evaluations on the same folds (e.g. augmented vs not).

Both results come from ``protocols.evaluate`` with the same protocol settings and seed, so
fold k holds the same held-out sounds in both; the per-fold differences of a metric are
then paired. Reports their mean with a Student-t interval (optimistic: folds share
training data) and the Wilcoxon signed-rank test's two-sided p-value.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.stats

from drill_jax.evaluation import metrics


def fold_values(result: Mapping, metric: str = "balanced_accuracy") -> np.ndarray:
    """The metric of every fold of one evaluation result: [n_folds]."""
    folds = result.get("folds")
    if not folds:
        raise ValueError("result has no folds")
    if any(metric not in f for f in folds):
        raise ValueError(f"metric {metric!r} is missing from some fold")
    return np.asarray([float(f[metric]) for f in folds], np.float64)


def paired_comparison(
    treated: Mapping, control: Mapping, metric: str = "balanced_accuracy", confidence=0.95
) -> dict:
    """treated minus control, fold by fold.

    Returns {'metric', 'n_folds', 'difference': ``metrics.mean_ci`` of the differences
    (mean, std, ci_low, ci_high, ...), 'wilcoxon_p' (two-sided; 1.0 when every difference
    is 0), 'wins', 'losses', 'ties'}. Raises ValueError when the folds do not pair (count,
    held-out sizes, or the protocol, folds, seed or crop of the configs differ).
    """
    a, b = fold_values(treated, metric), fold_values(control, metric)
    if a.shape != b.shape:
        raise ValueError(f"fold counts differ: {a.size} vs {b.size}; folds must pair")
    if [f.get("n_test") for f in treated["folds"]] != [f.get("n_test") for f in control["folds"]]:
        raise ValueError("folds do not pair: their held-out sizes differ")
    ca, cb = treated.get("config", {}), control.get("config", {})
    for key in ("protocol", "n_splits", "n_repeats", "seed", "crop", "folds"):
        if ca.get(key) != cb.get(key):
            raise ValueError(f"folds do not pair: config {key!r} differs")
    d = a - b
    if np.all(d == 0):
        p = 1.0
    else:
        p = float(scipy.stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return {
        "metric": metric,
        "n_folds": int(d.size),
        "difference": metrics.mean_ci(d, confidence),
        "wilcoxon_p": p,
        "wins": int(np.sum(d > 0)),
        "losses": int(np.sum(d < 0)),
        "ties": int(np.sum(d == 0)),
    }


def comparison_row(name: str, treated: Mapping, control: Mapping, metric="balanced_accuracy"):
    """One table row: each side's mean metric over folds and ``paired_comparison``'s figures.

    Returns {'name', 'n_folds', 'control', 'treated', 'difference', 'ci_low', 'ci_high',
    'wilcoxon_p', 'wins', 'losses', 'ties'} (plain floats / ints).
    """
    cmp = paired_comparison(treated, control, metric)
    d = cmp["difference"]
    return {
        "name": name,
        "n_folds": cmp["n_folds"],
        "control": float(np.mean(fold_values(control, metric))),
        "treated": float(np.mean(fold_values(treated, metric))),
        "difference": float(d["mean"]),
        "ci_low": float(d["ci_low"]),
        "ci_high": float(d["ci_high"]),
        "wilcoxon_p": cmp["wilcoxon_p"],
        "wins": cmp["wins"],
        "losses": cmp["losses"],
        "ties": cmp["ties"],
    }


def markdown(rows, metric: str = "balanced_accuracy") -> str:
    """``comparison_row`` rows as a Markdown table (treated minus control, per fold)."""
    lines = [
        f"| comparison | folds | control {metric} | treated | difference (95 % CI) "
        "| Wilcoxon p | wins / losses / ties |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['n_folds']} | {r['control']:.3f} | {r['treated']:.3f} | "
            f"{r['difference']:+.3f} ({r['ci_low']:+.3f}, {r['ci_high']:+.3f}) | "
            f"{r['wilcoxon_p']:.3g} | {r['wins']} / {r['losses']} / {r['ties']} |"
        )
    return "\n".join(lines) + "\n"
