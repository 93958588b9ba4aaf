"""Reference generator 'phase_copy': a training sound's exact magnitude spectrum with random
phases (``reference_generators.random_phase_copy``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import reference_generators
from drill_jax.vae.models import reference

_random_phase_copy = jax.jit(reference_generators.random_phase_copy)


def make(key: jax.Array, train: np.ndarray, pool: np.ndarray, index: np.ndarray) -> jax.Array:
    """pool[index] [M, T] with random phases. -> [M, T]."""
    del train
    return _random_phase_copy(key, jnp.asarray(pool, jnp.float32)[index])


LEARNED, OUTPUT, LATENT_PLANE = reference.LEARNED, reference.OUTPUT, reference.LATENT_PLANE
check, fit, make_model = reference.check, reference.fit, reference.make_model
sample = reference.sampler(make, keeps_source=True)
