"""Generator 'onset': the onset-anchored VAE (``vae.onset_decoder``: damped sinusoids, a
click through a short FIR and a shaped-noise residual at a predicted onset), trained by its
own jitted step (``fit_loop``) with the multi-resolution STFT (loss.stft_sizes,
loss.sc_weight), band-power and onset-time losses; network.latent_dim, loss.kl_weight,
optim.learning_rate, epochs and batch_size are read. With ``workdir`` it checkpoints after
each epoch, and ``resume`` continues from that checkpoint (``fit_loop.run``).

Generator interface as ``models.paper_vae``.
"""

from __future__ import annotations

import functools

import jax

from drill_jax.vae import latents, onset_decoder
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.models import reference

LEARNED, OUTPUT, LATENT_PLANE = True, None, False
check, make_model = reference.check, reference.make_model


def settings(config: VAEConfig) -> onset_decoder.Config:
    """The ``onset_decoder.Config`` of a generator config."""
    loss = config.loss
    return reference.loop_config(
        onset_decoder.Config, config, fft_sizes=loss.stft_sizes, sc_weight=loss.sc_weight
    )


fit = reference.settings_fitter(settings, onset_decoder.fit)  # model: its fit_loop.State


def sample(model, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments)."""
    latent_key, decode_key = jax.random.split(key)
    encode = functools.partial(onset_decoder.encode, model)
    z, source_index = latents.draw(encode, config, latent_key, num, mode, sources, train_sounds)
    sounds = onset_decoder.decode(model, z, decode_key)
    return sounds, latents.info(z, source_index, mode, source_split)
