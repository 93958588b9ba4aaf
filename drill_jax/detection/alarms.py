"""A hysteresis alarm over one anomaly score per window (pure state machine).

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
from typing import NamedTuple, Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class AlarmConfig:
    """Alarm settings. The defaults are the product's: few false alerts on steady machines,
    at the cost of events shorter than the smoothing (40 windows, 0.42 s at the bundled
    1000-sample hop and 96 kHz), which ``detection.stream_eval.time_to_alert`` measures.

    Attributes:
      threshold: score at or above which a (smoothed) window counts as anomalous.
      on_windows: consecutive anomalous windows that raise the alarm.
      off_windows: consecutive windows below off_threshold that end it.
      off_threshold: the score below which a window is quiet (default: threshold).
      smooth_windows: the alarm reads the mean of the last N window scores (causal; fewer
        at the start of a stream) instead of each score alone (1 = no smoothing).
    """

    threshold: float
    on_windows: int = 3
    off_windows: int = 2
    off_threshold: Optional[float] = None
    smooth_windows: int = 40

    def __post_init__(self):
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")
        if self.smooth_windows < 1:
            raise ValueError(f"smooth_windows must be >= 1, got {self.smooth_windows}")
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
    recent: tuple = ()  # the last smooth_windows raw scores (smoothing)


def alarm_step(
    state: AlarmState, score: float, t_start: float, t_end: float, config: AlarmConfig
) -> tuple[AlarmState, Optional[dict]]:
    """Advances the alarm by one window. Returns (new state, a closed event dict or None).

    Event: {'start': s, 'end': s, 'peak_score', 'first_window', 'last_window', 'n_windows',
    'closed_by': 'quiet'}; with smoothing, scores and peaks are the smoothed ones. Pure: the
    input state is not changed.
    """
    score = float(score)
    if not np.isfinite(score):
        raise ValueError(f"window {state.index}: non-finite score {score}")
    if config.smooth_windows > 1:
        recent = (state.recent + (score,))[-config.smooth_windows :]
        state, score = state._replace(recent=recent), float(np.mean(recent))
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
        return AlarmState(index=i + 1, recent=state.recent), event
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
