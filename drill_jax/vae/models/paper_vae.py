"""The paper's VAE ('conv', 1-D convolutions over time) and the authors' layout
('reference'): ``networks.VAE`` with Bernoulli logits, trained by ``trainer``.

Generator interface (``drill_jax.vae.generators``): ``make_model``, ``check``, ``fit``,
``sample``, ``encode``, and the flags ``LEARNED`` / ``LATENT_PLANE``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from drill_jax.vae import latents, networks, synthesis, trainer
from drill_jax.vae.configs import NetworkConfig, VAEConfig
from drill_jax.vae.models import reference

LEARNED = True  # fitted by gradient steps; the loss is config.loss.recon
OUTPUT = "logits"  # the decoder's output (objectives.LossSpec.output)
LATENT_PLANE = True  # its latent plane, decoded grid and overlays are drawn


# The network config's fields that networks.VAE has by the same name (all but the strides).
_SHARED = sorted(
    {f.name for f in dataclasses.fields(NetworkConfig)}
    & {f.name for f in dataclasses.fields(networks.VAE)}
)


@functools.lru_cache(maxsize=16)
def _model(net: NetworkConfig) -> networks.VAE:
    # Cached: bound methods (apply_fn) compare by instance identity.
    return networks.VAE(
        **{name: getattr(net, name) for name in _SHARED},
        enc_strides=net.strides,
        dec_strides=tuple(reversed(net.strides)),
    )


def make_model(config: VAEConfig) -> networks.VAE:
    """The flax module of ``config.network`` (one shared instance per network setting)."""
    return _model(config.network)


check = reference.check  # every loss fits the Bernoulli logits
fit = trainer.train_class_vae  # (trainer.TrainState, history)


def encode(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar) [N, Z] of clips x [N, T]."""
    return synthesis.encode(model, x)


def sample(model, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments)."""
    z, source_index = latents.draw(
        functools.partial(encode, model), config, key, num, mode, sources, train_sounds
    )
    sounds = np.asarray(synthesis.decode(model, z), np.float32)
    return sounds, latents.info(z, source_index, mode, source_split)
