"""Nearest-neighbour anomaly scores of recordings against the normal training recordings of
their section, per domain (so that the few target-domain recordings count as much as the many
source ones)."""

from __future__ import annotations

import numpy as np

METRICS = ("cosine", "zscore")


def distances(references: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """[R, E], [Q, E] -> [Q, R] distances.

    'cosine': 1 - q . r of unit-norm rows. 'zscore': mean over features of the squared
    difference, after standardising both by the references' per-feature mean and std.
    """
    if metric == "cosine":
        return 1.0 - queries @ references.T
    if metric != "zscore":
        raise ValueError(f"unknown kNN metric {metric!r}; one of {list(METRICS)}")
    mean, std = references.mean(0), references.std(0) + 1e-3
    r, q = (references - mean) / std, (queries - mean) / std
    sq = (q**2).sum(1)[:, None] + (r**2).sum(1)[None, :] - 2.0 * q @ r.T
    return np.maximum(sq, 0.0) / references.shape[1]


def domain_scores(references, ref_sections, ref_domains, queries, sections, k: int,
                  metric: str, leave_one_out: bool = False) -> np.ndarray:
    """Per-domain score of each query [Q, E] of section ``sections[q]``: for every domain of
    ``np.unique(ref_domains)``, the mean distance to the k nearest of that section's
    references [R, E] of that domain (k capped at their number; inf where the section has
    none). The z-score metric standardises by the section's references. ``leave_one_out``:
    the queries ARE the references (same rows, same order) and none counts itself.
    -> [Q, D] float64, higher = more anomalous. ValueError unless k >= 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1 neighbour, got {k}")
    ref_sections, ref_domains = np.asarray(ref_sections), np.asarray(ref_domains)
    sections, all_domains = np.asarray(sections), np.unique(ref_domains)
    out = np.full((len(sections), len(all_domains)), np.inf)
    for sec in np.unique(sections):
        q = np.flatnonzero(sections == sec)
        pool = np.flatnonzero(ref_sections == sec)
        if not pool.size:
            raise ValueError(f"section {str(sec)!r} has no normal training recordings")
        dist = distances(references[pool], queries[q], metric)  # [q, pool]
        if leave_one_out:
            dist[q[:, None] == pool[None, :]] = np.inf
        for j, dom in enumerate(all_domains):
            d = np.sort(dist[:, ref_domains[pool] == dom], axis=1)[:, :k]
            if d.shape[1]:
                out[q, j] = d.mean(axis=1)
    return out


def scores(references, ref_sections, ref_domains, queries, sections, k: int,
           metric: str) -> np.ndarray:
    """``domain_scores`` of each query, minimum over domains (the nearest domain counts).
    -> [Q] float64, higher = more anomalous."""
    return domain_scores(references, ref_sections, ref_domains, queries, sections, k,
                         metric).min(axis=1)
