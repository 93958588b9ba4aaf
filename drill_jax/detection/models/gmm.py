"""Label-free ``gmm``: negative log-likelihood under a diagonal Gaussian mixture on the first
principal components of the standardised features (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree

KIND = "unsupervised"
SCORE_NAME = "gmm"
SCORE_MEANING = "negative log-likelihood under a diagonal Gaussian mixture of the features' PCA"


@dataclasses.dataclass(frozen=True)
class Config:
    """The gmm detector.

    Attributes:
      features: the clip features it reads: 'logmel64' or 'shape'.
      components: mixture components (at most half the training clips).
      seed: PCA and mixture initialisation.
    """

    features: str = "shape"
    components: int = 2
    seed: int = 0

    def __post_init__(self):
        labelfree.check_features(self)


fit, score, check = labelfree.model_functions(SCORE_NAME)
