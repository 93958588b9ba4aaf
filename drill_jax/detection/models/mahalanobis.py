"""Label-free ``mahalanobis``: squared Mahalanobis distance from the normal training clips
(Ledoit-Wolf shrunk covariance of the standardised features) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config

KIND = "unsupervised"
SCORE_NAME = "mahalanobis"
SCORE_MEANING = "squared Mahalanobis distance from the normal clips (Ledoit-Wolf)"


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The mahalanobis detector (``features``: ``FeatureConfig``)."""

    features: str = "shape"


fit, score, check = labelfree.model_functions(SCORE_NAME)
