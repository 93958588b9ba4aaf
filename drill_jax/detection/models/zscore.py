"""Label-free ``zscore``: mean squared z-score of the features against the normal training clips'
per-feature mean and std (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree

KIND = "unsupervised"
SCORE_NAME = "zscore"
SCORE_MEANING = "mean squared z-score against the normal training clips"


@dataclasses.dataclass(frozen=True)
class Config:
    """The zscore detector.

    Attributes:
      features: the clip features it reads: 'logmel64' or 'shape'.
    """

    features: str = "logmel64"

    def __post_init__(self):
        labelfree.check_features(self)


fit, score, check = labelfree.model_functions(SCORE_NAME)
