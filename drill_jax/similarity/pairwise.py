"""Similarity of two sounds as in the paper's section IV-A-2 (MATLAB semantics, SciPy numerics).

Conventions (all checked against SciPy in tests/test_similarity.py):

* Common part. Two sounds of different lengths are compared over their common part: the first
  ``L = min(len(a), len(b))`` samples of each (the paper: "over the common length").
* Cross-correlation (MATLAB ``[c, lags] = xcorr(a, b, 'coeff')``)::

      c[k] = sum_n a[n + k] * b[n] / sqrt(sum_n a[n]^2 * sum_n b[n]^2),  k = -(L-1) .. L-1

  so the autocorrelations at zero lag would be 1 and ``|c| <= 1`` (Cauchy-Schwarz). The lag is
  MATLAB's and ``scipy.signal.correlation_lags``': if ``b`` is ``a`` delayed by ``d`` samples
  (``b[n] = a[n - d]``) the peak sits at lag ``-d``. The *peak* is the signed coefficient of
  largest magnitude (a sound against its negation peaks at -1).
  Unequal lengths: MATLAB documents that ``xcorr`` zero-pads the shorter vector, but only for the
  'none' scaling; 'coeff' with unequal lengths is refused ("requires x and y to have the same
  length"). ``mode="common"`` (default, the paper) crops both to ``L`` first. ``mode="pad"``
  zero-pads the shorter to the longer, which is what ``xcorr(a, [b; zeros], 'coeff')`` gives:
  the energies in the denominator are then those of the full signals (padding adds none).
* Power spectrum (MATLAB ``periodogram(x, [], [], fs)``): rectangular window, one-sided PSD in
  units^2/Hz, ``nfft = max(256, 2^nextpow2(T))``, no detrending (SciPy detrends by default).
* Coherence (MATLAB ``mscohere(a, b, [], [], [], fs)``) over the common part: Welch averaging
  with a *symmetric* Hamming window (MATLAB's ``hamming(L)``; SciPy's default 'hamming' is
  periodic) of length ``nperseg = fix(L / 4.5)``, which with ``noverlap = fix(nperseg / 2)``
  gives exactly 8 segments, ``nfft = max(256, 2^nextpow2(nperseg))``, no detrending. For the
  1999-sample VAE clips: nperseg 444, noverlap 222, 8 segments, nfft 512 (187.5 Hz bins at
  96 kHz; the paper's peaks 1125, 4312.5 and 9187.5 Hz are multiples of 187.5 Hz, consistent).
  ``C = |Pab|^2 / (Paa * Pbb)`` (``scipy.signal.coherence``).
* Cross-spectrum phase, degrees: ``angle(Pab)`` with ``Pab = scipy.signal.csd(a, b)`` over the
  same segments, i.e. the average of ``conj(A) * B``. For ``a = sin(w t)`` and
  ``b = sin(w t + phi)`` (b leads a by phi) the phase at ``w`` is ``+phi``; a delay of ``b`` by
  ``d`` seconds gives ``-360 f d``. MATLAB's ``cpsd(a, b)`` is defined from
  ``R_ab(m) = E{a[n+m] b*[n]}``, i.e. ``A * conj(B)``: the same magnitude, the opposite sign.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

# The paper's threshold for reporting coherence peaks.
COHERENCE_PEAK_THRESHOLD = 0.05


@dataclasses.dataclass(frozen=True)
class XCorr:
    """Normalised cross-correlation of two sounds.

    Attributes:
      coeffs: [2L-1] coefficients in [-1, 1].
      lags: [2L-1] int lags in samples (MATLAB convention, see the module docstring).
      lags_s: [2L-1] the lags in seconds.
      peak: the signed coefficient of largest magnitude.
      peak_lag: its lag in samples; peak_lag_s: in seconds.
      length: L, the number of samples compared.
    """

    coeffs: np.ndarray
    lags: np.ndarray
    lags_s: np.ndarray
    peak: float
    peak_lag: int
    peak_lag_s: float
    length: int


@dataclasses.dataclass(frozen=True)
class Coherence:
    """Magnitude-squared coherence and cross-spectrum phase of two sounds.

    Attributes:
      freqs: [F] Hz.
      cxy: [F] magnitude-squared coherence in [0, 1].
      phase_deg: [F] phase of the cross spectrum, degrees in (-180, 180].
      nperseg, noverlap, nfft: the Welch parameters used; length: samples compared.
    """

    freqs: np.ndarray
    cxy: np.ndarray
    phase_deg: np.ndarray
    nperseg: int
    noverlap: int
    nfft: int
    length: int


@dataclasses.dataclass(frozen=True)
class CoherencePeaks:
    """Local maxima of the coherence above a threshold. Each field is [P]."""

    freqs: np.ndarray
    cxy: np.ndarray
    phase_deg: np.ndarray


def _as_signal(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D signal, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} has {x.shape[0]} sample(s); need at least 2")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has non-finite samples")
    return x


def _check_rate(sample_rate) -> float:
    if not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return float(sample_rate)


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (MATLAB ``2^nextpow2(n)``), n >= 1."""
    if n < 1:
        raise ValueError(f"next_pow2 needs n >= 1, got {n}")
    return 1 << (int(n) - 1).bit_length()


