"""Sounds from a trained class VAE: encode, decode, and synthesis from the prior or around
source sounds (posterior)."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import training
from drill_jax.vae import losses, networks
from drill_jax.vae.configs import SYNTH_MODES, VAEConfig
from drill_jax.vae.trainer import TrainState, check_clips

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


def check_request(config, num: int, mode: str, sources, source_split: str):
    """Checks a synthesis request (every generator's): mode, count, source split, and for
    'posterior' the sources (refusing TEST sounds unless synthesis.synth_from_test). Returns
    (checked sources [K, T] or None, source_split; None for 'prior')."""
    if mode not in SYNTH_MODES:
        raise ValueError(f"mode must be one of {SYNTH_MODES}, got {mode!r}")
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if source_split not in ("train", "test"):
        raise ValueError(f"source_split must be 'train' or 'test', got {source_split!r}")
    if mode == "prior":
        return sources, None
    if sources is None:
        raise ValueError("posterior synthesis needs source sounds")
    if source_split == "test" and not config.synthesis.synth_from_test:
        raise ValueError(
            "synthesis from TEST sounds is refused unless synth_from_test=True "
            "(it leaks test sounds into the augmented set)"
        )
    return check_clips(sources, config, "sources"), source_split


def synthesize(
    state: TrainState,
    config: VAEConfig,
    key: jax.Array,
    num: int,
    mode: str = "prior",
    sources: Optional[np.ndarray] = None,
    source_split: str = "train",
) -> tuple[np.ndarray, dict]:
    """Generates ``num`` sounds with a trained class VAE.

    Args:
      state, config: the trained VAE.
      key: the synthesis key (same key => same sounds).
      num: number of sounds.
      mode: 'prior' decodes z ~ N(0, I); 'posterior' decodes z ~ q(z|x) of source
        sounds, cycling through them in a key-shuffled order.
      sources: [K, T] clips, required for 'posterior'.
      source_split: 'train' or 'test', what ``sources`` are. 'test' is refused unless
        config.synthesis.synth_from_test (test sounds must not leak into an augmented set).

    Returns:
      (sounds [num, T] float32 in [-1, 1],
       {'z': [num, Z], 'source_index': [num] int (row of ``sources``; -1 for prior),
        'mode': mode, 'source_split': source_split or None}).
    """
    sources, source_split = check_request(config, num, mode, sources, source_split)
    if mode == "prior":
        z = jax.random.normal(key, (num, config.network.latent_dim), jnp.float32)
        source_index = np.full(num, -1, np.int64)
    else:
        pick_key, eps_key = jax.random.split(key)
        order = np.asarray(jax.random.permutation(pick_key, sources.shape[0]))
        source_index = np.resize(order, num).astype(np.int64)
        mean, logvar = encode(state, sources[source_index])
        z = losses.reparameterize(eps_key, jnp.asarray(mean), jnp.asarray(logvar))
    z = np.asarray(jax.device_get(z), np.float32)
    sounds = np.asarray(decode(state, z), np.float32)
    info = {
        "z": z,
        "source_index": source_index,
        "mode": mode,
        "source_split": source_split,
    }
    return sounds, info
