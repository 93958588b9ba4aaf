"""Label-free ``knn``: mean cosine distance to the k nearest normal training clips (features
centred on their mean) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The knn detector (``features``: ``FeatureConfig``).

    Attributes:
      k: neighbours averaged.
    """

    k: int = 3


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Every row of [N, D] divided by its Euclidean norm (floored at 1e-12)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_features(config: Config, x: np.ndarray) -> dict:
    """Normal features [N >= 2, D] -> {'mean' [D], 'ref' [N, D] unit rows of x - mean,
    'k' [] = min(config.k, N)}."""
    x, mean, _ = labelfree.normal_features(x)
    return {"mean": mean, "ref": _unit_rows(x - mean), "k": np.array(min(config.k, x.shape[0]))}


def score_features(arrays: dict, x: np.ndarray) -> np.ndarray:
    """Mean of the k smallest cosine distances 1 - cos(x - mean, ref_n): [M, D] -> [M]."""
    q = _unit_rows(labelfree.query_features(x) - arrays["mean"])
    d = 1.0 - q @ arrays["ref"].T
    return np.sort(d, axis=1)[:, : int(arrays["k"])].mean(axis=1)


MODEL = labelfree.ClipModel(
    "knn",
    "mean cosine distance to the k nearest normal training clips",
    Config,
    fit_features,
    score_features,
    data_axes={"ref": 1},  # one reference row per training clip
)
