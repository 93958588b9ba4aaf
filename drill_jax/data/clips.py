"""Pure helpers that shape clips: take the first N samples, pad, crop, and cut recordings."""

from __future__ import annotations

from typing import Sequence

import numpy as np

PAD_MODES = ("zero", "repeat")


def take_first(x: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` samples of a clip. [T] -> [n]; raises if T < n (pad first)."""
    x = np.asarray(x)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if x.shape[-1] < n:
        raise ValueError(f"clip has {x.shape[-1]} samples, fewer than the {n} asked for")
    return x[..., :n]


def pad_to(x: np.ndarray, n: int, mode: str = "zero") -> np.ndarray:
    """Pads a clip at the end to ``n`` samples. [T] -> [max(T, n)].

    mode: 'zero' appends zeros; 'repeat' tiles the clip (wraps around) until n.
    A clip already at least n long is returned unchanged.
    """
    x = np.asarray(x)
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode must be one of {PAD_MODES}, got {mode!r}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    t = x.shape[-1]
    if t == 0:
        raise ValueError("cannot pad an empty clip")
    if t >= n:
        return x
    if mode == "zero":
        widths = [(0, 0)] * (x.ndim - 1) + [(0, n - t)]
        return np.pad(x, widths)
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - t)], mode="wrap")


def fix_length(x: np.ndarray, n: int, mode: str = "zero") -> np.ndarray:
    """Crops or pads a clip to exactly ``n`` samples. [T] -> [n]."""
    return take_first(pad_to(x, n, mode), n)


def crop_to_common(clips: Sequence[np.ndarray]) -> np.ndarray:
    """Crops every clip to the shortest length. list of [T_i] -> [N, min T_i]."""
    if len(clips) == 0:
        raise ValueError("no clips given")
    n = min(np.asarray(c).shape[-1] for c in clips)
    if n == 0:
        raise ValueError("a clip is empty")
    return np.stack([np.asarray(c)[..., :n] for c in clips])


def stack_fixed(clips: Sequence[np.ndarray], n: int, mode: str = "zero") -> np.ndarray:
    """Brings every clip to ``n`` samples (crop or pad) and stacks. list of [T_i] -> [N, n]."""
    if len(clips) == 0:
        raise ValueError("no clips given")
    return np.stack([fix_length(c, n, mode) for c in clips]).astype(np.float32)


def num_frames(length: int, clip_len: int, hop: int, keep_last: bool = False) -> int:
    """Number of clips ``frame_recording`` cuts from ``length`` samples."""
    if clip_len <= 0 or hop <= 0:
        raise ValueError(f"clip_len and hop must be positive, got {clip_len}, {hop}")
    if length < clip_len:
        return 1 if (keep_last and length > 0) else 0
    full = (length - clip_len) // hop + 1
    tail = keep_last and (full - 1) * hop + clip_len < length
    return full + int(tail)


def frame_recording(
    x: np.ndarray, clip_len: int, hop: int, keep_last: bool = False, pad_mode: str = "zero"
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a long recording into clips. [T] -> ([N, clip_len], starts [N] in samples).

    Clip i covers samples [i*hop, i*hop + clip_len). Only whole clips are returned
    unless ``keep_last``: then a final clip starting at the next hop covers the
    remaining samples, padded to clip_len with ``pad_mode``.
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D recording, got shape {x.shape}")
    n = num_frames(x.shape[0], clip_len, hop, keep_last)
    starts = np.arange(n, dtype=np.int64) * hop
    if n == 0:
        return np.zeros((0, clip_len), x.dtype), starts
    full = 0 if x.shape[0] < clip_len else (x.shape[0] - clip_len) // hop + 1
    out = np.empty((n, clip_len), x.dtype)
    if full:
        windows = np.lib.stride_tricks.sliding_window_view(x, clip_len)[::hop][:full]
        out[:full] = windows
    if n > full:
        out[full] = pad_to(x[starts[full] :], clip_len, pad_mode)
    return out, starts
