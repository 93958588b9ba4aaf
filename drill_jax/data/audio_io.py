"""Reading and writing WAV files with validation that names the file and the reason."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
import scipy.signal
import soundfile

from drill_jax.files import atomic_write


class AudioError(ValueError):
    """A sound file that cannot be used; ``str(err)`` is one line: '<path>: <reason>'."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def resample(x: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling along the last axis. [..., T] at orig_rate -> [..., T'] at target_rate.

    T' = ceil(T * target_rate / orig_rate). Uses scipy.signal.resample_poly (Kaiser
    anti-aliasing filter), float32 out.
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} -> {target_rate}")
    if orig_rate == target_rate:
        return np.asarray(x, np.float32)
    g = np.gcd(int(orig_rate), int(target_rate))
    y = scipy.signal.resample_poly(x, target_rate // g, orig_rate // g, axis=-1)
    return y.astype(np.float32)


def read_wav(
    path: str,
    sample_rate: Optional[int] = None,
    resample_to_rate: bool = False,
    channel: Optional[int] = None,
) -> tuple[np.ndarray, int]:
    """Reads one WAV file as float32 mono samples in [-1, 1].

    Args:
      path: a WAV file.
      sample_rate: the expected rate in Hz; None accepts any rate.
      resample_to_rate: if the file's rate differs from ``sample_rate``, resample
        instead of raising.
      channel: for multi-channel files, the channel to keep (0-based). None rejects
        multi-channel files.

    Returns:
      (samples [T] float32, rate in Hz).

    Raises:
      AudioError: unreadable / not a WAV, empty, multi-channel without ``channel``,
        channel out of range, wrong rate without ``resample_to_rate``, non-finite or
        out-of-range samples.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(path, "no such file")
    try:
        info = soundfile.info(path)
    except Exception as err:  # soundfile raises several types for garbage input
        raise AudioError(path, f"unreadable or not a sound file ({_first_line(err)})") from None
    if info.format != "WAV" and info.format != "WAVEX":
        raise AudioError(path, f"not a WAV file (format {info.format})")
    if info.frames == 0:
        raise AudioError(path, "empty (0 samples)")
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioError(path, f"unreadable WAV data ({_first_line(err)})") from None
    if data.shape[0] == 0:
        raise AudioError(path, "empty (0 samples)")
    n_channels = data.shape[1]
    if n_channels > 1 and channel is None:
        raise AudioError(
            path, f"{n_channels} channels; pass channel=K (--channel=K) to take one channel"
        )
    k = 0 if channel is None else int(channel)
    if not 0 <= k < n_channels:
        raise AudioError(path, f"channel {k} requested but the file has {n_channels}")
    x = np.ascontiguousarray(data[:, k])
    if not np.all(np.isfinite(x)):
        raise AudioError(path, "non-finite samples (NaN or Inf)")
    if np.max(np.abs(x)) > 1.0 + 1e-6:
        raise AudioError(path, "samples outside [-1, 1] (float WAV not normalised)")
    if sample_rate is not None and rate != sample_rate:
        if not resample_to_rate:
            raise AudioError(
                path, f"sample rate {rate} Hz, expected {sample_rate} Hz (use --resample)"
            )
        x = np.clip(resample(x, rate, sample_rate), -1.0, 1.0)
        rate = sample_rate
    return x.astype(np.float32, copy=False), int(rate)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def write_wav(path: str, x: np.ndarray, sample_rate: int) -> None:
    """Writes [T] float samples in [-1, 1] as 16-bit PCM WAV, atomically.

    Values are clipped to [-1, 1]. The file appears complete or not at all.
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 1:
        raise ValueError(f"write_wav expects a 1-D signal, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: refusing to write non-finite samples")
    x = np.clip(x, -1.0, 1.0)

    def write(tmp):
        soundfile.write(tmp, x, int(sample_rate), subtype="PCM_16", format="WAV")

    atomic_write(path, write)
