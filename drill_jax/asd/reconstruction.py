"""A cheap reconstruction score: the error of a principal-component (linear autoencoder)
reconstruction of stacked log-Mel frames, the DCASE baseline's input vectors.

Fitted in one pass from the frame-vector covariance (memory [D, D], whatever the number of
recordings), so it costs seconds where the baseline's dense autoencoder trains for minutes.
A recording's score is the mean over its frame vectors of the squared residual: it rises
with energy at frequencies the normal recordings lack, which a classifier's embedding can
miss.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from drill_jax.asd import features


def _moments(mel: np.ndarray, frames: int) -> tuple:
    """One recording's frame-vector sums: (sum [D], outer product sum [D, D], count)."""
    v = features.tiled_frame_vectors(mel, frames).astype(np.float64)
    return v.sum(0), v.T @ v, v.shape[0]


def _subspace(total, outer, count, n_components: int) -> dict:
    """Principal subspace from summed moments -> {'mean': [D], 'basis': [D, C]}."""
    mean = total / count
    _, eigvecs = np.linalg.eigh(outer / count - np.outer(mean, mean))  # ascending
    return {"mean": mean, "basis": eigvecs[:, ::-1][:, :n_components].copy()}


def _check(n_components: int, count: int) -> None:
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if not count:
        raise ValueError("no normal recordings to fit the principal components on")


def moment_sums(mels: Sequence[np.ndarray], frames: int) -> tuple:
    """The summed ``features.tiled_frame_vectors`` moments of N recordings ([F_i, M] log-Mel
    each): (sum [D], outer product sum [D, D], count of vectors), D = frames * M."""
    parts = [_moments(m, frames) for m in mels]
    if not parts:
        return 0.0, 0.0, 0
    return tuple(sum(p[i] for p in parts) for i in range(3))


def from_moments(sums: tuple, n_components: int) -> dict:
    """Principal subspace of recordings from their ``moment_sums`` -> {'mean': [D], 'basis':
    [D, C]}: C = min(n_components, D) orthonormal columns. ValueError for no recordings or
    n_components < 1."""
    _check(n_components, sums[2])
    return _subspace(*sums, n_components)


def fit(mels: Sequence[np.ndarray], n_components: int, frames: int) -> dict:
    """``from_moments`` of the ``moment_sums`` of N recordings ([F_i, M] log-Mel each)."""
    return from_moments(moment_sums(mels, frames), n_components)


def errors(pca: dict, mels: Sequence[np.ndarray], frames: int) -> np.ndarray:
    """[N] mean squared reconstruction residual (dB^2) of each recording's frame vectors
    under ``pca`` (``fit``); higher = less like the normal recordings."""
    out = []
    for m in mels:
        d = features.tiled_frame_vectors(m, frames) - pca["mean"]
        residual = d - (d @ pca["basis"]) @ pca["basis"].T
        out.append(float(np.mean(residual**2)))
    return np.array(out)


def leave_one_out_errors(sums: tuple, mels: Sequence[np.ndarray], n_components: int,
                         frames: int) -> np.ndarray:
    """[N] ``errors`` of N recordings that ``sums`` (``moment_sums``) counts, each under the
    subspace of the other recordings: its own moments subtracted from the sums."""
    out = []
    for m in mels:
        pca = from_moments(tuple(s - p for s, p in zip(sums, _moments(m, frames))), n_components)
        out.append(errors(pca, [m], frames)[0])
    return np.array(out)


def fit_pools(mels: Sequence[np.ndarray], pools, n_components: int, frames: int) -> tuple:
    """One subspace per pool of N recordings (``pools`` [N]: e.g. their sections) ->
    ({str(pool): ``from_moments``}, {str(pool): ``moment_sums``})."""
    pools = np.asarray(pools)
    moments = {str(p): moment_sums([mels[i] for i in np.flatnonzero(pools == p)], frames)
               for p in np.unique(pools)}
    return {p: from_moments(m, n_components) for p, m in moments.items()}, moments


def pool_errors(pcas: dict, mels: Sequence[np.ndarray], pools, frames: int) -> np.ndarray:
    """[N] ``errors`` of N recordings, each under its pool's subspace (``fit_pools``).
    ValueError for a pool without one."""
    out = np.zeros(len(mels))
    for p in np.unique(np.asarray(pools)):
        if str(p) not in pcas:
            raise ValueError(f"section {str(p)!r} has no normal training recordings")
        rows = np.flatnonzero(np.asarray(pools) == p)
        out[rows] = errors(pcas[str(p)], [mels[i] for i in rows], frames)
    return out


def pool_leave_one_out(moments: dict, mels: Sequence[np.ndarray], pools, n_components: int,
                       frames: int) -> np.ndarray:
    """[N] ``leave_one_out_errors`` of N recordings that their pool's ``moment_sums``
    (``fit_pools``) count."""
    out = np.zeros(len(mels))
    for p in np.unique(np.asarray(pools)):
        rows = np.flatnonzero(np.asarray(pools) == p)
        out[rows] = leave_one_out_errors(moments[str(p)], [mels[i] for i in rows],
                                         n_components, frames)
    return out
