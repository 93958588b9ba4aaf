"""The paper's waveform VAE as a saved label-free detector (``experiments.vae
--save_detector``); training itself is ``detection.build.train`` with the registry's 'vae'."""

from __future__ import annotations

import numpy as np

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.detection import build
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.models import vae
from drill_jax.vae import trainer


def save_waveform_detector(
    dataset: data_lib.Dataset,
    vae_config: trainer.VAEConfig,
    path: str,
    normal_class: str = "normal",
) -> str:
    """Trains the paper's waveform VAE (``vae_config``) on the ``normal_class`` sounds of
    ``dataset`` only and saves it as a label-free detector directory at ``path``.

    Score = negative ELBO of a clip's first ``vae_config.input_length`` samples; thresholds
    from 25 % held-out normal recordings (``build.TrainConfig``).
    """
    if normal_class not in dataset.class_names:
        raise ValueError(f"no class {normal_class!r} in {dataset.class_names}")
    normal = dataset.subset(
        np.flatnonzero(dataset.labels == dataset.class_names.index(normal_class))
    )
    settings = features.FeatureSettings(sample_rate=dataset.sample_rate)
    config = vae.Config(input_repr="waveform", vae=vae_config)
    info = {"source": "experiments.vae --save_detector"}
    train = build.TrainConfig(seed=vae_config.seed)
    detector_lib.save_detector(path, build.train(normal, "vae", config, settings, train, info))
    return path
