"""A non-learned reference generator: interpolation of two training sounds' log-magnitude
STFTs, turned back into sound with Griffin-Lim phases.

Each sound: a first clip (a source clip, or a training clip for prior sampling), a partner
drawn from the training clips, a weight w ~ U(low, high) and the log-magnitude STFT
w log|S_a| + (1 - w) log|S_b| (``griffin_lim.Spectrogram``), whose level is therefore the
geometric interpolation of the two levels. Weights kept away from 0 and 1 keep the sound
from being a copy of either clip.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import griffin_lim


@dataclasses.dataclass(frozen=True)
class Config:
    """STFT-interpolation reference (module docstring). Units: samples; weights in [0, 1]."""

    spectrogram: griffin_lim.Spectrogram = griffin_lim.Spectrogram()
    weight_range: tuple = (0.25, 0.75)

    def __post_init__(self):
        low, high = self.weight_range
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"weight_range must satisfy 0 <= low <= high <= 1, got {low, high}")


@functools.partial(jax.jit, static_argnums=(0,))
def interpolate(config: Config, key: jax.Array, xa: jax.Array, xb: jax.Array) -> jax.Array:
    """Sounds [N, T] interpolated between clips xa [N, T] and xb [N, T] (module docstring)."""
    w_key, phase_key = jax.random.split(key)
    low, high = config.weight_range
    w = jax.random.uniform(w_key, (xa.shape[0], 1, 1), minval=low, maxval=high)
    la = griffin_lim.log_magnitude(xa, config.spectrogram)
    lb = griffin_lim.log_magnitude(xb, config.spectrogram)
    log_mag = w * la + (1.0 - w) * lb
    return griffin_lim.from_log_magnitude(log_mag, config.spectrogram, xa.shape[-1], phase_key)


def sample(config: Config, key: jax.Array, train: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Sounds [M, T] float32, each between a first clip of ``first`` [M, T] and a partner
    drawn from one class's training clips ``train`` [N, T] (N >= 2) that is not a copy of
    it (a first clip that is a training clip never meets itself)."""
    train = np.asarray(train, np.float32)
    first = np.asarray(first, np.float32)
    n = train.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 training clips, got {n}")
    partner_key, mix_key = jax.random.split(key)
    partner = np.asarray(jax.random.randint(partner_key, (first.shape[0],), 0, n))
    same = np.all(train[partner] == first, axis=-1)
    partner = np.where(same, (partner + 1) % n, partner)
    out = interpolate(config, mix_key, jnp.asarray(first), jnp.asarray(train[partner]))
    return np.asarray(out, np.float32)
