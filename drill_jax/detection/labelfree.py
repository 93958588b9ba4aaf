"""What the label-free clip scorers share: models of NORMAL sounds only, higher = less normal.

A label-free model module (``detection.models.zscore``, ``mahalanobis``, ``knn``, ``gmm``)
owns its statistics as two pure functions, ``fit_features(config, normal [N, D]) -> arrays``
(a dict of NumPy arrays, which a saved detector stores as it is; deterministic) and
``score_features(arrays, x [M, D]) -> [M]``; its registry entry ``MODEL`` is a ``ClipModel``
made from those two (fit / score / check on clips), and the ensemble model averages any of
them. Here: the feature sets they read (``FEATURE_SETS``), the input checks, the normal
sounds' mean and std, and the standardiser that puts scores on one scale.

Feature sets: 64-band log-Mel of one clip ('logmel64', the band of the settings) or band-energy
ratios, spectral shape and time statistics ('shape', ``features.clipstats``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import numpy as np

from drill_jax import features
from drill_jax.classify import classical
from drill_jax.detection import family


def _logmel64(clips: np.ndarray, settings: features.FeatureSettings) -> np.ndarray:
    """[N, L] -> [N, frames * 64] float64: ``features.extract`` with 64 Mel bands, flattened."""
    lm = features.extract(dataclasses.replace(settings, n_mels=64), clips)
    return lm.reshape(len(clips), -1).astype(np.float64)


def _shape(clips: np.ndarray, settings: features.FeatureSettings) -> np.ndarray:
    """[N, L] -> [N, 31] float64: ``classify.classical``'s 'shape' clip features in the band."""
    return classical.clip_features("shape", list(clips), settings.sample_rate, settings.band_hz)


FEATURE_SETS = {"logmel64": _logmel64, "shape": _shape}


def feature_set(name: str) -> Callable:
    """The feature set ``name``: f(clips [N, L], settings) -> [N, D] float64. One-line
    ValueError listing the names otherwise."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown label-free feature set {name!r}; one of {sorted(FEATURE_SETS)}"
        ) from None


def clip_features(name: str, clips: np.ndarray, settings: features.FeatureSettings) -> np.ndarray:
    """Feature set ``name`` of clips. [N, L] -> [N, D] float64."""
    return feature_set(name)(clips, settings)


def query_features(x) -> np.ndarray:
    """Features [M >= 1, D] as float64; one-line ValueError for another shape or a non-finite
    value."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"features: expected [N >= 1, D], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features: hold non-finite values")
    return x


def normal_features(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, mean, std) of normal features x [N >= 2, D] (float64; std floored at 1e-3, [D]
    each); one-line ValueError for fewer than 2 sounds or bad features."""
    x = query_features(x)
    if x.shape[0] < 2:
        raise ValueError(f"a label-free scorer needs >= 2 normal sounds, got {x.shape[0]}")
    return x, x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)


def standardiser(train_scores: np.ndarray) -> np.ndarray:
    """(median, scale) of normal training scores [N]: (s - median) / scale maps the median
    to 0 and the 90th percentile to 1 (how the ensemble puts its members on one scale)."""
    mid = np.median(train_scores)
    return np.array([mid, max(np.percentile(train_scores, 90) - mid, 1e-12)])


def _fixed_shapes(arrays: dict, data_axes: dict) -> dict:
    """name -> shape of every array without its leading axes that grow with the data."""
    return {k: np.shape(v)[data_axes.get(k, 0) :] for k, v in arrays.items()}


@dataclasses.dataclass(frozen=True, eq=False)  # one per model: compared and hashed by identity
class ClipModel:
    """The registry entry of a label-free model of clip features (the names and functions of
    ``detection.registry``), made from its ``Config`` (with a ``features`` field),
    ``fit_features(config, [N, D]) -> arrays`` and ``score_features(arrays, [M, D]) -> [M]``.

    ``data_axes`` names the arrays whose leading axes grow with the training data (name ->
    number of such axes); ``check`` compares the other axes and every other shape with a fit
    to two silent clips at the same settings.
    """

    SCORE_NAME: str
    SCORE_MEANING: str
    Config: type
    fit_features: Callable
    score_features: Callable
    data_axes: dict = dataclasses.field(default_factory=dict)
    KIND: ClassVar[str] = "unsupervised"

    def fit(self, config, clips, settings: features.FeatureSettings, key) -> family.Fitted:
        """Fits on normal clips (a ``data.Dataset`` of [settings.clip_samples] sounds;
        labels ignored; deterministic, ``key`` unused)."""
        del key
        x = clip_features(config.features, np.stack(clips.waveforms), settings)
        return family.Fitted(config, self.fit_features(config, x), {})

    def score(self, config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
        """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
        x = clip_features(config.features, np.asarray(clips, np.float32), settings)
        return self.score_features(arrays, x).astype(np.float64)

    def check(self, config, settings: features.FeatureSettings, arrays, where: str) -> None:
        """ValueError unless ``arrays`` are this model's, fitted on ``config.features`` of
        clips at these settings."""
        silent = np.zeros((2, settings.clip_samples), np.float32)
        silent[1, ::7] = 1e-3  # two distinct rows
        template = self.fit_features(config, clip_features(config.features, silent, settings))
        want = _fixed_shapes(template, self.data_axes)
        if not isinstance(arrays, dict) or _fixed_shapes(arrays, self.data_axes) != want:
            raise ValueError(f"{where}: arrays do not match a {self.SCORE_NAME} model of {config}")
