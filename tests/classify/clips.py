"""Tiny labelled clips as FeatureSets for the backbone tests."""

import numpy as np

from drill_jax.evaluation import examples
from drill_jax.features import FeatureSettings


def feature_set(n, seed, sr=16000):
    """Two classes of 2000-sample clips: class 0 a noisy 2 kHz tone, class 1 white noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    t = np.arange(2000) / sr
    waves = tuple(
        (np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.3 * rng.normal(size=2000)).astype(np.float32)
        for y in labels
    )
    ex = examples.Examples(waves, labels, np.arange(n) + 1000 * seed, np.zeros(n, bool))
    return examples.make_features(ex, FeatureSettings(sample_rate=sr, band_hz=None))
