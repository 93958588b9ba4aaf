"""Supervised ``jax_cnn``: the band CNN of ``classify.cnn`` on a clip's log-Mel; score =
P(anomaly), the softmax probability of the positive class (anomaly vs everything else)."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import data, features, training
from drill_jax.classify import cnn
from drill_jax.detection import family

KIND = "supervised"
SCORE_NAME = "p_anomaly"
SCORE_MEANING = "softmax probability of the anomaly class (0..1)"
Config = cnn.ClassifierConfig
_BUCKET = 64  # scoring runs in chunks of this many clips (fewer compiled shapes)


def fit(
    config: Config, clips: data.Dataset, settings: features.FeatureSettings, key
) -> family.Fitted:
    """Trains the CNN on clips [N, settings.clip_samples] (labels: positive class or not)."""
    config = dataclasses.replace(config, n_classes=2)
    x = features.extract(settings, np.stack(clips.waveforms))
    y = (clips.labels == clips.positive_index).astype(np.int64)
    state, history = cnn.fit(x, y, config, key)
    arrays = jax.device_get({"params": state.params, "x_mean": state.x_mean, "x_std": state.x_std})
    return family.Fitted(config, arrays, {"final_train_loss": float(history[-1].train_loss)})


@functools.lru_cache(maxsize=8)
def _proba_fn(config: Config):
    model = cnn.make_model(config)

    @jax.jit
    def f(arrays, x):
        # x: [B, F, M] log-Mel dB -> [B] P(anomaly)
        z = (x - arrays["x_mean"][None]) / arrays["x_std"][None]
        return jax.nn.softmax(model.apply({"params": arrays["params"]}, z, train=False))[:, 1]

    return f


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """P(anomaly) [N] float64 of clips [N, settings.clip_samples]."""
    f = _proba_fn(config)
    x = features.extract(settings, clips)
    return np.asarray(
        training.apply_in_buckets(lambda rows: f(arrays, rows), x, _BUCKET), np.float64
    )


def classifier_state(config: Config, settings: features.FeatureSettings, arrays):
    """A ``cnn.ClassifierState`` holding the arrays (for ``cnn.predict_proba`` and timing);
    ``arrays`` None: freshly initialised ones."""
    template = np.zeros((1, settings.n_frames, settings.n_mels), np.float32)
    state = cnn.create_state(config, template, jax.random.key(0))
    if arrays is None:
        return state
    return state.replace(
        params=jax.tree.map(jnp.asarray, arrays["params"]),
        x_mean=jnp.asarray(arrays["x_mean"]),
        x_std=jnp.asarray(arrays["x_std"]),
    )


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless the arrays fit the config's network at these feature settings."""
    state = classifier_state(config, settings, None)
    template = {"params": state.params, "x_mean": state.x_mean, "x_std": state.x_std}
    family.check_like(template, arrays, where)
