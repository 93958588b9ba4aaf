"""Label-free scorers on clip features: models of NORMAL sounds only, higher = less normal.

Each scorer is ``fit(normal_features [N, D]) -> state`` and ``score(state, features [M, D])
-> [M]`` (pure NumPy / scikit-learn, deterministic):

* 'zscore': mean squared z-score per feature against the normal sounds' mean and std
  (the label-free baseline's rule, here on any feature set);
* 'mahalanobis': Mahalanobis distance with a Ledoit-Wolf shrunk covariance of the
  standardised features;
* 'knn': mean cosine distance to the ``k`` nearest normal sounds (features centred on the
  normal mean);
* 'gmm': negative log-likelihood under a diagonal Gaussian mixture on the first principal
  components of the standardised features;
* 'ensemble': the mean of the other scorers' scores, each standardised by its own scores
  of the normal training sounds (median 0, 90th percentile 1).

``FEATURES`` names the feature set each scorer reads by default: 64-band log-Mel of one
clip ('logmel64', the paper's band-pass) or band-energy ratios, spectral shape and time
statistics ('shape', ``features.clipstats``).
"""

from __future__ import annotations

import numpy as np
import sklearn.covariance
import sklearn.decomposition
import sklearn.mixture

SCORERS = ("zscore", "mahalanobis", "knn", "gmm", "ensemble")
FEATURES = {"zscore": "logmel64", "mahalanobis": "shape", "knn": "logmel64", "gmm": "shape"}
ENSEMBLE = ("zscore", "mahalanobis")


def _check(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected features [N >= 1, D], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: features hold non-finite values")
    return x


def fit(name: str, normal: np.ndarray, k: int = 3, components: int = 2, seed: int = 0):
    """Fits scorer ``name`` on normal features [N, D] (N >= 2; 'gmm' N >= 4)."""
    x = _check(normal, "normal features")
    if x.shape[0] < 2:
        raise ValueError(f"a label-free scorer needs >= 2 normal sounds, got {x.shape[0]}")
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    if name == "zscore":
        return {"mean": mean, "std": std}
    z = (x - mean) / std
    if name == "mahalanobis":
        lw = sklearn.covariance.LedoitWolf().fit(z)
        return {"mean": mean, "std": std, "model": lw}
    if name == "knn":
        ref = x - mean
        ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
        return {"mean": mean, "ref": ref, "k": min(k, x.shape[0])}
    if name == "gmm":
        n_pc = min(10, x.shape[0] - 1, x.shape[1])
        pca = sklearn.decomposition.PCA(n_pc, random_state=seed).fit(z)
        gmm = sklearn.mixture.GaussianMixture(
            min(components, x.shape[0] // 2), covariance_type="diag", random_state=seed
        ).fit(pca.transform(z))
        return {"mean": mean, "std": std, "pca": pca, "gmm": gmm}
    raise ValueError(f"scorer must be one of {SCORERS[:-1]} here, got {name!r}")


def score(name: str, state, x: np.ndarray) -> np.ndarray:
    """Anomaly scores [M] of features [M, D] under a fitted scorer (higher = less normal)."""
    x = _check(x, "features")
    if name == "zscore":
        return np.mean(((x - state["mean"]) / state["std"]) ** 2, axis=1)
    if name == "mahalanobis":
        return state["model"].mahalanobis((x - state["mean"]) / state["std"])
    if name == "knn":
        q = x - state["mean"]
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        d = 1.0 - q @ state["ref"].T
        return np.sort(d, axis=1)[:, : state["k"]].mean(axis=1)
    if name == "gmm":
        z = state["pca"].transform((x - state["mean"]) / state["std"])
        return -state["gmm"].score_samples(z)
    raise ValueError(f"scorer must be one of {SCORERS[:-1]} here, got {name!r}")


def fit_score(
    name: str, normal_by_set: dict, test_by_set: dict, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fits ``name`` on the normal sounds and scores both sides.

    ``normal_by_set`` / ``test_by_set``: {feature set: [N, D] / [M, D]}. Returns (scores of
    the normal training sounds [N], scores of the test sounds [M]); the training scores are
    what a threshold is chosen from. 'ensemble' standardises each member by its training
    scores (median -> 0, 90th percentile -> 1) and averages."""
    if name == "ensemble":
        train, test = [], []
        for member in ENSEMBLE:
            tr, te = fit_score(member, normal_by_set, test_by_set, seed)
            mid, scale = np.median(tr), max(np.percentile(tr, 90) - np.median(tr), 1e-12)
            train.append((tr - mid) / scale)
            test.append((te - mid) / scale)
        return np.mean(train, axis=0), np.mean(test, axis=0)
    feats = FEATURES[name]
    state = fit(name, normal_by_set[feats], seed=seed)
    return score(name, state, normal_by_set[feats]), score(name, state, test_by_set[feats])
