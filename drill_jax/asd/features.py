"""DCASE front-ends: librosa log-Mel spectrograms as the official baselines compute them,
stacked frame vectors, sliding windows, and the whole-recording log power spectrum."""

from __future__ import annotations

import dataclasses
import sys

import librosa
import numpy as np
import scipy.signal


@dataclasses.dataclass(frozen=True)
class LogMelConfig:
    """The DCASE 2023 baseline front-end (``baseline.yaml``).

    Attributes:
      n_mels: Mel bands (Slaney scale and norm: librosa's defaults).
      n_fft: FFT and Hann window length, samples.
      hop: samples between frames (frames centred, zero-padded ends: librosa's default).
      power: 2 = power spectrogram.

    The bands span 0 Hz to the Nyquist frequency, as in the baseline (``baseline.yaml`` sets
    no band edges).
    """

    n_mels: int = 128
    n_fft: int = 1024
    hop: int = 512
    power: float = 2.0

    def __post_init__(self):
        if min(self.n_mels, self.hop) < 1 or self.n_fft < 2 or not self.power > 0:
            raise ValueError(
                f"LogMelConfig needs n_mels >= 1, n_fft >= 2, hop >= 1 and power > 0, got {self}"
            )


def log_mel(config: LogMelConfig, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """[T] samples -> [F, n_mels] float32 log-Mel, 10 / power * 2 * log10(max(mel, eps)) dB
    with eps = float64 machine epsilon, F = 1 + T // hop (the official baseline's values)."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(x, np.float32), sr=sample_rate, n_fft=config.n_fft,
        hop_length=config.hop, n_mels=config.n_mels, power=config.power,
    )
    db = 20.0 / config.power * np.log10(np.maximum(mel, sys.float_info.epsilon))
    return np.ascontiguousarray(db.T, np.float32)


def frame_vectors(logmel: np.ndarray, frames: int) -> np.ndarray:
    """[F, M] -> [F - frames + 1, frames * M]: row t is frames t..t+frames-1 concatenated
    (frame-major, as the baseline). Raises if F < frames."""
    n, m = logmel.shape
    if n < frames:
        raise ValueError(f"{n} frames, fewer than the {frames} stacked per vector")
    idx = np.arange(n - frames + 1)[:, None] + np.arange(frames)[None, :]
    return logmel[idx].reshape(n - frames + 1, frames * m)


def tiled_frame_vectors(logmel: np.ndarray, frames: int) -> np.ndarray:
    """``frame_vectors`` of a recording, tiled up to ``frames`` frames first when shorter
    (shorter than DCASE's recordings). [F, M] -> [max(F - frames + 1, 1), frames * M]."""
    return frame_vectors(crop(logmel, 0, max(frames, logmel.shape[0])), frames)


def window_starts(n_frames: int, window: int, hop: int) -> np.ndarray:
    """First frames of the windows of ``window`` frames, every ``hop`` frames, that cover a
    recording of ``n_frames`` (the last one flush with its end). [W] int; [0] when the
    recording is no longer than one window (it is then padded by ``crop``)."""
    if n_frames <= window:
        return np.zeros(1, np.int64)
    starts = np.arange(0, n_frames - window + 1, hop)
    if starts[-1] != n_frames - window:
        starts = np.append(starts, n_frames - window)
    return starts.astype(np.int64)


def crop(logmel: np.ndarray, start: int, window: int) -> np.ndarray:
    """[F, M] -> [window, M] from frame ``start``; a recording shorter than a window is tiled
    (wrapped) up to it."""
    if logmel.shape[0] < window:
        logmel = np.pad(logmel, ((0, window - logmel.shape[0]), (0, 0)), mode="wrap")
    return logmel[start : start + window]


def log_spectrum(x: np.ndarray, n_fft: int) -> np.ndarray:
    """[T] samples -> [n_fft // 2 + 1] float32 log10 power spectrum of the whole recording
    (Welch: Hann windows of n_fft samples, half overlap, mean power; shorter recordings are
    zero-padded to n_fft), the input of the spectrum branch."""
    x = np.asarray(x, np.float32)
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    _, p = scipy.signal.welch(x, nperseg=n_fft, noverlap=n_fft // 2, detrend=False)
    return np.log10(np.maximum(p, 1e-12)).astype(np.float32)
