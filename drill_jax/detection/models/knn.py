"""Label-free ``knn``: mean cosine distance to the k nearest normal training clips (features
centred on their mean) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config

KIND = "unsupervised"
SCORE_NAME = "knn"
SCORE_MEANING = "mean cosine distance to the k nearest normal training clips"


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The knn detector (``features``: ``FeatureConfig``).

    Attributes:
      k: neighbours averaged.
    """

    k: int = 3


fit, score, check = labelfree.model_functions(SCORE_NAME)
