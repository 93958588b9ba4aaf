"""The noise-shaping VAEs ('noise', 'noise_hop32', ...; ``noise_shaping.VARIANTS``): the
decoder filters white noise, trained by ``trainer`` with a spectral loss.

Generator interface as ``models.paper_vae``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import latents, losses, noise_shaping, trainer
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.generators import check_clips

LEARNED = True
OUTPUT = "waveform"
LATENT_PLANE = False  # 8-D latents: overlays only


@functools.lru_cache(maxsize=16)
def _model(arch: str, latent_dim: int, input_length: int) -> noise_shaping.NoiseShapingVAE:
    return noise_shaping.NoiseShapingVAE(
        latent_dim=latent_dim, input_length=input_length, **noise_shaping.VARIANTS[arch]
    )


def make_model(config: VAEConfig) -> noise_shaping.NoiseShapingVAE:
    """The flax module of ``config.network`` (one shared instance per setting)."""
    net = config.network
    return _model(net.arch, net.latent_dim, net.input_length)


def check(config: VAEConfig) -> None:
    """A noise-shaping decoder gives a waveform: it needs a spectral loss."""
    if not config.loss.recon.startswith("stft"):
        raise ValueError(
            f"arch {config.network.arch!r} decodes shaped noise: it needs recon='stft' or "
            "'stft_band'"
        )


fit = trainer.train_class_vae  # (trainer.TrainState, history)


@jax.jit
def _encode(state, x):
    return state.apply_fn({"params": state.params}, x, method="encode")


@jax.jit
def _decode(state, z, key):
    return state.apply_fn({"params": state.params}, z, key, method="decode")


def encode(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar) [N, Z] of clips x [N, T]."""
    return tuple(np.asarray(v) for v in _encode(model, jnp.asarray(x, jnp.float32)))


def level_gain(model, train_sounds: np.ndarray, key: jax.Array) -> float:
    """The median over training sounds [N, T] of RMS(sound) / RMS(its posterior decoding):
    the gain that puts a noise-shaping generator's median level on the class's."""
    mean, logvar = encode(model, train_sounds)
    z_key, noise_key = jax.random.split(key)
    z = losses.reparameterize(z_key, jnp.asarray(mean), jnp.asarray(logvar))
    decoded = np.asarray(_decode(model, z, noise_key), np.float64)
    train = np.asarray(train_sounds, np.float64)
    ratio = np.sqrt(
        (np.mean(np.square(train), -1) + 1e-20) / (np.mean(np.square(decoded), -1) + 1e-20)
    )
    return float(np.median(ratio))


def sample(model, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments).
    synthesis.calibrate_level scales them by ``level_gain`` of ``train_sounds``."""
    latent_key, decode_key = jax.random.split(key)
    z, source_index = latents.draw(
        functools.partial(encode, model), config, latent_key, num, mode, sources, train_sounds
    )
    sounds = np.asarray(_decode(model, jnp.asarray(z), decode_key))
    if config.synthesis.calibrate_level:
        if train_sounds is None:
            raise ValueError("calibrate_level needs the training sounds (train_sounds)")
        train = check_clips(train_sounds, config, "train_sounds")
        sounds = sounds * level_gain(model, train, jax.random.fold_in(decode_key, 1))
    sounds = np.clip(np.asarray(sounds, np.float32), -1.0, 1.0)
    return sounds, latents.info(z, source_index, mode, source_split)
