"""Reference generator 'interp': spectral-and-envelope interpolation of two training sounds
of the class with random phases (``reference_generators.interpolate_pairs``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import reference_generators
from drill_jax.vae.models import reference

_interpolate_pairs = jax.jit(reference_generators.interpolate_pairs, static_argnums=(3, 4))


def make(key: jax.Array, train: np.ndarray, pool: np.ndarray, index: np.ndarray) -> jax.Array:
    """pool[index] [M, T] each interpolated with a random training clip. -> [M, T]."""
    train = jnp.asarray(train, jnp.float32)
    k_pick, k_mix = jax.random.split(key)
    partner = jax.random.randint(k_pick, (len(index),), 0, train.shape[0])
    return _interpolate_pairs(k_mix, jnp.asarray(pool)[index], train[partner])


LEARNED, OUTPUT, LATENT_PLANE = reference.LEARNED, reference.OUTPUT, reference.LATENT_PLANE
check, fit, make_model = reference.check, reference.fit, reference.make_model
sample = reference.sampler(make, keeps_source=True)
