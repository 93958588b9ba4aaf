"""Clip-level feature sets: one vector per clip for classical detectors (pure NumPy).

Each set is a pure function of a batch of equal-length clips ``x`` [N, T] (float, any unit
of amplitude) and the sample rate, and returns [N, D] float64 with the names of its D
columns from ``*_names``:

* ``log_mel_stats``: log-Mel (dB) per frame at one resolution (window, hop, bands), then
  the mean, std and percentiles over frames of every band.
* ``mfcc_stats``: MFCC (orthonormal DCT-II of the log-Mel dB) and their deltas (frame
  differences), mean and std over frames.
* ``band_energy_ratios``: share of the clip's power in each band between given edges, in
  dB (10 log10 of the share).
* ``spectral_shape``: per-frame centroid and bandwidth (kHz), flatness (dB), roll-off
  (85 % of the power, kHz) and contrast (peak minus valley dB in octave bands), mean and
  std over frames.
* ``time_stats``: RMS level (dBFS), crest factor (dB), excess kurtosis, zero-crossing
  rate (crossings per sample), peak level (dBFS).

``ClipStatsSettings`` chooses the sets, their resolutions and the band-pass applied first
(the paper's 1-22 kHz, none, or any other: the same ``features.make_band_filter``).
``clip_stats(settings, clips)`` stacks the chosen sets; clips of different lengths are
grouped by length, so a clip's features never depend on the other clips of the call.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional

import numpy as np
import scipy.fft
import scipy.signal

from drill_jax.features import mel as mel_lib
from drill_jax.features import settings as settings_lib

SETS = ("log_mel_stats", "mfcc_stats", "band_energy_ratios", "spectral_shape", "time_stats")
_EPS = 1e-12  # power floor (relative units) before dB


@dataclasses.dataclass(frozen=True)
class ClipStatsSettings:
    """Which clip-level features, and how. Units: Hz, samples.

    Attributes:
      sample_rate: Hz.
      band_hz: band-pass applied first: (low, high) Hz, one edge None, or None = no filter.
      sets: names from ``SETS``, stacked in this order.
      resolutions: log-Mel statistics at each (window samples, hop samples, Mel bands).
        A clip shorter than a window gives that resolution one frame of the whole clip,
        zero-padded to the window.
      percentiles: percentiles (0-100) over frames in ``log_mel_stats``.
      n_mfcc: MFCC coefficients (of ``mfcc_bands`` log-Mel bands, first resolution's
        window and hop).
      band_edges_hz: edges of the ``band_energy_ratios`` bands (ascending, from 0).
      shape_window: window and hop (samples) of the ``spectral_shape`` frames.
    """

    sample_rate: int = 96000
    band_hz: Optional[tuple] = None
    sets: tuple = SETS
    resolutions: tuple = ((1999, 1487, 32), (512, 256, 64))
    percentiles: tuple = (10.0, 50.0, 90.0)
    n_mfcc: int = 13
    mfcc_bands: int = 40
    band_edges_hz: tuple = (0.0, 1000.0, 4000.0, 10000.0, 22000.0, 40000.0, 48000.0)
    shape_window: tuple = (512, 256)

    def __post_init__(self):
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        unknown = [s for s in self.sets if s not in SETS]
        if unknown or not self.sets:
            raise ValueError(f"sets must be a non-empty subset of {SETS}, got {self.sets}")
        for res in self.resolutions:
            if len(res) != 3 or min(res) < 1:
                raise ValueError(f"resolution must be (window, hop, bands) >= 1, got {res}")
        edges = np.asarray(self.band_edges_hz, float)
        if edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0:
            raise ValueError(f"band_edges_hz must ascend from >= 0, got {self.band_edges_hz}")
        if edges[-1] > self.sample_rate / 2 + 1e-6:
            raise ValueError(
                f"band edge {edges[-1]:g} Hz is above the Nyquist limit {self.sample_rate / 2:g} Hz"
            )
        if not 1 <= self.n_mfcc <= self.mfcc_bands:
            raise ValueError(f"n_mfcc must be in [1, mfcc_bands={self.mfcc_bands}]")


# ------------------------------------------------------------------ building blocks


def frame_power(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Periodic-Hann power spectra of frames. x [N, T] -> [N, frames, window // 2 + 1].

    Frames start every ``hop`` samples, no centring; a clip shorter than ``window`` gives
    one zero-padded frame. Power is |rfft|^2 / sum(window)^2 (a full-scale sine's peak
    bin: 0.25)."""
    x = _check_batch(x)
    if x.shape[1] < window:
        x = np.pad(x, ((0, 0), (0, window - x.shape[1])))
    n_frames = 1 + (x.shape[1] - window) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)[:, ::hop][:, :n_frames]
    win, norm = _window(window)
    spec = scipy.fft.rfft(frames * win, axis=-1)
    return (spec.real**2 + spec.imag**2) / norm


