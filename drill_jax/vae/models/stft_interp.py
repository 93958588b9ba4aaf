"""Reference generator 'stft_interp': interpolation of two training sounds' log-magnitude
STFTs with Griffin-Lim phases (``stft_interp``). Nothing is learned.

Generator interface as ``models.reference``.
"""

from __future__ import annotations

import jax
import numpy as np

from drill_jax.vae import stft_interp
from drill_jax.vae.models import reference

_CONFIG = stft_interp.Config()


def make(key: jax.Array, train: np.ndarray, pool: np.ndarray, index: np.ndarray) -> np.ndarray:
    """pool[index] [M, T] each interpolated with another training clip. -> [M, T]."""
    return stft_interp.sample(_CONFIG, key, train, np.asarray(pool)[index])


LEARNED, OUTPUT, LATENT_PLANE = reference.LEARNED, reference.OUTPUT, reference.LATENT_PLANE
check, fit, make_model = reference.check, reference.fit, reference.make_model
sample = reference.sampler(make, keeps_source=True)
