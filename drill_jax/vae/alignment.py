"""Lag and sign alignment of waveforms by circular cross-correlation, so that a linear model
of the samples themselves (``pca_reference`` with domain 'waveform') adds recordings whose
ringing is in phase instead of cancelling it: the drill's normal sounds repeat from one
recording to the next (best-match |xcorr| about 0.89 at a lag of a few samples) but are
triggered at two positions, about 500 samples apart.

A clip x [T] is aligned to a reference r [T] by the lag l (samples, in [-T / 2, T / 2)) and
sign s (+-1) of the largest |c(l)|, c(l) = sum_t x[(t + l) mod T] r[t]; the aligned clip is
s x[(t + l) mod T] (``shift`` by l, times s), and the inverse shifts back by
-l and multiplies by s again.
"""

from __future__ import annotations

import numpy as np


def xcorr(clips: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Circular cross-correlation c[n, l] = sum_t clips[n, (t + l) mod T] reference[t] of
    clips [N, T] with reference [T] -> [N, T] float64 (lag l at index l mod T)."""
    clips = np.asarray(clips, np.float64)
    spectrum = np.fft.rfft(clips, axis=-1) * np.conj(np.fft.rfft(reference))
    return np.fft.irfft(spectrum, n=clips.shape[-1], axis=-1)


def lags_and_signs(clips: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lags [N] int64 in [-T / 2, T / 2), signs [N] float64 +-1) of the largest
    |cross-correlation| of each clip [N, T] with reference [T] (module docstring)."""
    c = xcorr(clips, reference)
    best = np.argmax(np.abs(c), axis=-1)
    t = c.shape[-1]
    lags = np.where(best >= (t + 1) // 2, best - t, best).astype(np.int64)
    signs = np.where(c[np.arange(len(c)), best] < 0, -1.0, 1.0)
    return lags, signs


def shift(clips: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Clips [N, T] shifted circularly left by ``by`` [N] samples (negative: right); same
    dtype."""
    t = clips.shape[1]
    idx = (np.arange(t)[None, :] + np.asarray(by, np.int64)[:, None]) % t
    return np.take_along_axis(np.asarray(clips), idx, axis=1)


def aligned(clips: np.ndarray, lags: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Clips [N, T] shifted circularly left by ``lags`` [N] and multiplied by ``signs`` [N]
    -> [N, T] float64; ``aligned(aligned(x, l, s), -l, s)`` is x."""
    moved = shift(np.asarray(clips, np.float64), lags)
    return moved * np.asarray(signs, np.float64)[:, None]


def medoid(clips: np.ndarray) -> int:
    """Index of the clip of clips [N, T] with the largest summed peak |normalised
    cross-correlation| to the others (the most typical waveform up to lag and sign)."""
    clips = np.asarray(clips, np.float64)
    unit = clips / np.maximum(np.linalg.norm(clips, axis=-1, keepdims=True), 1e-12)
    peaks = np.stack([np.abs(xcorr(unit, u)).max(axis=-1) for u in unit])  # [N, N]
    return int(np.argmax(peaks.sum(axis=0) - np.diag(peaks)))


def reference(clips: np.ndarray) -> np.ndarray:
    """The class's alignment reference [T] float64: the mean of clips [N, T] aligned to
    their ``medoid`` (one refinement step, so that no single recording sets the lags)."""
    clips = np.asarray(clips, np.float64)
    lags, signs = lags_and_signs(clips, clips[medoid(clips)])
    return aligned(clips, lags, signs).mean(axis=0)
