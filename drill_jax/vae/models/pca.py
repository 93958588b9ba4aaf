"""Reference generator 'pca': principal components of the log-magnitude STFT with
Griffin-Lim phases (``pca_reference``); network.latent_dim principal components (at most
N - 1 for N training clips), prior draws from the variance-corrected kernel density
estimate of the training coordinates. Nothing is learned by gradient steps.

Generator interface as ``models.reference``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import numpy as np

from drill_jax.vae import latents, pca_reference
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.generators import check_clips
from drill_jax.vae.models import reference

LEARNED, OUTPUT, LATENT_PLANE = False, None, False
check, make_model = reference.check, reference.make_model


class Fitted(NamedTuple):
    """The generator's settings and its fitted ``pca_reference.Model``."""

    config: pca_reference.Config
    model: pca_reference.Model


def settings(config: VAEConfig) -> pca_reference.Config:
    """The ``pca_reference.Config`` of a generator config (components = latent_dim)."""
    return pca_reference.Config(components=config.network.latent_dim)


def fit(
    waveforms_train: np.ndarray,
    waveforms_test: Optional[np.ndarray],
    config: VAEConfig,
    key: jax.Array,
    workdir: Optional[str] = None,
    resume: bool = False,
    on_epoch: Optional[Callable[[list], None]] = None,
):
    """(Fitted, []): the PCA of the training clips [N, T]; nothing else is read."""
    del waveforms_test, key, workdir, resume, on_epoch
    pca = settings(config)
    clips = check_clips(waveforms_train, config, "waveforms_train")
    return Fitted(pca, pca_reference.fit(pca, clips)), []


def sample(model: Fitted, config, key, num, mode, sources, source_split, train_sounds):
    """``num`` sounds [num, T] and their info (``generators.sample``; checked arguments);
    info['z'] holds the sounds' principal coordinates."""
    del config, train_sounds
    pick_key, draw_key = jax.random.split(key)
    if mode == "posterior":
        order = np.asarray(jax.random.permutation(pick_key, sources.shape[0]))
        source_index = np.resize(order, num).astype(np.int64)
        chosen = sources[source_index]
    else:
        source_index, chosen = np.full(num, -1, np.int64), None
    sounds, z = pca_reference.sample(model.config, model.model, draw_key, num, chosen)
    return sounds, latents.info(z, source_index, mode, source_split)