@functools.lru_cache(maxsize=16)
def _window(window: int) -> tuple[np.ndarray, float]:
    """Periodic Hann window and sum(window)^2."""
    win = scipy.signal.get_window("hann", window, fftbins=True)
    win.setflags(write=False)
    return win, float(np.sum(win)) ** 2


def _freqs(window: int, sample_rate: int) -> np.ndarray:
    return np.fft.rfftfreq(window, 1.0 / sample_rate)


@functools.lru_cache(maxsize=16)
def _mel_matrix(window: int, n_mels: int, sample_rate: int) -> np.ndarray:
    cfg = mel_lib.MelConfig(
        sample_rate=sample_rate, win_length=window, overlap=0, n_fft=window, n_mels=n_mels
    )
    return mel_lib.mel_filterbank(cfg).astype(np.float64)  # [bins, n_mels]


def log_mel_frames(x: np.ndarray, sample_rate: int, window: int, hop: int, n_mels: int):
    """log-Mel dB per frame. x [N, T] -> [N, frames, n_mels]."""
    power = frame_power(x, window, hop)
    return 10.0 * np.log10(power @ _mel_matrix(window, n_mels, sample_rate) + _EPS)


# ------------------------------------------------------------------ the sets


def log_mel_stats(
    x: np.ndarray, sample_rate: int, window: int, hop: int, n_mels: int, percentiles=(10, 50, 90)
) -> np.ndarray:
    """Mean, std and percentiles over frames of each log-Mel band (dB).
    x [N, T] -> [N, n_mels * (2 + len(percentiles))], grouped by statistic."""
    lm = log_mel_frames(x, sample_rate, window, hop, n_mels)
    parts = [lm.mean(axis=1), lm.std(axis=1)]
    if len(percentiles):
        parts += list(np.percentile(lm, list(percentiles), axis=1))
    return np.concatenate(parts, axis=1)


def mfcc_stats(
    x: np.ndarray, sample_rate: int, window: int, hop: int, n_bands: int, n_mfcc: int
) -> np.ndarray:
    """Mean and std over frames of the MFCC and their deltas.
    x [N, T] -> [N, 4 * n_mfcc]: mfcc mean, mfcc std, delta mean, delta std. A clip of one
    frame has zero deltas."""
    lm = log_mel_frames(x, sample_rate, window, hop, n_bands)
    mfcc = scipy.fft.dct(lm, type=2, norm="ortho", axis=-1)[..., :n_mfcc]
    delta = np.diff(mfcc, axis=1) if mfcc.shape[1] > 1 else np.zeros_like(mfcc)
    return np.concatenate(
        [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)], axis=1
    )


def band_energy_ratios(x: np.ndarray, sample_rate: int, edges_hz) -> np.ndarray:
    """Share of the clip's power in each band [edges[i], edges[i+1]) Hz, in dB.
    x [N, T] -> [N, len(edges) - 1]. The whole clip is one frame (periodic Hann)."""
    x = _check_batch(x)
    power = frame_power(x, x.shape[1], x.shape[1])[:, 0]  # [N, bins]
    f = _freqs(x.shape[1], sample_rate)
    edges = np.asarray(edges_hz, float)
    upper = np.where(np.arange(len(edges) - 1) == len(edges) - 2, np.inf, edges[1:])
    masks = (f[None, :] >= edges[:-1, None]) & (f[None, :] < upper[:, None])  # [B, bins]
    total = power.sum(axis=1, keepdims=True) + _EPS
    return 10.0 * np.log10(power @ masks.T.astype(float) / total + _EPS)


def spectral_shape(x: np.ndarray, sample_rate: int, window: int, hop: int) -> np.ndarray:
    """Mean and std over frames of centroid (kHz), bandwidth (kHz), flatness (dB),
    85 % roll-off (kHz) and contrast (dB, 6 octave bands from 200 Hz up).
    x [N, T] -> [N, 2 * 10]: means of the 10 per-frame values, then their stds."""
    power = frame_power(x, window, hop) + _EPS  # [N, F, bins]
    f = _freqs(window, sample_rate) / 1000.0
    p = power / power.sum(axis=-1, keepdims=True)
    centroid = p @ f
    bandwidth = np.sqrt(np.maximum(p @ f**2 - centroid**2, 0.0))
    flatness = 10.0 * (np.log10(power).mean(axis=-1) - np.log10(power.mean(axis=-1)))
    rolloff = f[np.argmax(np.cumsum(p, axis=-1) >= 0.85, axis=-1)]
    contrast = _contrast(power, f * 1000.0)
    per_frame = np.concatenate(
        [np.stack([centroid, bandwidth, flatness, rolloff], axis=-1), contrast], axis=-1
    )
    return np.concatenate([per_frame.mean(axis=1), per_frame.std(axis=1)], axis=1)


