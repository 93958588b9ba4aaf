"""Decision thresholds from scores of normal sounds, and file scores from window scores.

* ``gamma`` fits a gamma distribution (shape, loc, scale by maximum likelihood,
  ``scipy.stats.gamma.fit``) to normal scores and takes its ``quantile`` (0.9) point, as the
  DCASE 2020-2023 baselines; a degenerate fit falls back to the empirical quantile
  (``percentile``), and says so: fewer than 3 distinct scores, a non-finite point, or a
  shape below 1 with the location at the smallest score. There the likelihood grows without
  bound as the location nears the smallest score, so the fit has no maximum and its point
  jumps with the last digits of the scores (on a label-free default's 30 held-out window
  scores, from 5.9 to 3.1 when they moved by 1e-4 of their std).
* ``normal`` takes the ``quantile`` point of a normal distribution fitted to them (mean +
  Phi^-1(quantile) x sample std): for scores that are sums of standardised components, which
  have no lower bound and on which the gamma fit often has no maximum (above).
* A file's score aggregates its window scores (``AGGREGATES``). The default is the MEAN:
  it is what the DCASE baselines do (the mean error over a recording's frames), it does not
  grow with the number of windows (a file's MAX window score does, so a threshold chosen on
  files of one length flags longer normal files more often), and one noisy window moves it
  little. 'max' suits an anomaly that fills a small part of a long file; 'median' ignores
  up to half of the windows.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from absl import logging

RULES = ("gamma", "percentile", "normal")
BOUNDARY = 1e-6  # a gamma loc within this share of the scores' range of their minimum
AGGREGATES = {"mean": np.mean, "max": np.max, "median": np.median}


def _check_scores(scores) -> np.ndarray:
    s = np.asarray(scores, np.float64).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("scores must be a non-empty array of finite values")
    return s


def gamma_threshold(scores, quantile: float = 0.9) -> tuple[float, dict]:
    """``quantile`` point of a gamma distribution fitted to ``scores`` [N] (N >= 3).

    Returns (threshold, {'rule', 'shape', 'loc', 'scale', 'quantile'}). Raises ValueError
    if the fit fails.
    """
    s = _check_scores(scores)
    if s.size < 3 or np.ptp(s) == 0:
        raise ValueError(f"a gamma fit needs >= 3 distinct scores, got {s.size}")
    shape, loc, scale = scipy.stats.gamma.fit(s)
    if shape < 1.0 and loc >= s.min() - BOUNDARY * np.ptp(s):
        raise ValueError(f"gamma fit on the likelihood's unbounded boundary (shape {shape:.3g} "
                         "< 1, loc at the smallest score)")
    thr = float(scipy.stats.gamma.ppf(quantile, shape, loc=loc, scale=scale))
    if not np.isfinite(thr):
        raise ValueError(f"gamma fit gave a non-finite threshold ({shape}, {loc}, {scale})")
    info = {"rule": "gamma", "quantile": quantile, "shape": float(shape)}
    return thr, dict(info, loc=float(loc), scale=float(scale))


def normal_threshold(scores, quantile: float = 0.9) -> tuple[float, dict]:
    """``quantile`` point of a normal distribution fitted to ``scores`` [N] (N >= 2): mean +
    Phi^-1(quantile) x std (ddof 1). Returns (threshold, {'rule', 'quantile', 'mean',
    'std'}). Raises ValueError for fewer than 2 distinct scores."""
    s = _check_scores(scores)
    if s.size < 2 or np.ptp(s) == 0:
        raise ValueError(f"a normal fit needs >= 2 distinct scores, got {s.size}")
    mean, std = float(s.mean()), float(s.std(ddof=1))
    thr = mean + float(scipy.stats.norm.ppf(quantile)) * std
    return thr, {"rule": "normal", "quantile": quantile, "mean": mean, "std": std}


def percentile_threshold(scores, quantile: float = 0.9) -> tuple[float, dict]:
    """Empirical ``quantile`` of ``scores`` [N] (numpy linear interpolation)."""
    s = _check_scores(scores)
    return float(np.quantile(s, quantile)), {"rule": "percentile", "quantile": quantile}


def one_of(what: str, name: str, valid) -> None:
    """One-line ValueError unless ``name`` is in ``valid`` (a tuple or dict of names)."""
    if name not in valid:
        raise ValueError(f"unknown {what} {name!r}; one of {list(valid)}")


def choose_threshold(scores, rule: str, quantile: float) -> tuple[float, dict]:
    """Threshold by ``rule``; a failed gamma or normal fit falls back to the percentile
    (logged)."""
    one_of("threshold rule", rule, RULES)
    if rule == "percentile":
        return percentile_threshold(scores, quantile)
    try:
        return (gamma_threshold if rule == "gamma" else normal_threshold)(scores, quantile)
    except ValueError as err:
        logging.warning("%s fit failed (%s); using the empirical percentile", rule, err)
        thr, info = percentile_threshold(scores, quantile)
        return thr, dict(info, fallback_from=rule)


def aggregate(window_scores, how: str = "mean") -> float:
    """A file's score from its window scores [W >= 1] ('mean', 'max' or 'median')."""
    one_of("file aggregate", how, AGGREGATES)
    return float(AGGREGATES[how](_check_scores(window_scores)))
