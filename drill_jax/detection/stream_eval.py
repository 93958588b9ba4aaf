"""Long-stream evaluation on HELD-OUT sounds: false alerts per hour and anomaly coverage.

The sounds are split in two halves (grouped, stratified); a detector is trained on one half
and listens to streams made of the other half only: a normal stream (the held-out normal
sounds drawn at random, whole, back to back) and an anomaly stream (the same with the
held-out anomaly sounds). Every window of a stream (``hop`` samples apart, the streaming
rule of ``detection.streaming``) is scored once; each (threshold, on_windows) pair then runs
the hysteresis alarm of ``detection.alarms`` over those scores. Reported per pair, over
both halves: alerts per hour of normal audio and the share of anomaly audio under alert.
"""

from __future__ import annotations

import itertools
from typing import Callable, Optional, Sequence

import numpy as np

from drill_jax import data as data_lib
from drill_jax.detection import alarms, scoring
from drill_jax.detection.detector import Detector


def make_stream(waveforms: Sequence[np.ndarray], seconds: float, rate: int, rng) -> np.ndarray:
    """Whole sounds drawn at random (with replacement) and joined until the stream lasts at
    least ``seconds``. -> [T] float32."""
    if not len(waveforms):
        raise ValueError("a stream needs at least one sound")
    need, parts, total = int(round(seconds * rate)), [], 0
    while total < need:
        w = waveforms[int(rng.integers(len(waveforms)))]
        parts.append(np.asarray(w, np.float32))
        total += parts[-1].shape[0]
    return np.concatenate(parts)


def window_scores(detector: Detector, stream: np.ndarray, hop: int, chunk: int = 4096):
    """Scores of every whole window of a stream. -> (scores [W], starts [W] samples)."""
    windows, starts = data_lib.window_signal(stream, detector.settings.clip_samples, hop)
    scores = np.concatenate(
        [
            scoring.score_clips(detector, windows[i : i + chunk])
            for i in range(0, len(windows), chunk)
        ]
    )
    return scores, starts


def alert_summary(
    scores,
    starts,
    window: int,
    rate: int,
    threshold: float,
    on_windows: int,
    off_windows: int,
    smooth_windows: int = 1,
) -> dict:
    """{'alerts', 'seconds_under_alert', 'seconds'} of the alarm over one stream's scores."""
    cfg = alarms.AlarmConfig(
        threshold=threshold,
        on_windows=on_windows,
        off_windows=off_windows,
        smooth_windows=smooth_windows,
    )
    events = alarms.alarm_events(scores, starts, window, rate, cfg)
    seconds = (starts[-1] + window) / rate if len(starts) else 0.0
    return {
        "alerts": len(events),
        "seconds_under_alert": float(sum(e["end"] - e["start"] for e in events)),
        "seconds": float(seconds),
    }


def stream_tradeoff(
    ds: data_lib.Dataset,
    train: Callable[[data_lib.Dataset], Detector],
    positive_index: int,
    minutes: float = 5.0,
    hop: Optional[int] = None,
    thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
    on_windows: Sequence[int] = (1, 3, 5, 10, 20),
    off_windows: int = 2,
    seed: int = 0,
    smooth_windows: Sequence[int] = (1,),
) -> dict:
    """The trade-off table over ``smooth_windows`` x ``thresholds`` x ``on_windows`` (see the
    module docstring; the alarm of ``detection.alarms`` with those settings).

    ``train(half) -> Detector`` trains on one half. ``hop`` default: half a clip (the
    streaming default of ``experiments.detect``). Returns {'rows': [{threshold, on_windows,
    false_alerts_per_hour, anomaly_share_under_alert, normal_hours, anomaly_hours}], 'halves'}.
    """
    halves = data_lib.repeated_stratified_kfold(ds.labels, 2, 1, seed, groups=ds.groups)
    rng = np.random.default_rng(seed)
    streams = []  # per half: (normal scores, starts), (anomaly scores, starts), detector
    for tr, te in halves:
        det = train(ds.subset(tr))
        h = int(hop or det.settings.clip_samples // 2)
        held = ds.subset(te)
        made = []
        for is_anom in (False, True):
            sounds = [
                w for w, y in zip(held.waveforms, held.labels) if (y == positive_index) == is_anom
            ]
            stream = make_stream(sounds, 60.0 * minutes, ds.sample_rate, rng)
            made.append(window_scores(det, stream, h))
        streams.append((made, det))
    rows = []
    for smooth, thr, on in itertools.product(smooth_windows, thresholds, on_windows):
        args = (ds.sample_rate, thr, on, off_windows, smooth)
        normal = [alert_summary(*m[0], d.settings.clip_samples, *args) for m, d in streams]
        anom = [alert_summary(*m[1], d.settings.clip_samples, *args) for m, d in streams]
        normal_h = sum(s["seconds"] for s in normal) / 3600.0
        anom_s = sum(s["seconds"] for s in anom)
        rows.append(
            {
                "smooth_windows": int(smooth),
                "threshold": float(thr),
                "on_windows": int(on),
                "false_alerts_per_hour": sum(s["alerts"] for s in normal) / normal_h,
                "false_alerts": sum(s["alerts"] for s in normal),
                "anomaly_share_under_alert": sum(s["seconds_under_alert"] for s in anom) / anom_s,
                "normal_hours": normal_h,
                "anomaly_hours": anom_s / 3600.0,
            }
        )
    return {"rows": rows, "halves": [[len(tr), len(te)] for tr, te in halves]}


def to_markdown(result: dict) -> str:
    """The trade-off rows as a markdown table."""
    lines = [
        "| smooth_windows | threshold | on_windows | false alerts per hour (normal) | "
        "anomaly audio under alert |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['smooth_windows']} | {r['threshold']:g} | {r['on_windows']} | "
            f"{r['false_alerts_per_hour']:.1f} | {100 * r['anomaly_share_under_alert']:.1f} % |"
        )
    return "\n".join(lines) + "\n"
