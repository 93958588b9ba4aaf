"""Label-free ``zscore``: mean squared z-score of the features against the normal training clips'
per-feature mean and std (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The zscore detector (``features``: ``FeatureConfig``)."""


def fit_features(config: Config, x: np.ndarray) -> dict:
    """Normal features [N >= 2, D] -> {'mean', 'std'} [D] each (std floored at 1e-3)."""
    del config  # no settings beyond the features
    _, mean, std = labelfree.normal_features(x)
    return {"mean": mean, "std": std}


def score_features(arrays: dict, x: np.ndarray) -> np.ndarray:
    """mean_d ((x - mean) / std)^2: features [M, D] -> [M]."""
    x = labelfree.query_features(x)
    return np.mean(((x - arrays["mean"]) / arrays["std"]) ** 2, axis=1)


MODEL = labelfree.ClipModel(
    "zscore",
    "mean squared z-score against the normal training clips",
    Config,
    fit_features,
    score_features,
)
