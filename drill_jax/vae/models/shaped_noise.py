"""Reference generator 'shaped_noise': white noise shaped by the class's mean power spectrum
(``reference_generators.shaped_noise``; no source sound)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import reference_generators
from drill_jax.vae.models import reference

_shaped_noise = jax.jit(reference_generators.shaped_noise, static_argnums=(2, 3))
_mean_power_spectrum = jax.jit(reference_generators.mean_power_spectrum)


def make(key: jax.Array, train: np.ndarray, pool: np.ndarray, index: np.ndarray) -> jax.Array:
    """len(index) clips [M, T] of noise with the training clips' mean power spectrum."""
    del pool
    train = jnp.asarray(train, jnp.float32)
    return _shaped_noise(key, _mean_power_spectrum(train), len(index), train.shape[1])


LEARNED, OUTPUT, LATENT_PLANE = reference.LEARNED, reference.OUTPUT, reference.LATENT_PLANE
check, fit, make_model = reference.check, reference.fit, reference.make_model
sample = reference.sampler(make, keeps_source=False)
