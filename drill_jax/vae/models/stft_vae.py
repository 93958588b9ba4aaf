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

from drill_jax.vae import latents, stft_vae
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.models import reference

LEARNED, OUTPUT, LATENT_PLANE = True, None, False
check, make_model = reference.check, reference.make_model


def settings(config: VAEConfig) -> stft_vae.Config:
    """The ``stft_vae.Config`` of a generator config."""
    spectrogram, residual = config.network.spectrogram, config.synthesis.residual_scale
    return reference.loop_config(
        stft_vae.Config, config, spectrogram=spectrogram, residual_scale=residual
    )


fit = reference.settings_fitter(settings, stft_vae.fit)  # model: a stft_vae.Model


def sample(model, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments)."""
    latent_key, decode_key = jax.random.split(key)
    vae = model.state.config  # the stft_vae.Config it was fitted with
    encode = functools.partial(stft_vae.encode, vae, model)
    z, source_index = latents.draw(encode, config, latent_key, num, mode, sources, train_sounds)
    sounds = stft_vae.decode(vae, model, z, decode_key)
    return sounds, latents.info(z, source_index, mode, source_split)
