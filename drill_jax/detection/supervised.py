"""Supervised detectors from loose arrays or a finished evaluation (the entry points of
``experiments.classify --save_detector`` and the latency benchmark); training itself is
``detection.build.train`` with the registry's 'jax_cnn' or 'clip_classical' model."""

from __future__ import annotations

import dataclasses
from typing import Optional

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.classify import cnn
from drill_jax.detection import build
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.detector import Detector
from drill_jax.detection.models import clip_classical


def _dataset(waveforms, labels, class_names, sample_rate: int) -> data_lib.Dataset:
    return data_lib.Dataset.from_arrays(waveforms, labels, class_names, sample_rate)


def train_supervised_detector(
    waveforms,
    labels,
    class_names,
    sample_rate: int,
    clip_samples: Optional[int] = None,
    config: Optional[cnn.ClassifierConfig] = None,
) -> Detector:
    """The jax_cnn detector on sounds [T_i] (each cut to its first ``clip_samples``
    samples, default the shortest) with labels into ``class_names`` (anomaly class:
    'anomaly' if present, else the first); the paper's features at ``sample_rate`` Hz."""
    ds = _dataset(waveforms, labels, class_names, sample_rate)
    settings = features.FeatureSettings(sample_rate=int(sample_rate))
    config = config or cnn.ClassifierConfig()
    train = build.TrainConfig(clip_samples=clip_samples, seed=config.seed)
    return build.train(ds, "jax_cnn", config, settings, train)


def train_classical_detector(
    waveforms, labels, class_names, sample_rate: int, clip_samples: Optional[int] = None
) -> Detector:
    """The clip_classical detector (recipes chosen by grouped cross-validation) on sounds,
    as ``train_supervised_detector``."""
    ds = _dataset(waveforms, labels, class_names, sample_rate)
    settings = features.FeatureSettings(sample_rate=int(sample_rate))
    train = build.TrainConfig(clip_samples=clip_samples)
    return build.train(ds, "clip_classical", clip_classical.Config(), settings, train)


def save_supervised_detector(
    ds: data_lib.Dataset,
    result: dict,
    path: str,
    crop: Optional[int] = None,
    seed: int = 0,
    settings: Optional[features.FeatureSettings] = None,
) -> str:
    """Trains the jax_cnn on every sound of ``ds`` and saves it as a detector directory.

    Each sound gives its first ``crop`` samples (default: the shortest sound's length, so
    no padding enters the features); the evaluation's summary metrics are stored with it.
    """
    settings = settings or features.FeatureSettings(sample_rate=ds.sample_rate)
    info = {"evaluation": {"label": result["label"], "row": result["row"]}}
    train = build.TrainConfig(clip_samples=crop, seed=seed)
    detector = build.train(ds, "jax_cnn", cnn.ClassifierConfig(seed=seed), settings, train, info)
    means = {k: v["mean"] for k, v in result["summary"]["metrics"].items()}
    detector = dataclasses.replace(detector, metrics={"evaluation_mean": means})
    detector_lib.save_detector(path, detector)
    return path
