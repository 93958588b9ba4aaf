"""Streaming detection: incremental windowing, chunked WAV / raw-PCM readers, the scoring loop.

Windowing convention (``drill_jax.data.window_signal``, the one rule, and the incremental
``stream_windows`` here give identical windows for the same samples):

* Window ``i`` covers samples ``[i * hop, i * hop + window)``; its start time is
  ``i * hop / rate`` seconds and its end time ``(i * hop + window) / rate``.
* ``last='drop'`` (default): only whole windows are scored. The samples after the end of
  the last whole window (at most ``hop - 1`` of them when ``hop <= window``, and a whole
  recording shorter than one window) are NOT scored.
* ``last='pad'``: if samples after the end of the last whole window remain and the next
  hop position lies inside the signal, one more window starts at that position and is
  zero-padded to ``window`` samples (a signal shorter than one window gives one padded
  window). Zero padding changes the spectrum, so its score is less reliable.

The alarm over the window scores is ``drill_jax.detection.alarms``.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple, Optional

import numpy as np
import soundfile

from drill_jax import data as data_lib
from drill_jax.data import clips as clips_lib
from drill_jax.detection.alarms import AlarmConfig, AlarmState, alarm_finish, alarm_step


class Window(NamedTuple):
    """One window of a stream: samples [window] float32, start (samples), arrival (perf_counter s,
    when its last sample was read), padded (True for a zero-padded last window)."""

    samples: np.ndarray
    start: int
    arrival: float
    padded: bool


def window_batches(
    chunks: Iterable[np.ndarray], window: int, hop: int, last: str = "drop"
) -> Iterator[list]:
    """Per chunk read, the list of windows it completed (possibly empty), as soon as it arrives.

    ``chunks`` yields 1-D float arrays of any length (possibly empty). Over the whole
    stream the windows are exactly those of ``data.window_signal(concatenate(chunks), window, hop,
    last)``; a padded last window comes in a final list after the stream ends. Memory is
    bounded: at most ``window + len(chunk)`` samples are kept.
    """
    clips_lib.check_window(window, hop, last)
    window, hop = int(window), int(hop)
    buf = np.zeros(0, np.float32)
    buf_start = 0  # absolute index of buf[0]
    next_start = 0  # absolute start of the next window
    total = 0
    for chunk in chunks:
        chunk = np.asarray(chunk, np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"chunks must be 1-D, got shape {chunk.shape}")
        arrival = time.perf_counter()
        buf = np.concatenate([buf, chunk])
        total += chunk.shape[0]
        batch = []
        while next_start + window <= total:
            a = next_start - buf_start
            batch.append(Window(buf[a : a + window].copy(), next_start, arrival, False))
            next_start += hop
        # Keep only what later windows need (from next_start on; none before it).
        keep_from = min(next_start, total) - buf_start
        buf = buf[keep_from:]
        buf_start += keep_from
        yield batch
    if last == "pad" and clips_lib.needs_tail(next_start // hop, window, hop, total):
        a = next_start - buf_start
        tail = data_lib.pad_to(buf[a:], window, "zero").astype(np.float32)
        yield [Window(tail, next_start, time.perf_counter(), True)]


def stream_windows(
    chunks: Iterable[np.ndarray], window: int, hop: int, last: str = "drop"
) -> Iterator[Window]:
    """``window_batches`` flattened: one Window at a time."""
    for batch in window_batches(chunks, window, hop, last):
        yield from batch


# ---------------------------------------------------------------- readers


def pcm16_to_float(raw: bytes, n_channels: int = 1, channel: int = 0) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes -> float32 [T] in [-1, 1) (value / 32768).

    Interleaved multi-channel data keeps ``channel``. ``len(raw)`` must be a multiple of
    ``2 * n_channels``.
    """
    if n_channels < 1 or not 0 <= channel < n_channels:
        raise ValueError(f"channel {channel} is not in [0, {n_channels})")
    frame = 2 * n_channels
    if len(raw) % frame:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {frame}-byte frames")
    x = np.frombuffer(raw, dtype="<i2").reshape(-1, n_channels)[:, channel]
    return x.astype(np.float32) / np.float32(32768.0)


