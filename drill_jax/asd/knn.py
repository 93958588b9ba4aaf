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


def scores(references, ref_sections, ref_domains, queries, sections, k: int,
           metric: str) -> np.ndarray:
    """Score of each query [Q, E] of section ``sections[q]``: min over the domains of that
    section's references [R, E] of the mean distance to the k nearest of them (k capped at
    the domain's size). The z-score metric standardises by the section's references.
    -> [Q] float64, higher = more anomalous. ValueError unless k >= 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1 neighbour, got {k}")
    ref_sections, ref_domains = np.asarray(ref_sections), np.asarray(ref_domains)
    sections = np.asarray(sections)
    out = np.full(len(sections), np.inf)
    for sec in np.unique(sections):
        q = np.flatnonzero(sections == sec)
        pool = np.flatnonzero(ref_sections == sec)
        if not pool.size:
            raise ValueError(f"section {str(sec)!r} has no normal training recordings")
        dist = distances(references[pool], queries[q], metric)  # [q, pool]
        for dom in np.unique(ref_domains[pool]):
            d = np.sort(dist[:, ref_domains[pool] == dom], axis=1)[:, :k]
            out[q] = np.minimum(out[q], d.mean(axis=1))
    return out
