"""Label-free ``gmm``: negative log-likelihood under a diagonal Gaussian mixture on the first
principal components of the standardised features (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config

KIND = "unsupervised"
SCORE_NAME = "gmm"
SCORE_MEANING = "negative log-likelihood under a diagonal Gaussian mixture of the features' PCA"


@dataclasses.dataclass(frozen=True)
class Config(feature_config.FeatureConfig):
    """The gmm detector (``features``: ``FeatureConfig``).

    Attributes:
      components: mixture components (at most half the training clips).
      seed: PCA and mixture initialisation.
    """

    features: str = "shape"
    components: int = 2
    seed: int = 0


fit, score, check = labelfree.model_functions(SCORE_NAME)