def read_pcm16_chunks(
    stream: BinaryIO,
    chunk_samples: int,
    n_channels: int = 1,
    channel: int = 0,
    name: str = "<stdin>",
) -> Iterator[np.ndarray]:
    """Reads raw little-endian 16-bit PCM from a binary stream; yields float32 [<= chunk_samples].

    Partial frames at a read boundary are carried to the next read. Raises data.AudioError
    if the stream ends inside a frame (a truncated stream) or holds no samples at all.
    """
    if chunk_samples < 1:
        raise ValueError(f"chunk_samples must be positive, got {chunk_samples}")
    frame = 2 * n_channels
    want = int(chunk_samples) * frame
    carry = b""
    got_any = False
    while True:
        raw = stream.read(want - len(carry))
        if not raw:
            break
        raw = carry + raw
        cut = len(raw) - len(raw) % frame
        carry = raw[cut:]
        if cut:
            got_any = True
            yield pcm16_to_float(raw[:cut], n_channels, channel)
    if carry:
        raise data_lib.AudioError(
            name, f"stream ended inside a sample frame ({len(carry)} stray byte(s))"
        )
    if not got_any:
        raise data_lib.AudioError(name, "no samples on the stream")


def open_wav_stream(
    path: str, chunk_samples: int, channel: Optional[int] = None
) -> tuple[int, Iterator[np.ndarray]]:
    """Opens a (long) WAV file for chunked reading without loading it whole.

    Returns (rate in Hz, generator of float32 [<= chunk_samples] chunks). Raises
    data.AudioError (one line: path and reason) for a missing, non-WAV, empty or
    multi-channel file (without ``channel``); chunks with non-finite samples raise too.
    """
    path = os.fspath(path)
    if chunk_samples < 1:
        raise ValueError(f"chunk_samples must be positive, got {chunk_samples}")
    if not os.path.isfile(path):
        raise data_lib.AudioError(path, "no such file")
    try:
        info = soundfile.info(path)
    except Exception as err:  # soundfile raises several types for garbage input
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise data_lib.AudioError(path, f"unreadable or not a sound file ({reason})") from None
    if info.format not in ("WAV", "WAVEX"):
        raise data_lib.AudioError(path, f"not a WAV file (format {info.format})")
    if info.frames == 0:
        raise data_lib.AudioError(path, "empty (0 samples)")
    if info.channels > 1 and channel is None:
        raise data_lib.AudioError(
            path, f"{info.channels} channels; pass --channel=K to take one channel"
        )
    k = 0 if channel is None else int(channel)
    if not 0 <= k < info.channels:
        raise data_lib.AudioError(path, f"channel {k} requested but the file has {info.channels}")

    def chunks():
        with soundfile.SoundFile(path) as f:
            for block in f.blocks(blocksize=int(chunk_samples), dtype="float32", always_2d=True):
                x = np.ascontiguousarray(block[:, k])
                if not np.all(np.isfinite(x)):
                    raise data_lib.AudioError(path, "non-finite samples (NaN or Inf)")
                yield x

    return int(info.samplerate), chunks()


