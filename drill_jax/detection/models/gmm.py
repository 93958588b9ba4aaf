"""Label-free ``gmm``: negative log-likelihood under a diagonal Gaussian mixture on the first
principal components of the standardised features (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special
import sklearn.decomposition
import sklearn.mixture

from drill_jax.detection import labelfree
from drill_jax.detection.models import feature_config


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


def fit_features(config: Config, x: np.ndarray) -> dict:
    """Normal features [N >= 2, D] -> the standardiser ('mean', 'std' [D]), the PCA of
    z = (x - mean) / std to P = min(10, N - 1, D) components ('pca_mean' [D],
    'pca_components' [P, D]) and a K-component diagonal mixture on it ('weights' [K],
    'means' and 'variances' [K, P]; K = min(config.components, N // 2), at least 1)."""
    x, mean, std = labelfree.normal_features(x)
    z = (x - mean) / std
    n_pc = min(10, x.shape[0] - 1, x.shape[1])
    pca = sklearn.decomposition.PCA(n_pc, random_state=config.seed).fit(z)
    mixture = sklearn.mixture.GaussianMixture(
        max(1, min(config.components, x.shape[0] // 2)),
        covariance_type="diag",
        random_state=config.seed,
    ).fit(pca.transform(z))
    return {
        "mean": mean,
        "std": std,
        "pca_mean": pca.mean_,
        "pca_components": pca.components_,
        "weights": mixture.weights_,
        "means": mixture.means_,
        "variances": mixture.covariances_,
    }


def score_features(arrays: dict, x: np.ndarray) -> np.ndarray:
    """-log p(PCA(z)) under the mixture, z = (x - mean) / std: [M, D] -> [M] nats
    (sklearn's ``score_samples`` from the stored parameters)."""
    z = (labelfree.query_features(x) - arrays["mean"]) / arrays["std"] - arrays["pca_mean"]
    z = z @ arrays["pca_components"].T  # [M, P]
    diff = z[:, None, :] - arrays["means"][None]  # [M, K, P]
    var = arrays["variances"]
    log_comp = -0.5 * np.sum(diff**2 / var + np.log(2 * np.pi * var), axis=-1)  # [M, K]
    return -scipy.special.logsumexp(log_comp + np.log(arrays["weights"])[None], axis=1)


# The PCA and mixture sizes follow the number of training clips.
MODEL = labelfree.ClipModel(
    "gmm",
    "negative log-likelihood under a diagonal Gaussian mixture of the features' PCA",
    Config,
    fit_features,
    score_features,
    data_axes={"pca_components": 1, "weights": 1, "means": 2, "variances": 2},
)
