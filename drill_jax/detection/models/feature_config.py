"""The setting every label-free clip scorer shares (``zscore``, ``mahalanobis``, ``knn``,
``gmm``; ``detection.labelfree``): the feature set it reads. Not a registry entry."""

from __future__ import annotations

import dataclasses

from drill_jax.detection import labelfree


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """A clip-feature detector.

    Attributes:
      features: the clip features it reads: 'logmel64' or 'shape'.
    """

    features: str = "logmel64"

    def __post_init__(self):
        labelfree.feature_set(self.features)  # one-line ValueError for an unknown set
