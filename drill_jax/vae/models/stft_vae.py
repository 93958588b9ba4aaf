"""Generator 'stft_vae': a VAE on the log-magnitude STFT (window 256, hop 32) with a
heteroscedastic Gaussian decoder and Griffin-Lim phases (``vae.stft_vae``), trained by its
own jitted step (``fit_loop``): network.latent_dim, loss.kl_weight, optim.learning_rate,
epochs and batch_size are read; its loss is its own Gaussian likelihood of the
standardised log magnitudes, not ``loss.recon``. With ``workdir`` it checkpoints after each
epoch, and ``resume`` continues from that checkpoint (``fit_loop.run``).

Generator interface as ``models.paper_vae``.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from drill_jax.vae import latents, stft_vae
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.models import reference

LEARNED, OUTPUT, LATENT_PLANE = True, None, False
check, make_model = reference.check, reference.make_model
Fitted = reference.Fitted


def settings(config: VAEConfig) -> stft_vae.Config:
    """The ``stft_vae.Config`` of a generator config."""
    return stft_vae.Config(
        spectrogram=config.network.spectrogram,
        residual_scale=config.synthesis.residual_scale,
        **reference.loop_settings(config),
    )


def _fit_clips(clips: np.ndarray, config: VAEConfig, key: jax.Array, options):
    """(Fitted, history) of the training clips [N, T] (module docstring; options: a
    ``fit_loop.Options``)."""
    vae = settings(config)
    model, history = stft_vae.fit(vae, clips, key, options)
    return Fitted(vae, model), history


fit = reference.loop_fitter(_fit_clips)


def sample(model: Fitted, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments)."""
    latent_key, decode_key = jax.random.split(key)
    encode = functools.partial(stft_vae.encode, model.config, model.model)
    z, source_index = latents.draw(encode, config, latent_key, num, mode, sources, train_sounds)
    sounds = stft_vae.decode(model.config, model.model, z, decode_key)
    return sounds, latents.info(z, source_index, mode, source_split)
