"""Label-free ``knn``: mean cosine distance to the k nearest normal training clips (features
centred on their mean) (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree

KIND = "unsupervised"
SCORE_NAME = "knn"
SCORE_MEANING = "mean cosine distance to the k nearest normal training clips"


@dataclasses.dataclass(frozen=True)
class Config:
    """The knn detector.

    Attributes:
      features: the clip features it reads: 'logmel64' or 'shape'.
      k: neighbours averaged.
    """

    features: str = "logmel64"
    k: int = 3

    def __post_init__(self):
        labelfree.check_features(self)


fit, score, check = labelfree.model_functions(SCORE_NAME)
