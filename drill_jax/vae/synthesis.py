"""The paper VAE's jitted encode and decode, in padded buckets (``models.paper_vae``)."""

from __future__ import annotations

import jax
import numpy as np

from drill_jax import training
from drill_jax.vae import losses, networks
from drill_jax.vae.trainer import TrainState

# Rows per encode / decode call (a shorter chunk is padded to a power of two).
_CHUNK = 64


@jax.jit
def _encode(state: TrainState, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    return state.apply_fn(variables, x, method=networks.VAE.encode)


@jax.jit
def _decode(state: TrainState, z: jax.Array) -> jax.Array:
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    return losses.logits_to_waveform(state.apply_fn(variables, z, method=networks.VAE.decode))


def encode(state: TrainState, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar), each [N, Z], of clips x [N, T]."""
    return training.apply_in_buckets(
        lambda rows: _encode(state, rows), np.asarray(x, np.float32), _CHUNK
    )


def decode(state: TrainState, z: np.ndarray) -> np.ndarray:
    """Waveforms [N, T] in [-1, 1] decoded from z [N, Z] (batch-norm running averages)."""
    return training.apply_in_buckets(
        lambda rows: _decode(state, rows), np.asarray(z, np.float32), _CHUNK
    )
