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


def fit(mels: Sequence[np.ndarray], n_components: int, frames: int) -> dict:
    """Principal subspace of the ``features.tiled_frame_vectors`` of N recordings ([F_i, M]
    log-Mel each) -> {'mean': [D], 'basis': [D, C]}: C = min(n_components, D) orthonormal
    columns, D = frames * M. ValueError for no recordings or n_components < 1."""
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if not len(mels):
        raise ValueError("no normal recordings to fit the principal components on")
    total, outer, count = 0.0, 0.0, 0
    for m in mels:
        v = features.tiled_frame_vectors(m, frames).astype(np.float64)
        total, outer, count = total + v.sum(0), outer + v.T @ v, count + v.shape[0]
    mean = total / count
    cov = outer / count - np.outer(mean, mean)
    _, eigvecs = np.linalg.eigh(cov)  # ascending eigenvalues
    return {"mean": mean, "basis": eigvecs[:, ::-1][:, :n_components].copy()}


def errors(pca: dict, mels: Sequence[np.ndarray], frames: int) -> np.ndarray:
    """[N] mean squared reconstruction residual (dB^2) of each recording's frame vectors
    under ``pca`` (``fit``); higher = less like the normal recordings."""
    out = []
    for m in mels:
        d = features.tiled_frame_vectors(m, frames) - pca["mean"]
        residual = d - (d @ pca["basis"]) @ pca["basis"].T
        out.append(float(np.mean(residual**2)))
    return np.array(out)