def _contrast(power: np.ndarray, f_hz: np.ndarray, n_bands: int = 6, fmin: float = 200.0):
    """Peak minus valley (dB; top and bottom 20 % of bins) in octave bands [N, F, n_bands]."""
    out = []
    for b in range(n_bands):
        lo, hi = fmin * 2.0**b, fmin * 2.0 ** (b + 1) if b < n_bands - 1 else np.inf
        band = np.sort(power[..., (f_hz >= lo) & (f_hz < hi)], axis=-1)
        if band.shape[-1] == 0:
            out.append(np.zeros(power.shape[:-1]))
            continue
        k = max(1, int(round(0.2 * band.shape[-1])))
        peak, valley = band[..., -k:].mean(axis=-1), band[..., :k].mean(axis=-1)
        out.append(10.0 * np.log10(peak / valley))
    return np.stack(out, axis=-1)


def time_stats(x: np.ndarray) -> np.ndarray:
    """RMS level (dBFS), crest factor (dB), excess kurtosis, zero-crossing rate
    (crossings per sample) and peak level (dBFS). x [N, T] -> [N, 5]."""
    x = _check_batch(x)
    rms = np.sqrt(np.mean(x**2, axis=1)) + _EPS
    peak = np.max(np.abs(x), axis=1) + _EPS
    centred = x - x.mean(axis=1, keepdims=True)
    var = np.mean(centred**2, axis=1) + _EPS
    kurt = np.mean(centred**4, axis=1) / var**2 - 3.0
    signs = np.signbit(x)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    return np.stack(
        [20 * np.log10(rms), 20 * np.log10(peak / rms), kurt, zcr, 20 * np.log10(peak)], axis=1
    )


# ------------------------------------------------------------------ the stack


def feature_names(settings: ClipStatsSettings) -> list:
    """Names of the columns of ``clip_stats(settings, ...)``, in order."""
    names = []
    for s in settings.sets:
        if s == "log_mel_stats":
            stats = ["mean", "std"] + [f"p{q:g}" for q in settings.percentiles]
            for w, _hop, m in settings.resolutions:
                names += [f"logmel{w}_{st}_b{b}" for st in stats for b in range(m)]
        elif s == "mfcc_stats":
            names += [
                f"{k}_{st}_{i}"
                for k in ("mfcc", "dmfcc")
                for st in ("mean", "std")
                for i in range(settings.n_mfcc)
            ]
        elif s == "band_energy_ratios":
            e = settings.band_edges_hz
            names += [f"band_{e[i]:g}_{e[i + 1]:g}Hz_db" for i in range(len(e) - 1)]
        elif s == "spectral_shape":
            per = ["centroid_khz", "bandwidth_khz", "flatness_db", "rolloff_khz"]
            per += [f"contrast{b}_db" for b in range(6)]
            names += [f"{p}_{st}" for st in ("mean", "std") for p in per]
        else:
            names += ["rms_dbfs", "crest_db", "kurtosis", "zcr", "peak_dbfs"]
    return names


def clip_stats(settings: ClipStatsSettings, clips) -> np.ndarray:
    """The chosen feature sets of every clip, band-passed first. [N, T] or N clips [T_i]
    -> [N, D] float64 (D = len(feature_names(settings))). Raises ValueError for an empty
    set, a clip that is not 1-D or holds non-finite samples."""
    items = settings_lib._check_clips(clips)
    lengths = np.array([c.shape[0] for c in items])
    band = _band(settings.band_hz, settings.sample_rate)
    out = None
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        batch = np.stack([items[i] for i in idx])
        if band is not None:
            batch = band(batch)
        feats = _stack(settings, np.asarray(batch, np.float64))
        if out is None:
            out = np.empty((len(items), feats.shape[1]))
        out[idx] = feats
    return out


def _stack(s: ClipStatsSettings, x: np.ndarray) -> np.ndarray:
    sr = s.sample_rate
    parts = []
    for name in s.sets:
        if name == "log_mel_stats":
            parts += [log_mel_stats(x, sr, w, h, m, s.percentiles) for w, h, m in s.resolutions]
        elif name == "mfcc_stats":
            w, h, _ = s.resolutions[0]
            parts.append(mfcc_stats(x, sr, w, h, s.mfcc_bands, s.n_mfcc))
        elif name == "band_energy_ratios":
            parts.append(band_energy_ratios(x, sr, s.band_edges_hz))
        elif name == "spectral_shape":
            parts.append(spectral_shape(x, sr, *s.shape_window))
        else:
            parts.append(time_stats(x))
    return np.concatenate(parts, axis=1)


@functools.lru_cache(maxsize=8)
def _band(band_hz, sample_rate):
    return settings_lib.make_band_filter(band_hz, sample_rate)


def _check_batch(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"expected clips [N, T >= 2], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("clips hold non-finite samples")
    return x
