"""Interpretable summary features of short triggered sounds: where the onset is, how sharp it
is, how fast the sound decays, how peaky it is, where its power lies and how many clicks it
holds. A generator whose sounds differ from real ones shows here in words, not only as a
classifier score.

Every feature is a pure function of one clip [T] (float, any scale) and the sample rate (Hz);
``summary_features`` stacks them for a set: [N, T] -> [N, len(NAMES)].

* ``onset_ms``: the sample where the mean power of the next ``ONSET_SPAN`` samples most
  exceeds that of the previous ``ONSET_SPAN`` (dB ratio), in ms from the clip start.
* ``onset_contrast_db``: that ratio (dB) at the onset.
* ``decay_ms``: time from the envelope's peak (``ENVELOPE_SAMPLES``-sample moving RMS) until
  it first falls 20 dB below the peak (the clip's end if it never does), in ms.
* ``crest_factor_db``: 20 log10(peak |x| / RMS).
* ``kurtosis``: Pearson kurtosis of the samples (3 for Gaussian noise; heavy-tailed clicks
  raise it).
* ``level_db``: 10 log10(mean x^2) (dB re full scale 1.0).
* ``dominant_khz``: frequency of the largest periodogram bin (kHz).
* ``transients``: peaks of the ``ENVELOPE_SAMPLES // 2``-sample moving RMS of the first
  difference (clicks stand out there) above a quarter of its maximum, at least 0.5 ms apart.
* ``share_<lo>_<hi>k``: fraction of the clip's power between lo and hi kHz
  (``BAND_EDGES_KHZ``; the last band runs to the Nyquist frequency).
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.stats

ONSET_SPAN = 128  # samples compared before / after a candidate onset (1.3 ms at 96 kHz)
ENVELOPE_SAMPLES = 32  # moving-RMS window of the decay envelope (0.33 ms at 96 kHz)
DECAY_DB = 20.0
BAND_EDGES_KHZ = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
_TINY = 1e-20


_BAND_NAMES = tuple(
    f"share_{lo:g}_{hi:g}k" for lo, hi in zip(BAND_EDGES_KHZ, BAND_EDGES_KHZ[1:])
) + (f"share_{BAND_EDGES_KHZ[-1]:g}k_up",)

NAMES = (
    "onset_ms",
    "onset_contrast_db",
    "decay_ms",
    "crest_factor_db",
    "kurtosis",
    "level_db",
    "dominant_khz",
    "transients",
) + _BAND_NAMES


def moving_rms(x: np.ndarray, width: int) -> np.ndarray:
    """sqrt of the centred moving mean of x^2 over ``width`` samples: [T] -> [T] ('same')."""
    kernel = np.full(int(width), 1.0 / int(width))
    return np.sqrt(np.maximum(np.convolve(np.square(x), kernel, mode="same"), 0.0))


def onset(x: np.ndarray, span: int = ONSET_SPAN) -> tuple[int, float]:
    """(onset sample, contrast dB) of clip x [T]: the t in [span, T - span] maximising
    10 log10(mean(x[t:t+span]^2) / mean(x[t-span:t]^2))."""
    x = np.asarray(x, np.float64)
    if x.shape[0] < 2 * span + 1:
        raise ValueError(f"a clip of {x.shape[0]} samples is too short for onset spans of {span}")
    c = np.concatenate([[0.0], np.cumsum(np.square(x))])
    t = np.arange(span, x.shape[0] - span + 1)
    after = (c[t + span] - c[t]) / span
    before = (c[t] - c[t - span]) / span
    ratio = 10.0 * np.log10((after + _TINY) / (before + _TINY))
    k = int(np.argmax(ratio))
    return int(t[k]), float(ratio[k])


def decay_samples(x: np.ndarray, drop_db: float = DECAY_DB) -> int:
    """Samples from the envelope peak until the envelope first lies ``drop_db`` below it (to
    the clip's end if it never does). Envelope: ``moving_rms(x, ENVELOPE_SAMPLES)``."""
    env_db = 20.0 * np.log10(moving_rms(np.asarray(x, np.float64), ENVELOPE_SAMPLES) + 1e-12)
    peak = int(np.argmax(env_db))
    below = np.flatnonzero(env_db[peak:] < env_db[peak] - drop_db)
    return int(below[0]) if below.size else int(x.shape[0] - peak)


def transient_count(x: np.ndarray, sample_rate: float) -> int:
    """Clicks in clip x [T]: peaks of the moving RMS of its first difference above a quarter of
    that envelope's maximum, at least 0.5 ms apart."""
    env = moving_rms(np.diff(np.asarray(x, np.float64)), max(ENVELOPE_SAMPLES // 2, 1))
    if not env.max() > 0:
        return 0
    peaks, _ = scipy.signal.find_peaks(
        env, height=0.25 * env.max(), distance=max(int(5e-4 * sample_rate), 1)
    )
    return int(peaks.size)


def band_shares(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """Fraction of the periodogram power in each ``BAND_EDGES_KHZ`` band (the last to the
    Nyquist frequency): [len(BAND_EDGES_KHZ)], sums to 1."""
    power = np.square(np.abs(np.fft.rfft(np.asarray(x, np.float64))))
    freqs_khz = np.fft.rfftfreq(x.shape[0], 1.0 / sample_rate) / 1e3
    edges = np.array(BAND_EDGES_KHZ + (np.inf,))
    band = np.clip(np.searchsorted(edges, freqs_khz, side="right") - 1, 0, len(edges) - 2)
    shares = np.bincount(band, weights=power, minlength=len(BAND_EDGES_KHZ))
    return shares / max(shares.sum(), _TINY)


def clip_summary(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """The ``NAMES`` features of one clip x [T] (units in the module docstring): [len(NAMES)]."""
    x = np.asarray(x, np.float64)
    ms = 1e3 / sample_rate
    rms = np.sqrt(np.mean(np.square(x)))
    start, contrast = onset(x)
    spectrum = np.abs(np.fft.rfft(x))
    head = [
        start * ms,
        contrast,
        decay_samples(x) * ms,
        20.0 * np.log10((np.max(np.abs(x)) + 1e-12) / (rms + 1e-12)),
        float(scipy.stats.kurtosis(x, fisher=False)) if rms > 0 else 0.0,
        10.0 * np.log10(rms**2 + _TINY),
        np.fft.rfftfreq(x.shape[0], 1.0 / sample_rate)[np.argmax(spectrum)] / 1e3,
        transient_count(x, sample_rate),
    ]
    return np.concatenate([np.asarray(head, np.float64), band_shares(x, sample_rate)])


def summary_features(clips: np.ndarray, sample_rate: float) -> np.ndarray:
    """``clip_summary`` of every clip: [N, T] -> [N, len(NAMES)] float64."""
    clips = np.asarray(clips, np.float64)
    if clips.ndim != 2 or clips.shape[0] == 0:
        raise ValueError(f"need clips [N >= 1, T], got shape {clips.shape}")
    return np.stack([clip_summary(c, sample_rate) for c in clips])