def common_part(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The first ``min(len(a), len(b))`` samples of each: ([L], [L]) float64."""
    a = _as_signal(a, "a")
    b = _as_signal(b, "b")
    n = min(a.shape[0], b.shape[0])
    return a[:n], b[:n]


def xcorr_coeff(a, b, sample_rate: float, mode: Literal["common", "pad"] = "common") -> XCorr:
    """MATLAB ``xcorr(a, b, 'coeff')`` of two sounds [T_a], [T_b] (see the module docstring).

    Raises ValueError if a signal is silent over the compared part (the coefficient is undefined).
    """
    sample_rate = _check_rate(sample_rate)
    if mode == "common":
        a, b = common_part(a, b)
    elif mode == "pad":
        a, b = _as_signal(a, "a"), _as_signal(b, "b")
        n = max(a.shape[0], b.shape[0])
        a = np.pad(a, (0, n - a.shape[0]))
        b = np.pad(b, (0, n - b.shape[0]))
    else:
        raise ValueError(f"mode must be 'common' or 'pad', got {mode!r}")
    energy = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if energy == 0.0:
        raise ValueError("cannot normalise the cross-correlation: a signal is all zeros")
    coeffs = scipy.signal.correlate(a, b, mode="full") / energy
    lags = scipy.signal.correlation_lags(a.shape[0], b.shape[0], mode="full")
    i = int(np.argmax(np.abs(coeffs)))
    return XCorr(
        coeffs=coeffs,
        lags=lags,
        lags_s=lags / sample_rate,
        peak=float(coeffs[i]),
        peak_lag=int(lags[i]),
        peak_lag_s=float(lags[i] / sample_rate),
        length=int(a.shape[0]),
    )


def peak_xcorr_matrix(a, b, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Peak ``xcorr(..., 'coeff')`` of every row of ``a`` [M, L] against every row of ``b`` [N, L].

    Equal-length rows (crop to the common part first). Returns (peak [M, N] signed coefficient of
    largest magnitude, lag [M, N] int samples), the same numbers as ``xcorr_coeff`` pair by pair,
    computed with one FFT per signal. ``chunk`` rows of ``a`` are done at a time (memory).
    Raises ValueError on silent rows.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need [M, L] and [N, L] arrays, got {a.shape} and {b.shape}")
    if a.shape[1] < 2 or a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError(
            f"need non-empty sets of signals of >= 2 samples, got {a.shape}, {b.shape}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("non-finite samples")
    norm_a = np.sqrt(np.sum(a * a, axis=1))
    norm_b = np.sqrt(np.sum(b * b, axis=1))
    if np.any(norm_a == 0.0) or np.any(norm_b == 0.0):
        raise ValueError("cannot normalise the cross-correlation: a signal is all zeros")
    length = a.shape[1]
    nfft = scipy.fft.next_fast_len(2 * length - 1, real=True)
    fa = scipy.fft.rfft(a, nfft, axis=1)
    # Correlation = convolution with the time-reversed second signal.
    fb = scipy.fft.rfft(b[:, ::-1], nfft, axis=1)
    lags = scipy.signal.correlation_lags(length, length, mode="full")
    peaks = np.empty((a.shape[0], b.shape[0]))
    peak_lags = np.empty((a.shape[0], b.shape[0]), np.int64)
    for start in range(0, a.shape[0], chunk):
        stop = min(start + chunk, a.shape[0])
        full = scipy.fft.irfft(fa[start:stop, None, :] * fb[None, :, :], nfft, axis=-1)
        full = full[..., : 2 * length - 1]
        full /= norm_a[start:stop, None, None] * norm_b[None, :, None]
        i = np.argmax(np.abs(full), axis=-1)
        peaks[start:stop] = np.take_along_axis(full, i[..., None], axis=-1)[..., 0]
        peak_lags[start:stop] = lags[i]
    return peaks, peak_lags


def power_spectrum(x, sample_rate: float, nfft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``periodogram(x, [], nfft, fs)``: one-sided PSD of [T] in units^2/Hz.

    Rectangular window, no detrending, ``nfft`` default ``max(256, 2^nextpow2(T))``.
    Returns (freqs [nfft//2+1] Hz, psd [nfft//2+1]).
    """
    sample_rate = _check_rate(sample_rate)
    x = _as_signal(x, "x")
    if nfft is None:
        nfft = max(256, next_pow2(x.shape[0]))
    if nfft < x.shape[0]:
        raise ValueError(f"nfft={nfft} is shorter than the signal ({x.shape[0]} samples)")
    return scipy.signal.periodogram(
        x, fs=sample_rate, window="boxcar", nfft=nfft, detrend=False, scaling="density"
    )


def mscohere_params(length: int) -> dict:
    """MATLAB ``mscohere``/``cpsd`` defaults for ``length`` samples (see the module docstring).

    Returns dict(window [nperseg] symmetric Hamming, nperseg, noverlap, nfft).
    """
    if length < 9:
        raise ValueError(f"need at least 9 samples for 8 half-overlapping segments, got {length}")
    nperseg = int(length / 4.5)
    return {
        "window": scipy.signal.windows.hamming(nperseg, sym=True),
        "nperseg": nperseg,
        "noverlap": nperseg // 2,
        "nfft": max(256, next_pow2(nperseg)),
    }


def coherence(a, b, sample_rate: float) -> Coherence:
    """Magnitude-squared coherence and cross-spectrum phase over the common part of [T_a], [T_b].

    MATLAB ``mscohere``/``cpsd`` defaults and the phase sign are in the module docstring.
    """
    sample_rate = _check_rate(sample_rate)
    a, b = common_part(a, b)
    p = mscohere_params(a.shape[0])
    kwargs = {
        "fs": sample_rate,
        "window": p["window"],
        "nperseg": p["nperseg"],
        "noverlap": p["noverlap"],
        "nfft": p["nfft"],
        "detrend": False,
    }
    freqs, pab = scipy.signal.csd(a, b, **kwargs)
    _, paa = scipy.signal.welch(a, **kwargs)
    _, pbb = scipy.signal.welch(b, **kwargs)
    denom = paa * pbb
    if np.any(denom <= 0.0):
        raise ValueError("coherence undefined: a signal has zero power in some band (silent?)")
    cxy = np.abs(pab) ** 2 / denom
    return Coherence(
        freqs=freqs,
        cxy=cxy,
        phase_deg=np.degrees(np.angle(pab)),
        nperseg=p["nperseg"],
        noverlap=p["noverlap"],
        nfft=p["nfft"],
        length=int(a.shape[0]),
    )


def coherence_peaks(coh: Coherence, threshold: float = COHERENCE_PEAK_THRESHOLD) -> CoherencePeaks:
    """Local maxima of ``coh.cxy`` higher than ``threshold`` (``scipy.signal.find_peaks``),
    with their frequencies (Hz) and cross-spectrum phases (degrees)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    idx, _ = scipy.signal.find_peaks(coh.cxy, height=threshold)
    return CoherencePeaks(freqs=coh.freqs[idx], cxy=coh.cxy[idx], phase_deg=coh.phase_deg[idx])


def compare_pair(
    a,
    b,
    sample_rate: float,
    threshold: float = COHERENCE_PEAK_THRESHOLD,
    top_peaks: int = 5,
) -> dict:
    """The paper's numbers for one pair as a JSON-ready dict: peak xcorr and lag, coherence
    peaks above ``threshold`` (the ``top_peaks`` highest, by coherence), mean coherence."""
    xc = xcorr_coeff(a, b, sample_rate)
    coh = coherence(a, b, sample_rate)
    peaks = coherence_peaks(coh, threshold)
    order = np.argsort(-peaks.cxy)[:top_peaks]
    return {
        "length": xc.length,
        "xcorr_peak": xc.peak,
        "xcorr_peak_lag_samples": xc.peak_lag,
        "xcorr_peak_lag_ms": 1e3 * xc.peak_lag_s,
        "coherence_mean": float(np.mean(coh.cxy)),
        "coherence_num_peaks": int(peaks.freqs.shape[0]),
        "coherence_top_peaks": [
            {
                "freq_hz": float(peaks.freqs[i]),
                "coherence": float(peaks.cxy[i]),
                "phase_deg": float(peaks.phase_deg[i]),
            }
            for i in order
        ],
    }