def resample_chunks(
    chunks: Iterable[np.ndarray], orig_rate: int, target_rate: int, block: int = 0
) -> Iterator[np.ndarray]:
    """Resamples a chunked signal with ``data.resample`` (polyphase), block by block.

    Input is regrouped into blocks of ``block`` input samples (a multiple of the reduced
    down-sampling factor; default about 0.1 s). Each block is resampled together with
    ``context`` input samples of its neighbours on each side, and only the output samples
    that belong to the block are kept, so the result equals ``data.resample`` of the whole
    signal except within ~``context`` samples of the two ends of the recording (where the
    whole-signal version zero-pads). Adds one block of latency.
    """
    if orig_rate == target_rate:
        yield from chunks
        return
    g = int(np.gcd(int(orig_rate), int(target_rate)))
    up, down = int(target_rate) // g, int(orig_rate) // g
    # resample_poly's filter has half-length 10 * max(up, down) at the upsampled rate.
    context = -(-10 * max(up, down) // up) + 2
    context = -(-context // down) * down  # whole multiples of `down`: outputs stay on the grid
    block = block or max(down, (int(orig_rate) // 10) // down * down)
    if block % down:
        raise ValueError(f"block must be a multiple of {down}, got {block}")
    out_per_block = block * up // down
    pending = np.zeros(0, np.float32)  # samples not yet emitted, with left context in front
    left = np.zeros(0, np.float32)  # the previous `context` samples (none at the start)

    def emit(core, right, n_core_out):
        seg = np.concatenate([left, core, right])
        y = data_lib.resample(seg, orig_rate, target_rate)
        a = left.shape[0] * up // down
        return y[a : a + n_core_out]

    for chunk in chunks:
        pending = np.concatenate([pending, np.asarray(chunk, np.float32)])
        while pending.shape[0] >= block + context:
            core, right = pending[:block], pending[block : block + context]
            yield emit(core, right, out_per_block)
            left = core[-context:] if block >= context else np.concatenate([left, core])[-context:]
            pending = pending[block:]
    if pending.shape[0]:
        n_out = -(-pending.shape[0] * up // down)
        yield emit(pending, np.zeros(0, np.float32), n_out)


# ---------------------------------------------------------------- timing


def latency_summary(latencies_s: np.ndarray, audio_seconds: float, wall_seconds: float) -> dict:
    """Per-window latency percentiles (ms) and the real-time factor.

    latency of a window = time from the arrival of its last sample to its score being ready.
    real_time_factor = processing wall time / audio duration (< 1: faster than real time).
    """
    lat = np.asarray(latencies_s, np.float64) * 1e3
    if lat.size == 0:
        return {
            "n_windows": 0,
            "audio_seconds": float(audio_seconds),
            "wall_seconds": float(wall_seconds),
        }
    return {
        "n_windows": int(lat.size),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p99": float(np.percentile(lat, 99)),
        "latency_ms_max": float(lat.max()),
        "audio_seconds": float(audio_seconds),
        "wall_seconds": float(wall_seconds),
        "real_time_factor": float(wall_seconds / audio_seconds) if audio_seconds > 0 else None,
        "definition": "latency: last sample of the window read -> score ready; "
        "real_time_factor: processing wall time / audio duration (< 1 = faster than real time)",
    }


# ---------------------------------------------------------------- the loop


def run_stream(
    chunks: Iterable[np.ndarray],
    score_fn: Callable[[np.ndarray], np.ndarray],
    window: int,
    hop: int,
    rate: int,
    alarm: AlarmConfig,
    last: str = "drop",
    on_alert: Optional[Callable[[str, dict], None]] = None,
) -> dict:
    """Scores a chunked stream window by window and runs the alarm as the samples arrive.

    Args:
      chunks: 1-D float32 chunks at ``rate`` Hz (e.g. from ``open_wav_stream`` or
        ``read_pcm16_chunks``).
      score_fn: clips [n, window] -> anomaly scores [n]; called once per chunk with the
        windows that chunk completed.
      window, hop: samples; see the module docstring for the boundaries.
      alarm: the hysteresis settings.
      on_alert: called as ``on_alert('onset', {'start', 'score', 'window'})`` when an alarm
        switches on and ``on_alert('alert', event)`` with each alert event as it closes.

    Returns {'events': [...], 'scores' [N], 'starts' [N] samples, 'padded' [N] bool,
    'timing': latency_summary(...)}.
    """
    t0 = time.perf_counter()
    say = on_alert or (lambda kind, ev: None)
    state = AlarmState()
    events, scores, starts, padded, latencies = [], [], [], [], []
    n_samples = 0

    def counted(it):
        nonlocal n_samples
        for c in it:
            n_samples += len(c)
            yield c

    for batch in window_batches(counted(chunks), window, hop, last):
        if not batch:
            continue
        s = np.asarray(score_fn(np.stack([w.samples for w in batch])), np.float64)
        done = time.perf_counter()
        if s.shape != (len(batch),):
            raise ValueError(f"score_fn returned shape {s.shape} for {len(batch)} windows")
        for w, score in zip(batch, s):
            was_active = state.active
            state, ev = alarm_step(state, score, w.start / rate, (w.start + window) / rate, alarm)
            if state.active and not was_active:
                onset = {"start": state.run_start, "score": float(score), "window": state.index - 1}
                say("onset", onset)
            if ev is not None:
                events.append(ev)
                say("alert", ev)
            latencies.append(done - w.arrival)
            scores.append(score)
            starts.append(w.start)
            padded.append(w.padded)
    ev = alarm_finish(state)
    if ev is not None:
        events.append(ev)
        say("alert", ev)
    wall = time.perf_counter() - t0
    return {
        "events": events,
        "scores": np.asarray(scores, np.float64),
        "starts": np.asarray(starts, np.int64),
        "padded": np.asarray(padded, bool),
        "timing": latency_summary(np.asarray(latencies), n_samples / rate, wall),
    }
