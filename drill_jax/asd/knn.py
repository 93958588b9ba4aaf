"""Nearest-neighbour anomaly scores of recordings against the normal training recordings of
their section, per domain (so that the few target-domain recordings count as much as the many
source ones), and the fusion of several such scores.

Each score is standardised by the leave-one-out scores of its own section's training
recordings (each scored against the others), so scores of different units (cosine distances
of embeddings, squared z-differences of log-Mel statistics) add up with equal weight, with no
data held out and nothing fitted on test recordings.
"""

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


def scores(references, ref_sections, ref_domains, queries, sections, k: int, metric: str,
           leave_one_out: bool = False) -> np.ndarray:
    """Score of each query [Q, E] of section ``sections[q]``: min over the domains of that
    section's references [R, E] of the mean distance to the k nearest of them (k capped at
    the domain's size). The z-score metric standardises by the section's references.

    With ``leave_one_out`` the queries ARE the references (Q = R, same order) and each one
    ignores itself. -> [Q] float64, higher = more anomalous.
    """
    ref_sections, ref_domains = np.asarray(ref_sections), np.asarray(ref_domains)
    sections = np.asarray(sections)
    out = np.full(len(sections), np.inf)
    for sec in np.unique(sections):
        q = np.flatnonzero(sections == sec)
        pool = np.flatnonzero(ref_sections == sec)
        if not pool.size:
            raise ValueError(f"section {str(sec)!r} has no normal training recordings")
        dist = distances(references[pool], queries[q], metric)  # [q, pool]
        if leave_one_out:
            dist[q[:, None] == pool[None, :]] = np.inf
        for dom in np.unique(ref_domains[pool]):
            d = np.sort(dist[:, ref_domains[pool] == dom], axis=1)[:, :k]
            out[q] = np.minimum(out[q], _finite_mean(d))
    if not np.all(np.isfinite(out)):
        raise ValueError("every section needs >= 2 normal training recordings (leave-one-out)")
    return out


def _finite_mean(d: np.ndarray) -> np.ndarray:
    """[Q, k] -> [Q] mean of each row's finite entries (inf where there are none: a query
    left alone in a domain by leave-one-out)."""
    finite = np.isfinite(d)
    mean = np.where(finite, d, 0.0).sum(1) / np.maximum(finite.sum(1), 1)
    return np.where(finite.any(1), mean, np.inf)


def standardise(values, sections, reference_values, ref_sections) -> np.ndarray:
    """[Q] scores -> (score - mean) / std of the leave-one-out scores [R] of the training
    recordings of the same section."""
    values, sections = np.asarray(values, np.float64), np.asarray(sections)
    reference_values, ref_sections = np.asarray(reference_values), np.asarray(ref_sections)
    out = np.empty_like(values)
    for sec in np.unique(sections):
        ref = reference_values[ref_sections == sec]
        q = sections == sec
        out[q] = (values[q] - ref.mean()) / (ref.std() + 1e-12)
    return out
