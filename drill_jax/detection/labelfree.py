"""Label-free scorers on clip features: models of NORMAL sounds only, higher = less normal.

Each scorer is ``fit(name, normal_features [N, D]) -> state`` and ``score(name, state,
features [M, D]) -> [M]``; a state is a dict of NumPy arrays only (so a saved detector stores
it as it is), and everything is deterministic:

* 'zscore': mean squared z-score per feature against the normal sounds' mean and std;
* 'mahalanobis': squared Mahalanobis distance with a Ledoit-Wolf shrunk covariance of the
  standardised features (the precision matrix is stored);
* 'knn': mean cosine distance to the ``k`` nearest normal sounds (features centred on the
  normal mean);
* 'gmm': negative log-likelihood under a diagonal Gaussian mixture on the first principal
  components of the standardised features (PCA and mixture parameters stored);
* the ensemble (``standardise`` + mean) lives with its detector model.

``FEATURES`` names the feature set each scorer reads by default: 64-band log-Mel of one
clip ('logmel64', the band of the settings) or band-energy ratios, spectral shape and time
statistics ('shape', ``features.clipstats``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.special
import sklearn.covariance
import sklearn.decomposition
import sklearn.mixture

from drill_jax import features
from drill_jax.classify import classical
from drill_jax.detection import family

SCORERS = ("zscore", "mahalanobis", "knn", "gmm")
FEATURE_SETS = ("logmel64", "shape")
FEATURES = {"zscore": "logmel64", "mahalanobis": "shape", "knn": "logmel64", "gmm": "shape"}


def clip_features(name: str, clips: np.ndarray, settings: features.FeatureSettings) -> np.ndarray:
    """Feature set ``name`` of clips. [N, L] -> [N, D] float64 ('logmel64': D = frames * 64,
    ``features.extract`` with 64 bands; 'shape': D = 31, ``classify.classical``)."""
    if name == "logmel64":
        lm = features.extract(dataclasses.replace(settings, n_mels=64), clips)
        return lm.reshape(len(clips), -1).astype(np.float64)
    if name == "shape":
        return classical.clip_features("shape", list(clips), settings.sample_rate, settings.band_hz)
    raise ValueError(f"unknown label-free feature set {name!r}; one of {list(FEATURE_SETS)}")


def _check(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected features [N >= 1, D], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: features hold non-finite values")
    return x


def fit(name: str, normal: np.ndarray, k: int = 3, components: int = 2, seed: int = 0) -> dict:
    """Fits scorer ``name`` on normal features [N, D] (N >= 2; 'gmm' N >= 4). -> arrays."""
    x = _check(normal, "normal features")
    if x.shape[0] < 2:
        raise ValueError(f"a label-free scorer needs >= 2 normal sounds, got {x.shape[0]}")
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    if name == "zscore":
        return {"mean": mean, "std": std}
    z = (x - mean) / std
    if name == "mahalanobis":
        lw = sklearn.covariance.LedoitWolf().fit(z)
        return {"mean": mean, "std": std, "location": lw.location_, "precision": lw.precision_}
    if name == "knn":
        ref = x - mean
        ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
        return {"mean": mean, "ref": ref, "k": np.array(min(k, x.shape[0]))}
    if name == "gmm":
        n_pc = min(10, x.shape[0] - 1, x.shape[1])
        pca = sklearn.decomposition.PCA(n_pc, random_state=seed).fit(z)
        gmm = sklearn.mixture.GaussianMixture(
            max(1, min(components, x.shape[0] // 2)), covariance_type="diag", random_state=seed
        ).fit(pca.transform(z))
        return {
            "mean": mean,
            "std": std,
            "pca_mean": pca.mean_,
            "pca_components": pca.components_,
            "weights": gmm.weights_,
            "means": gmm.means_,
            "variances": gmm.covariances_,
        }
    raise ValueError(f"unknown label-free scorer {name!r}; one of {list(SCORERS)}")


def score(name: str, state: dict, x: np.ndarray) -> np.ndarray:
    """Anomaly scores [M] of features [M, D] under a fitted scorer (higher = less normal)."""
    x = _check(x, "features")
    if name == "zscore":
        return np.mean(((x - state["mean"]) / state["std"]) ** 2, axis=1)
    if name == "mahalanobis":
        d = (x - state["mean"]) / state["std"] - state["location"]
        return np.einsum("nd,de,ne->n", d, state["precision"], d)
    if name == "knn":
        q = x - state["mean"]
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        d = 1.0 - q @ state["ref"].T
        return np.sort(d, axis=1)[:, : int(state["k"])].mean(axis=1)
    if name == "gmm":
        z = ((x - state["mean"]) / state["std"] - state["pca_mean"]) @ state["pca_components"].T
        return -_diag_gmm_loglik(z, state["weights"], state["means"], state["variances"])
    raise ValueError(f"unknown label-free scorer {name!r}; one of {list(SCORERS)}")


def _diag_gmm_loglik(z, weights, means, variances) -> np.ndarray:
    """log p(z) under a diagonal Gaussian mixture. z [N, P], weights [K], means and
    variances [K, P] -> [N] nats (sklearn's ``score_samples`` from stored parameters)."""
    diff = z[:, None, :] - means[None]  # [N, K, P]
    log_comp = -0.5 * np.sum(diff**2 / variances + np.log(2 * np.pi * variances), axis=-1)
    return scipy.special.logsumexp(log_comp + np.log(weights)[None], axis=1)


def standardiser(train_scores: np.ndarray) -> np.ndarray:
    """(median, scale) of normal training scores [N]: (s - median) / scale maps the median
    to 0 and the 90th percentile to 1 (how the ensemble puts its members on one scale)."""
    mid = np.median(train_scores)
    return np.array([mid, max(np.percentile(train_scores, 90) - mid, 1e-12)])


def _params(config) -> dict:
    """A label-free model config's scorer parameters (every field but ``features``)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "features"}


def fit_clips(name: str, config, clips: np.ndarray, settings: features.FeatureSettings) -> dict:
    """Scorer ``name`` fitted on the ``config.features`` of normal clips [N, L] -> arrays."""
    return fit(name, clip_features(config.features, clips, settings), **_params(config))


def score_clips(name: str, config, settings: features.FeatureSettings, arrays: dict, clips):
    """Scores [N] float64 of clips [N, L] under a scorer fitted by ``fit_clips``."""
    x = clip_features(config.features, np.asarray(clips, np.float32), settings)
    return score(name, arrays, x).astype(np.float64)


def check_clips(name: str, config, settings: features.FeatureSettings, arrays, where: str):
    """ValueError unless ``arrays`` are scorer ``name``'s, fitted on ``config.features`` of
    clips at these settings (checked on a fit to two silent clips)."""
    silent = np.zeros((2, settings.clip_samples), np.float32)
    silent[1, ::7] = 1e-3  # two distinct rows
    template = fit(name, clip_features(config.features, silent, settings), **_params(config))
    want = {k: np.shape(v)[1:] if k in ("ref",) else np.shape(v) for k, v in template.items()}
    got = {k: np.shape(v)[1:] if k in ("ref",) else np.shape(v) for k, v in arrays.items()}
    if sorted(got) != sorted(want) or (name != "gmm" and got != want):
        raise ValueError(f"{where}: arrays do not match a {name} scorer on {config.features}")


def model_functions(name: str):
    """(fit, score, check) of the saved-detector model of scorer ``name`` (the family
    functions of ``detection.registry``; one definition for the four label-free models)."""

    def fit_model(config, clips, settings: features.FeatureSettings, key) -> family.Fitted:
        """Fits on normal clips (a ``data.Dataset`` of [settings.clip_samples] sounds;
        labels ignored; deterministic, ``key`` unused)."""
        del key
        return family.Fitted(
            config, fit_clips(name, config, np.stack(clips.waveforms), settings), {}
        )

    def score_model(config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
        """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
        return score_clips(name, config, settings, arrays, clips)

    def check_model(config, settings: features.FeatureSettings, arrays, where: str) -> None:
        """ValueError unless the arrays are this scorer's on these features."""
        check_clips(name, config, settings, arrays, where)

    return fit_model, score_model, check_model


def check_features(config) -> None:
    """ValueError unless ``config.features`` names a feature set."""
    if config.features not in FEATURE_SETS:
        raise ValueError(f"features: one of {FEATURE_SETS}, got {config.features!r}")
