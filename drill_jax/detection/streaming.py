"""Streaming detection pieces: windowing, chunked WAV / raw-PCM readers, and a hysteresis alarm.

Windowing convention (shared by the offline ``window_signal`` and the incremental
``stream_windows``, which give identical windows for the same samples):

* Window ``i`` covers samples ``[i * hop, i * hop + window)``; its start time is
  ``i * hop / rate`` seconds and its end time ``(i * hop + window) / rate``.
* ``last='drop'`` (default): only whole windows are scored. The samples after the end of
  the last whole window (at most ``hop - 1`` of them when ``hop <= window``, and a whole
  recording shorter than one window) are NOT scored.
* ``last='pad'``: if samples after the end of the last whole window remain and the next
  hop position lies inside the signal, one more window starts at that position and is
  zero-padded to ``window`` samples (a signal shorter than one window gives one padded
  window). Zero padding changes the spectrum, so its score is less reliable.

Alarm logic (``alarm_step`` / ``alarm_events``), over one score per window:

* The alarm switches ON at the window that completes a run of ``on_windows`` consecutive
  scores ``>= threshold``; the event starts at the start time of the FIRST window of that run.
* While on, it switches OFF after ``off_windows`` consecutive scores ``< off_threshold``
  (default: ``threshold``); the event ends at the end time of the last window before that
  run (the last window whose score was ``>= off_threshold``). ``peak`` is the largest score
  from the first window of the on-run to that last window.
* A single noisy window cannot raise an alarm when ``on_windows >= 2``, and a single quiet
  window inside an anomaly does not split one alarm into two when ``off_windows >= 2``.
* At the end of the stream an open alarm is closed (``alarm_finish``) with ``closed_by=
  'end_of_stream'``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple, Optional

import numpy as np
import soundfile

from drill_jax import data as data_lib

LAST_MODES = ("drop", "pad")


# ---------------------------------------------------------------- windowing


def _check_window(window: int, hop: int, last: str) -> None:
    if int(window) < 1 or int(hop) < 1:
        raise ValueError(f"window and hop must be positive sample counts, got {window}, {hop}")
    if last not in LAST_MODES:
        raise ValueError(f"last must be one of {LAST_MODES}, got {last!r}")


def window_signal(
    x: np.ndarray, window: int, hop: int, last: str = "drop"
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a recording into windows. [T] -> (windows [N, window] float32, starts [N] samples).

    See the module docstring for the exact boundaries and the ``last`` modes.
    """
    _check_window(window, hop, last)
    window, hop = int(window), int(hop)
    x = np.asarray(x, np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D recording [T], got shape {x.shape}")
    n_whole = 0 if x.shape[0] < window else (x.shape[0] - window) // hop + 1
    starts = np.arange(n_whole, dtype=np.int64) * hop
    out = (
        np.lib.stride_tricks.sliding_window_view(x, window)[::hop][:n_whole]
        if n_whole
        else (np.zeros((0, window), np.float32))
    )
    if last == "pad" and _needs_tail(n_whole, window, hop, x.shape[0]):
        tail = data_lib.pad_to(x[n_whole * hop :], window, "zero")[None].astype(np.float32)
        out = np.concatenate([out, tail])
        starts = np.append(starts, n_whole * hop)
    return np.ascontiguousarray(out, np.float32), starts


def _needs_tail(n_whole: int, window: int, hop: int, total: int) -> bool:
    """A padded last window is added when samples after the last whole window's end
    remain AND the next hop position is inside the signal."""
    covered = (n_whole - 1) * hop + window if n_whole else 0
    return covered < total and n_whole * hop < total


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
    stream the windows are exactly those of ``window_signal(concatenate(chunks), window, hop,
    last)``; a padded last window comes in a final list after the stream ends. Memory is
    bounded: at most ``window + len(chunk)`` samples are kept.
    """
    _check_window(window, hop, last)
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
    if last == "pad" and _needs_tail(next_start // hop, window, hop, total):
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


# ---------------------------------------------------------------- hysteresis alarm


@dataclasses.dataclass(frozen=True)
class AlarmConfig:
    """Alarm settings. threshold: score at or above which a window counts as anomalous;
    on_windows: consecutive anomalous windows that raise the alarm; off_windows: consecutive
    windows below ``off_threshold`` (default ``threshold``) that end it."""

    threshold: float
    on_windows: int = 2
    off_windows: int = 2
    off_threshold: Optional[float] = None

    def __post_init__(self):
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")
        if self.on_windows < 1 or self.off_windows < 1:
            raise ValueError(
                f"on_windows and off_windows must be >= 1, got {self.on_windows}, "
                f"{self.off_windows}"
            )
        if self.off_threshold is not None and self.off_threshold > self.threshold:
            raise ValueError(
                f"off_threshold ({self.off_threshold}) must not exceed threshold ({self.threshold})"
            )

    @property
    def low(self) -> float:
        return self.threshold if self.off_threshold is None else float(self.off_threshold)


class AlarmState(NamedTuple):
    """State of the alarm machine between windows (all times in seconds)."""

    active: bool = False
    run: int = 0  # consecutive windows >= threshold (while off) or < off_threshold (while on)
    run_start: float = 0.0  # start time of the first window of the current on-run
    run_start_index: int = -1
    run_peak: float = -np.inf
    last_high_end: float = 0.0  # end time of the last window >= off_threshold while on
    last_high_index: int = -1
    peak: float = -np.inf
    index: int = 0  # windows seen


def alarm_step(
    state: AlarmState, score: float, t_start: float, t_end: float, config: AlarmConfig
) -> tuple[AlarmState, Optional[dict]]:
    """Advances the alarm by one window. Returns (new state, a closed event dict or None).

    Event: {'start': s, 'end': s, 'peak_score', 'first_window', 'last_window', 'n_windows',
    'closed_by': 'quiet'}. Pure: the input state is not changed.
    """
    score = float(score)
    if not np.isfinite(score):
        raise ValueError(f"window {state.index}: non-finite score {score}")
    i = state.index
    if not state.active:
        if score >= config.threshold:
            if state.run == 0:
                state = state._replace(run_start=t_start, run_start_index=i, run_peak=score)
            state = state._replace(run=state.run + 1, run_peak=max(state.run_peak, score))
            if state.run >= config.on_windows:
                state = state._replace(
                    active=True,
                    run=0,
                    peak=state.run_peak,
                    last_high_end=t_end,
                    last_high_index=i,
                )
        else:
            state = state._replace(run=0, run_peak=-np.inf)
        return state._replace(index=i + 1), None
    if score >= config.low:
        state = state._replace(
            run=0, last_high_end=t_end, last_high_index=i, peak=max(state.peak, score)
        )
        return state._replace(index=i + 1), None
    state = state._replace(run=state.run + 1)
    if state.run >= config.off_windows:
        event = _event(state, "quiet")
        return AlarmState(index=i + 1), event
    return state._replace(index=i + 1), None


def alarm_finish(state: AlarmState) -> Optional[dict]:
    """The open event at the end of a stream (closed_by='end_of_stream'), or None."""
    return _event(state, "end_of_stream") if state.active else None


def _event(state: AlarmState, closed_by: str) -> dict:
    return {
        "start": float(state.run_start),
        "end": float(state.last_high_end),
        "peak_score": float(state.peak),
        "first_window": int(state.run_start_index),
        "last_window": int(state.last_high_index),
        "n_windows": int(state.last_high_index - state.run_start_index + 1),
        "closed_by": closed_by,
    }


def alarm_events(
    scores: np.ndarray, starts: np.ndarray, window: int, rate: int, config: AlarmConfig
) -> list[dict]:
    """All alarm events over a score sequence. scores [N], starts [N] samples -> list of events.

    Window i spans [starts[i], starts[i] + window) samples, i.e. times in seconds / ``rate``.
    """
    scores = np.asarray(scores, np.float64)
    starts = np.asarray(starts)
    if scores.ndim != 1 or starts.shape != scores.shape:
        raise ValueError(
            f"scores and starts must be 1-D of equal length, got {scores.shape}, {starts.shape}"
        )
    state, events = AlarmState(), []
    for s, a in zip(scores, starts):
        state, ev = alarm_step(state, s, a / rate, (a + window) / rate, config)
        if ev is not None:
            events.append(ev)
    ev = alarm_finish(state)
    if ev is not None:
        events.append(ev)
    return events


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
    on_event: Optional[Callable[[dict], None]] = None,
    on_onset: Optional[Callable[[dict], None]] = None,
) -> dict:
    """Scores a chunked stream window by window and runs the alarm as the samples arrive.

    Args:
      chunks: 1-D float32 chunks at ``rate`` Hz (e.g. from ``open_wav_stream`` or
        ``read_pcm16_chunks``).
      score_fn: clips [n, window] -> anomaly scores [n]; called once per chunk with the
        windows that chunk completed.
      window, hop: samples; see the module docstring for the boundaries.
      alarm: the hysteresis settings.
      on_event: called with each alert event dict as soon as it closes.
      on_onset: called with {'start', 'score', 'window'} when an alarm switches on.

    Returns {'events': [...], 'scores' [N], 'starts' [N] samples, 'padded' [N] bool,
    'timing': latency_summary(...)}.
    """
    t0 = time.perf_counter()
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
            if state.active and not was_active and on_onset is not None:
                on_onset(
                    {"start": state.run_start, "score": float(score), "window": state.index - 1}
                )
            if ev is not None:
                events.append(ev)
                if on_event is not None:
                    on_event(ev)
            latencies.append(done - w.arrival)
            scores.append(score)
            starts.append(w.start)
            padded.append(w.padded)
    ev = alarm_finish(state)
    if ev is not None:
        events.append(ev)
        if on_event is not None:
            on_event(ev)
    wall = time.perf_counter() - t0
    return {
        "events": events,
        "scores": np.asarray(scores, np.float64),
        "starts": np.asarray(starts, np.int64),
        "padded": np.asarray(padded, bool),
        "timing": latency_summary(np.asarray(latencies), n_samples / rate, wall),
    }
