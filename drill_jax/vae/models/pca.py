"""Reference generator 'pca': principal components of the log-magnitude STFT with
Griffin-Lim phases (``pca_reference``); network.latent_dim principal components (at most
N - 1 for N training clips), prior draws from the variance-corrected kernel density
estimate of the training coordinates. Nothing is learned by gradient steps.

Generator interface as ``models.reference``.
"""

from __future__ import annotations

import jax
import numpy as np

from drill_jax.vae import latents, pca_reference
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.models import reference

LEARNED, OUTPUT, LATENT_PLANE = False, None, False
make_model = reference.make_model
Fitted = reference.Fitted


def check(config: VAEConfig) -> None:
    """One level rule at most (synthesis.calibrate_level or synthesis.match_level), and
    settings that make a ``pca_reference.Config``."""
    if config.synthesis.calibrate_level and config.synthesis.match_level:
        raise ValueError("calibrate_level and match_level: give one level rule, not both")
    settings(config)


def settings(config: VAEConfig) -> pca_reference.Config:
    """The ``pca_reference.Config`` of a generator config (components = latent_dim; the
    spectrogram, alignment and domain of the network, the kernel bandwidth, shrinkage,
    perturbed components, residual, contrast and level of the synthesis)."""
    synth = config.synthesis
    return pca_reference.Config(
        spectrogram=config.network.spectrogram,
        components=config.network.latent_dim,
        align_onsets=config.network.align_onsets,
        domain=config.network.domain,
        bandwidth=synth.bandwidth,
        shrink=synth.shrink,
        residual_scale=synth.residual_scale,
        contrast=synth.contrast,
        perturbed=synth.perturbed_components,
        level="source" if synth.match_level else "class" if synth.calibrate_level else "decoded",
    )


def _fit_clips(clips: np.ndarray, config: VAEConfig, key: jax.Array):
    """(Fitted, []): the PCA of the training clips [N, T]; nothing else is read (``key``:
    the class gain's draws)."""
    pca = settings(config)
    return Fitted(pca, pca_reference.fit(pca, clips, key)), []


fit = reference.clip_fitter(_fit_clips)


def sample(model: Fitted, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments);
    info['z'] holds the sounds' principal coordinates."""
    del config, train_sounds
    pick_key, draw_key = jax.random.split(key)
    if mode == "posterior":
        source_index = latents.cycle(pick_key, sources.shape[0], num)
        chosen = sources[source_index]
    else:
        source_index, chosen = np.full(num, -1, np.int64), None
    sounds, z = pca_reference.sample(model.config, model.model, draw_key, num, chosen)
    return sounds, latents.info(z, source_index, mode, source_split)
