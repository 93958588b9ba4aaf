"""Phase Gradient Heap Integration (PGHI; Prusa, Balazs & Sondergaard 2017, "A noniterative
method for reconstruction of phase from STFT magnitude"), in NumPy.

For a Gaussian window exp(-pi k^2 / gamma) (k in samples) the STFT's phase gradients follow
from its log magnitude s: along time (radians per hop a, bin m of an M-point FFT)
dphi/dn = (a M / gamma) ds/dm + 2 pi a m / M, and along frequency (radians per bin)
dphi/dm = -(gamma / (a M)) ds/dn. A Hann window of length M behaves like a Gaussian with
gamma = 0.25645 M^2. The phase is integrated from the largest coefficient outwards (a heap
ordered by magnitude, trapezoidal steps to the four neighbours), so the strong coefficients,
which dominate the sound, get the most accurate phases; coefficients below ``tol`` times
the largest take the given random phases. Phases are returned in ``spectral_loss.stft``'s
convention (each frame's FFT referred to the frame's first sample, the window centred in
it), which differs from the centred one the gradients describe by -pi m.
"""

from __future__ import annotations

import heapq

import numpy as np

GAMMA_HANN = 0.25645  # gamma / M^2 of the Gaussian that matches a Hann window of length M


def gradients(log_mag: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """(time, frequency) phase gradients [F, K] of one log-magnitude STFT [F, K] (natural
    log; K = n_fft // 2 + 1), in radians per hop and radians per bin (module docstring)."""
    gamma = GAMMA_HANN * n_fft**2
    ds_dm = np.gradient(log_mag, axis=1) if log_mag.shape[1] > 1 else np.zeros_like(log_mag)
    ds_dm[:, 0] = ds_dm[:, -1] = 0.0  # |X| of a real signal is even about 0 and Nyquist
    ds_dn = np.gradient(log_mag, axis=0) if log_mag.shape[0] > 1 else np.zeros_like(log_mag)
    bins = np.arange(log_mag.shape[1])
    tgrad = hop * n_fft / gamma * ds_dm + 2.0 * np.pi * hop * bins[None, :] / n_fft
    return tgrad, -gamma / (hop * n_fft) * ds_dn


def integrate(
    log_mag: np.ndarray, tgrad: np.ndarray, fgrad: np.ndarray, tol: float, noise: np.ndarray
) -> np.ndarray:
    """Phases [F, K] (radians, centred convention) integrated from the gradients [F, K] by
    the heap, starting again from the largest coefficient left whenever the heap runs dry;
    coefficients with log_mag < max + log(tol) keep ``noise`` [F, K]."""
    n_frames, k = log_mag.shape
    phase = np.asarray(noise, np.float64).copy()
    flat = log_mag.ravel()
    done = flat < flat.max() + np.log(tol)
    tg, fg, ph = tgrad.ravel(), fgrad.ravel(), phase.ravel()
    for start in np.argsort(-flat, kind="stable"):
        if done[start]:
            continue
        done[start] = True
        ph[start] = 0.0
        heap = [(-flat[start], start)]
        while heap:
            _, i = heapq.heappop(heap)
            n, m = divmod(i, k)
            for j, ok, grad, sign in (
                (i + k, n + 1 < n_frames, tg, 1.0),
                (i - k, n > 0, tg, -1.0),
                (i + 1, m + 1 < k, fg, 1.0),
                (i - 1, m > 0, fg, -1.0),
            ):
                if ok and not done[j]:
                    done[j] = True
                    ph[j] = ph[i] + sign * 0.5 * (grad[i] + grad[j])
                    heapq.heappush(heap, (-flat[j], j))
    return ph.reshape(n_frames, k)


def phasors(
    magnitude: np.ndarray, n_fft: int, hop: int, tol: float, noise: np.ndarray
) -> np.ndarray:
    """Unit phasors [B, F, K] complex128 of the PGHI phases of magnitudes [B, F, K] in
    ``spectral_loss.stft``'s convention; coefficients below ``tol`` times each STFT's
    largest take the phases ``noise`` [B, F, K] (radians)."""
    magnitude, noise = np.asarray(magnitude, np.float64), np.asarray(noise, np.float64)
    out = np.empty(magnitude.shape, np.complex128)
    shift = np.pi * np.arange(magnitude.shape[-1])
    for b, mag in enumerate(magnitude):
        log_mag = np.log(np.maximum(mag, 1e-30))
        # clamped at the tolerance, so that floors below it add no gradients
        tgrad, fgrad = gradients(np.maximum(log_mag, log_mag.max() + np.log(tol)), n_fft, hop)
        out[b] = np.exp(1j * (integrate(log_mag, tgrad, fgrad, tol, noise[b] + shift) - shift))
    return out
