"""Latent codes shared by the learned generators: posterior draws around source sounds and
prior draws (standard, or the aggregate posterior of the training sounds)."""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import losses
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.generators import check_clips


def aggregate_prior(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian fit of the aggregate posterior: (mu [Z], cov [Z, Z]) = the mean and covariance
    of the posterior means [N, Z] plus the mean posterior variance on the diagonal."""
    mean, var = np.asarray(mean, np.float64), np.exp(np.asarray(logvar, np.float64))
    cov = np.atleast_2d(np.cov(mean, rowvar=False)) if mean.shape[0] > 1 else 0.0 * np.eye(1)
    cov = cov + np.diag(var.mean(axis=0))
    return mean.mean(axis=0), cov


def cycle(key: jax.Array, n: int, num: int) -> np.ndarray:
    """Row indices [num] int64 into n rows: every row in turn, in a key-shuffled order."""
    return np.resize(np.asarray(jax.random.permutation(key, n)), num).astype(np.int64)


def draw(
    encode: Callable,
    config: VAEConfig,
    key: jax.Array,
    num: int,
    mode: str,
    sources: Optional[np.ndarray],
    train_sounds: Optional[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(z [num, Z] float32, source_index [num] int64; -1 = no single source).

    encode: clips [N, T] -> posterior (mean, logvar) [N, Z]. 'posterior' draws z ~ q(z|x)
    around ``sources`` in a key-shuffled cycle; 'prior' draws z ~ N(0, I), or with
    synthesis.prior='aggregate' from ``aggregate_prior`` of ``train_sounds``.
    """
    if mode == "posterior":
        pick_key, eps_key = jax.random.split(key)
        source_index = cycle(pick_key, sources.shape[0], num)
        mean, logvar = encode(sources[source_index])
        z = losses.reparameterize(eps_key, jnp.asarray(mean), jnp.asarray(logvar))
        return np.asarray(z, np.float32), source_index
    eps = jax.random.normal(key, (num, config.network.latent_dim), jnp.float32)
    if config.synthesis.prior == "aggregate":
        if train_sounds is None:
            raise ValueError("prior='aggregate' needs the training sounds (train_sounds)")
        mu, cov = aggregate_prior(*encode(check_clips(train_sounds, config, "train")))
        chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0]))
        eps = mu[None, :] + np.asarray(eps, np.float64) @ chol.T
    return np.asarray(eps, np.float32), np.full(num, -1, np.int64)


def info(z: np.ndarray, source_index: np.ndarray, mode: str, source_split) -> dict:
    """The synthesis record every generator returns beside its sounds."""
    return {
        "z": z,
        "source_index": np.asarray(source_index, np.int64),
        "mode": mode,
        "source_split": source_split,
    }
