"""Multi-resolution STFT loss (spectral convergence + log-magnitude L1), as neural vocoders
(Parallel WaveGAN) and RAVE use instead of a per-sample likelihood.

A per-sample likelihood on a noise-like waveform rewards predicting the mean (near
silence), because the phase cannot be predicted. STFT magnitudes drop the phase, so a
generator is judged on what a listener (and a log-Mel classifier) hears: the spectrum over
time.

Per resolution n (FFT size n, hop n / hop_divisor, periodic Hann window, n / 2 zeros
padded at both ends), with S = |STFT| [F, K]:

* spectral convergence  SC = ||S_y - S_x||_F / (||S_x||_F + eps)
* log-magnitude L1      LM = mean_{f, k} |log(S_y + eps) - log(S_x + eps)|

loss = mean over resolutions of (sc_weight SC + LM), per example. LM is unbiased in level
for noise-like sounds (two independent noises with the same spectrum have the same
distribution of log-magnitudes); SC favours a quieter output when the phases are random,
so a noise generator may want ``sc_weight`` < 1.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

EPS = 1e-5


def hann(n: int) -> np.ndarray:
    """Periodic Hann window [n]: 0.5 - 0.5 cos(2 pi t / n)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def frame_index(length: int, n_fft: int, hop: int) -> np.ndarray:
    """Sample indices [F, n_fft] of the frames of a signal zero-padded by n_fft // 2 at both
    ends (length + 2 (n_fft // 2) samples); F = 1 + (length + 2 (n_fft // 2) - n_fft) // hop."""
    if n_fft < 2 or hop < 1:
        raise ValueError(f"n_fft must be >= 2 and hop >= 1, got {n_fft}, {hop}")
    padded = length + 2 * (n_fft // 2)
    if padded < n_fft:
        raise ValueError(f"a {length}-sample signal is too short for n_fft={n_fft}")
    n_frames = 1 + (padded - n_fft) // hop
    return hop * np.arange(n_frames)[:, None] + np.arange(n_fft)[None, :]


def stft(x: jnp.ndarray, n_fft: int, hop: int) -> jnp.ndarray:
    """Complex STFT of x [B, T] (Hann, centred zero padding) -> [B, F, n_fft // 2 + 1]."""
    idx = frame_index(x.shape[-1], n_fft, hop)
    pad = n_fft // 2
    xp = jnp.pad(x, ((0, 0), (pad, pad)))
    frames = xp[:, idx] * hann(n_fft)[None, None, :]  # [B, F, n_fft]
    return jnp.fft.rfft(frames, axis=-1)


def stft_magnitude(x: jnp.ndarray, n_fft: int, hop: int) -> jnp.ndarray:
    """|STFT| of x [B, T] (``stft``) -> [B, F, n_fft // 2 + 1]."""
    return jnp.abs(stft(x, n_fft, hop))


def spectral_convergence(s_y: jnp.ndarray, s_x: jnp.ndarray, eps: float = EPS) -> jnp.ndarray:
    """||S_y - S_x||_F / (||S_x||_F + eps) per example. [B, F, K] x2 -> [B]."""
    num = jnp.sqrt(jnp.sum(jnp.square(s_y - s_x), axis=(-2, -1)))
    return num / (jnp.sqrt(jnp.sum(jnp.square(s_x), axis=(-2, -1))) + eps)


def log_magnitude_l1(s_y: jnp.ndarray, s_x: jnp.ndarray, eps: float = EPS) -> jnp.ndarray:
    """mean |log(S_y + eps) - log(S_x + eps)| per example (natural log). [B, F, K] x2 -> [B]."""
    return jnp.mean(jnp.abs(jnp.log(s_y + eps) - jnp.log(s_x + eps)), axis=(-2, -1))


def band_power_log_l1(
    s_y: jnp.ndarray, s_x: jnp.ndarray, band_bins: int, eps: float = EPS
) -> jnp.ndarray:
    """mean |log P_y - log P_x| over frames and bands, P = the power |S|^2 averaged over
    groups of ``band_bins`` neighbouring bins (the last group may be shorter). Unlike the
    per-bin log-magnitude, it matches the power of a peaky spectrum, not its median, and
    two independent noises of one spectrum agree in it to within ~1 / sqrt(band_bins).
    [B, F, K] x2 -> [B]."""
    k = s_x.shape[-1]
    groups = np.arange(k) // band_bins
    n = int(groups[-1]) + 1
    one_hot = (groups[:, None] == np.arange(n)[None, :]).astype(np.float32)
    one_hot = one_hot / one_hot.sum(axis=0, keepdims=True)  # [K, n]: group means
    p_y, p_x = jnp.square(s_y) @ one_hot, jnp.square(s_x) @ one_hot
    return 0.5 * jnp.mean(jnp.abs(jnp.log(p_y + eps**2) - jnp.log(p_x + eps**2)), axis=(-2, -1))


def multi_resolution_stft_loss(
    y: jnp.ndarray,
    x: jnp.ndarray,
    fft_sizes: Sequence[int] = (64, 128, 256, 512, 1024),
    sc_weight: float = 1.0,
    hop_divisor: int = 4,
    eps: float = EPS,
    band_bins: int = 0,
) -> jnp.ndarray:
    """Mean over FFT sizes of sc_weight SC + LM (module docstring), plus, when band_bins
    > 0, ``band_power_log_l1`` over groups of band_bins bins.

    y: generated [B, T], x: target [B, T] (waveform units) -> [B] (dimensionless; 0 iff
    the magnitudes agree at every resolution).
    """
    if y.shape != x.shape or x.ndim != 2:
        raise ValueError(f"need y and x of one shape [B, T], got {y.shape} and {x.shape}")
    if not fft_sizes:
        raise ValueError("fft_sizes must name at least one FFT size")
    total = 0.0
    for n in fft_sizes:
        hop = max(1, n // hop_divisor)
        s_y, s_x = stft_magnitude(y, n, hop), stft_magnitude(x, n, hop)
        total = total + sc_weight * spectral_convergence(s_y, s_x, eps)
        total = total + log_magnitude_l1(s_y, s_x, eps)
        if band_bins > 0:
            total = total + band_power_log_l1(s_y, s_x, band_bins, eps)
    return total / len(fft_sizes)
