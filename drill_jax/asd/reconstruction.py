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


def _check(mels, n_components: int) -> None:
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if not len(mels):
        raise ValueError("no normal recordings to fit the principal components on")


def fit(mels: Sequence[np.ndarray], n_components: int, frames: int) -> dict:
    """Principal subspace of the ``features.tiled_frame_vectors`` of N recordings ([F_i, M]
    log-Mel each) -> {'mean': [D], 'basis': [D, C]}: C = min(n_components, D) orthonormal
    columns, D = frames * M. ValueError for no recordings or n_components < 1."""
    _check(mels, n_components)
    parts = [_moments(m, frames) for m in mels]
    return _subspace(*(sum(p[i] for p in parts) for i in range(3)), n_components)


def errors(pca: dict, mels: Sequence[np.ndarray], frames: int) -> np.ndarray:
    """[N] mean squared reconstruction residual (dB^2) of each recording's frame vectors
    under ``pca`` (``fit``); higher = less like the normal recordings."""
    out = []
    for m in mels:
        d = features.tiled_frame_vectors(m, frames) - pca["mean"]
        residual = d - (d @ pca["basis"]) @ pca["basis"].T
        out.append(float(np.mean(residual**2)))
    return np.array(out)


def leave_one_out_errors(mels: Sequence[np.ndarray], n_components: int, frames: int,
                         which: Sequence[int]) -> np.ndarray:
    """[len(which)] ``errors`` of recordings ``which`` of ``mels``, each under the subspace
    ``fit`` on all the other recordings (its moments subtracted from the sums: one pass)."""
    _check(mels, n_components)
    parts = [_moments(m, frames) for m in mels]
    sums = [sum(p[i] for p in parts) for i in range(3)]
    out = []
    for i in which:
        pca = _subspace(*(s - p for s, p in zip(sums, parts[i])), n_components)
        out.append(errors(pca, [mels[i]], frames)[0])
    return np.array(out)
