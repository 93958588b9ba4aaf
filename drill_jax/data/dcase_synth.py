"""Synthetic DCASE-format trees: harmonic machine hums whose pitch depends on section and a
'speed' attribute, a target domain with another speed and more noise, anomalies as an added
off-harmonic tone or clicks. For tests, the benchmark and local recipe runs (never real data).

``make_tree(root, ...)`` writes a tree that ``drill_jax.data.dcase`` reads; the same seed writes
the same files.
"""

from __future__ import annotations

import os

import numpy as np

from drill_jax.data.audio_io import write_wav

BASE_HZ = {"fan": 110.0, "valve": 170.0, "ToyCar": 130.0, "bearing": 90.0}


def hum(rng: np.random.Generator, f0: float, seconds: float, rate: int, noise: float):
    """[T] harmonic hum (6 partials with jittered amplitudes and phases) + white noise."""
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for h in range(1, 7):
        amp = (1.0 / h) * (1 + 0.1 * rng.standard_normal())
        x += amp * np.sin(2 * np.pi * f0 * h * (1 + 0.002 * rng.standard_normal()) * t
                          + rng.uniform(0, 2 * np.pi))
    x += noise * rng.standard_normal(t.size)
    return 0.1 * x / np.max(np.abs(x))


def anomaly(rng: np.random.Generator, x: np.ndarray, f0: float, rate: int, strength: float):
    """Adds an off-harmonic tone (even draws) or a train of clicks (odd draws) to [T]."""
    t = np.arange(x.size) / rate
    if rng.integers(2) == 0:
        return x + strength * 0.05 * np.sin(2 * np.pi * f0 * 3.43 * t)
    clicks = np.zeros_like(x)
    clicks[rng.integers(0, x.size, size=int(20 * x.size / rate))] = strength * 0.3
    return x + clicks


def make_tree(root: str, machine_types=("fan", "valve"), sections=("00", "01"),
              counts=(12, 2, 4), seconds=1.0, rate=16000, seed=0, strength=1.0) -> str:
    """Writes <root>/<machine>/{train,test}/section_XX_<domain>_<split>_<label>_NNNN_speed_V.wav.

    counts = (source train files, target train files, test files per domain and label), all per
    section and machine type; seconds and rate (Hz) of every file. Speeds: source 1-2,
    target 3. Returns root.
    """
    rng = np.random.default_rng(seed)
    for mt in machine_types:
        for sec in sections:
            f_sec = BASE_HZ.get(mt, 120.0) * (1 + 0.25 * int(sec))
            for split, domain, label, n in _plan(counts):
                folder = os.path.join(root, mt, split)
                for i in range(n):
                    speed = 3 if domain == "target" else 1 + i % 2
                    f0 = f_sec * (1 + 0.06 * speed)
                    x = hum(rng, f0, seconds, rate, 0.05 if domain == "source" else 0.15)
                    if label == "anomaly":
                        x = anomaly(rng, x, f0, rate, strength)
                    name = f"section_{sec}_{domain}_{split}_{label}_{i:04d}_speed_{speed}.wav"
                    write_wav(os.path.join(folder, name), np.clip(x, -1, 1), rate)
    return root


def _plan(counts):
    n_src, n_tgt, n_test = counts
    yield "train", "source", "normal", n_src
    yield "train", "target", "normal", n_tgt
    for domain in ("source", "target"):
        for label in ("normal", "anomaly"):
            yield "test", domain, label, n_test
