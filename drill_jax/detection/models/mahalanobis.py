"""Label-free ``mahalanobis``: squared Mahalanobis distance from the normal training clips
(Ledoit-Wolf shrunk covariance of the standardised features) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree

KIND = "unsupervised"
SCORE_NAME = "mahalanobis"
SCORE_MEANING = "squared Mahalanobis distance from the normal clips (Ledoit-Wolf)"


@dataclasses.dataclass(frozen=True)
class Config:
    """The mahalanobis detector.

    Attributes:
      features: the clip features it reads: 'logmel64' or 'shape'.
    """

    features: str = "shape"

    def __post_init__(self):
        labelfree.check_features(self)


fit, score, check = labelfree.model_functions(SCORE_NAME)
