"""Scoring with a detector: window (clip) scores, file scores, higher = more anomalous.

``score_clips`` hands clips to the detector's model (``detection.registry``); ``file_scores``
cuts each recording into windows (``data.window_signal``), scores them once and aggregates
each file's window scores (``thresholds.aggregate``, the detector's ``aggregate``), the unit
that ``Detector.file_threshold`` was chosen on.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from drill_jax import data
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import registry, thresholds
from drill_jax.detection.detector import Detector
from drill_jax.detection.models import jax_cnn


def score_clips(detector: Detector, clips, sample_rate: Optional[int] = None) -> np.ndarray:
    """Window scores. [N, clip_samples] float in [-1, 1] -> [N] float64; compare with
    ``detector.threshold``. ``sample_rate`` (Hz), when given, is checked."""
    if sample_rate is not None:
        detector_lib.check_rate(detector, sample_rate)
    clips = detector_lib.check_clips(detector.settings, clips)
    module = registry.get(detector.model)
    return module.score(detector.model_config, detector.settings, detector.variables, clips)


def file_windows(detector: Detector, recordings: Sequence[np.ndarray], hop: Optional[int] = None):
    """Windows of recordings (``hop`` samples apart, default one clip) -> (windows [W, L],
    starts [W] samples, owner [W] index of the recording). Each recording must hold at
    least one clip."""
    n = detector.settings.clip_samples
    hop = int(hop or n)
    if hop < 1:
        raise ValueError(f"window hop must be >= 1 sample, got {hop}")
    cut = [data.window_signal(np.asarray(x, np.float32), n, hop) for x in recordings]
    owner = np.concatenate([np.full(len(w), i) for i, (w, _) in enumerate(cut)])
    return np.concatenate([w for w, _ in cut]), np.concatenate([s for _, s in cut]), owner


def aggregate_files(window_scores: np.ndarray, owner: np.ndarray, n_files: int, how: str):
    """File scores [n_files] from window scores [W] with their file index ``owner`` [W]."""
    return np.array([thresholds.aggregate(window_scores[owner == i], how) for i in range(n_files)])


def file_scores(detector: Detector, recordings: Sequence[np.ndarray], hop: Optional[int] = None):
    """Scores of whole recordings: (file scores [F] (compare with ``file_threshold``),
    window scores [W], starts [W], owner [W])."""
    windows, starts, owner = file_windows(detector, recordings, hop)
    s = score_clips(detector, windows)
    return aggregate_files(s, owner, len(recordings), detector.aggregate), s, starts, owner


def warm_up(detector: Detector, max_batch: int) -> None:
    """Compiles the scoring for batches of 1 and ``max_batch`` clips before a stream starts,
    so the first chunks do not pay the compilation (it would count in their latency)."""
    for n in sorted({1, max(1, int(max_batch))}):
        score_clips(detector, np.zeros((n, detector.settings.clip_samples), np.float32))


def _classifier_state(detector: Detector):
    """A ``cnn.ClassifierState`` of a jax_cnn detector (for ``bench.suite_detect``'s stage
    timing of ``cnn.predict_proba``)."""
    return jax_cnn.classifier_state(detector.model_config, detector.settings, detector.variables)
