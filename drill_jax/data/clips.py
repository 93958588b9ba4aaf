"""Pure helpers that shape clips: take the first N samples, pad, crop, cut recordings into
windows (the one windowing rule), and the clip-length constants."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

PAD_MODES = ("zero", "repeat")

# The paper's clip (Tran et al. 2022): the VAE's input length and the Mel window, 20.8 ms
# at 96 kHz. Every module takes it from here.
PAPER_CLIP_SAMPLES = 1999
# The shortest bundled Valmet sound: the crop that removes the clip-length confound.
SHORTEST_BUNDLED_SAMPLES = 2000


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


LAST_MODES = ("drop", "pad")


def check_window(window: int, hop: int, last: str) -> None:
    if int(window) < 1 or int(hop) < 1:
        raise ValueError(f"window and hop must be positive sample counts, got {window}, {hop}")
    if last not in LAST_MODES:
        raise ValueError(f"last must be one of {LAST_MODES}, got {last!r}")


def needs_tail(n_whole: int, window: int, hop: int, total: int) -> bool:
    """The tail rule: a padded last window is added when samples after the last whole
    window's end remain AND the next hop position is inside the signal."""
    covered = (n_whole - 1) * hop + window if n_whole else 0
    return covered < total and n_whole * hop < total


def num_windows(length: int, window: int, hop: int, last: str = "drop") -> int:
    """Number of windows ``window_signal`` cuts from ``length`` samples."""
    check_window(window, hop, last)
    n_whole = 0 if length < window else (length - window) // hop + 1
    return n_whole + int(last == "pad" and needs_tail(n_whole, window, hop, length))


def window_signal(
    x: np.ndarray, window: int, hop: int, last: str = "drop", pad_mode: str = "zero"
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a recording into windows. [T] -> (windows [N, window] float32, starts [N] samples).

    The one windowing rule of drill_jax (long recordings cut into clips at load time,
    training windows of detectors, streaming):

    * Window ``i`` covers samples ``[i * hop, i * hop + window)``.
    * ``last='drop'`` (default): only whole windows. The samples after the end of the last
      whole window, and a whole recording shorter than one window, are left out.
    * ``last='pad'``: if samples after the end of the last whole window remain and the next
      hop position lies inside the signal, one more window starts at that position and is
      padded to ``window`` samples with ``pad_mode`` ('zero' or 'repeat'); a signal shorter
      than one window gives one padded window.
    """
    check_window(window, hop, last)
    window, hop = int(window), int(hop)
    x = np.asarray(x, np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D recording [T], got shape {x.shape}")
    n_whole = 0 if x.shape[0] < window else (x.shape[0] - window) // hop + 1
    starts = np.arange(n_whole, dtype=np.int64) * hop
    out = (
        np.lib.stride_tricks.sliding_window_view(x, window)[::hop][:n_whole]
        if n_whole
        else np.zeros((0, window), np.float32)
    )
    if last == "pad" and needs_tail(n_whole, window, hop, x.shape[0]):
        tail = pad_to(x[n_whole * hop :], window, pad_mode)[None].astype(np.float32)
        out = np.concatenate([out, tail])
        starts = np.append(starts, n_whole * hop)
    return np.ascontiguousarray(out, np.float32), starts


def crop_sounds(waveforms, clip_samples: int, names=None) -> np.ndarray:
    """First ``clip_samples`` samples of every sound. list of [T_i] -> [N, clip_samples].

    Raises ValueError naming the first sound that is shorter.
    """
    out = []
    for i, w in enumerate(waveforms):
        w = np.asarray(w, np.float32)
        if w.ndim != 1 or w.shape[0] < clip_samples:
            name = names[i] if names is not None else f"sound {i}"
            raise ValueError(f"{name}: {w.shape} samples, shorter than clip_samples={clip_samples}")
        out.append(w[:clip_samples])
    if not out:
        raise ValueError("no sounds given")
    return np.stack(out)


def sound_windows(waveforms, clip_samples: int, hop: Optional[int] = None, names=None):
    """Training clips of sounds: every whole window (``clip_samples`` long, ``hop`` apart,
    ``window_signal``) of every sound, or only its first clip when ``hop`` is None.

    list of [T_i] -> (clips [M, clip_samples], owner [M] index of the sound each came from).
    Windows at every offset teach a model the same positions a stream shows it.
    """
    if hop is None:
        return crop_sounds(waveforms, clip_samples, names), np.arange(len(waveforms))
    first = crop_sounds(waveforms, clip_samples, names)  # checks lengths
    del first
    clips, owner = [], []
    for i, w in enumerate(waveforms):
        win, _ = window_signal(np.asarray(w, np.float32), clip_samples, hop)
        clips.append(win)
        owner.append(np.full(win.shape[0], i))
    return np.concatenate(clips), np.concatenate(owner)
