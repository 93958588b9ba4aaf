"""Label-free ``zscore``: mean squared z-score of the features against the normal training clips'
per-feature mean and std (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config

KIND = "unsupervised"
SCORE_NAME = "zscore"
SCORE_MEANING = "mean squared z-score against the normal training clips"


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The zscore detector (``features``: ``FeatureConfig``)."""


fit, score, check = labelfree.model_functions(SCORE_NAME)
