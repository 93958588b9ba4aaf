"""Label-free ``mahalanobis``: squared Mahalanobis distance from the normal training clips
(Ledoit-Wolf shrunk covariance of the standardised features) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import sklearn.covariance

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The mahalanobis detector (``features``: ``FeatureConfig``)."""

    features: str = "shape"


def fit_features(config: Config, x: np.ndarray) -> dict:
    """Normal features [N >= 2, D] -> {'mean', 'std', 'location'} [D] each and 'precision'
    [D, D]: the Ledoit-Wolf fit to the standardised features z = (x - mean) / std."""
    del config  # no settings beyond the features
    x, mean, std = labelfree.normal_features(x)
    lw = sklearn.covariance.LedoitWolf().fit((x - mean) / std)
    return {"mean": mean, "std": std, "location": lw.location_, "precision": lw.precision_}


def score_features(arrays: dict, x: np.ndarray) -> np.ndarray:
    """(z - location)^T precision (z - location), z = (x - mean) / std: [M, D] -> [M]."""
    d = (labelfree.query_features(x) - arrays["mean"]) / arrays["std"] - arrays["location"]
    return np.einsum("nd,de,ne->n", d, arrays["precision"], d)


MODEL = labelfree.ClipModel(
    "mahalanobis",
    "squared Mahalanobis distance from the normal clips (Ledoit-Wolf)",
    Config,
    fit_features,
    score_features,
)
