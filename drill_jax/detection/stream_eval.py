"""Streams of HELD-OUT sounds with known anomaly events: time to alert, false alerts, coverage.

One stream builder (``build_stream``): normal audio (whole held-out normal sounds drawn at
random) with anomaly events of chosen durations (whole held-out anomaly sounds, in a
shuffled order, repeated only when they run out) between gaps of normal audio. Every window
of the stream (``hop`` apart, the streaming rule of ``detection.streaming``) is scored once;
each alarm setting (``alarms.AlarmConfig``) then runs over those scores.

An alert is DECIDED at the end of the window that completes its on-run: decision time =
alert start + (on_windows - 1) * hop + window. An event is detected when an alert is decided
between its start and ``max_delay_s`` after its end (smoothing lags); its delay is the first
such decision time minus the event start. An alert decided outside every event's span is a
false alert; false alerts per hour count hours of normal audio.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from drill_jax import data as data_lib
from drill_jax.detection import alarms, build, deploy, scoring, streaming
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.detector import Detector


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """The events of an evaluation stream.

    Attributes:
      event_seconds: anomaly event durations (s); each at least this long in whole sounds.
      events_per_duration: events of each duration.
      gap_seconds: normal audio before, between and after events (s).
      hop_fraction: window hop as a fraction of the detector's clip.
      max_delay_s: an alert decided up to this long after an event ends still detects it.
    """

    event_seconds: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    events_per_duration: int = 3
    gap_seconds: float = 5.0
    hop_fraction: float = 0.5
    max_delay_s: float = 1.0


def _take(sounds, need: int, order: list, rng) -> list:
    """Sound indices whose lengths add up to at least ``need`` samples; ``order`` is a
    shuffled queue refilled when empty (``rng`` None: random draws with replacement)."""
    out, total = [], 0
    while total < need:
        if rng is not None:
            i = int(rng.integers(len(sounds)))
        else:
            i = order.pop(0)
            order.append(i)
        out.append(i)
        total += len(sounds[i])
    return out


def build_stream(
    normal, anomaly, event_seconds: Sequence[float], gap_seconds: float, rate: int, rng
):
    """Normal audio with anomaly events: gap, event 0, gap, event 1, ..., gap.

    ``normal`` / ``anomaly``: sequences of 1-D sounds. Returns (signal [T] float32, events
    [{'event', 'start', 'end' (s), 'sounds'}], segments [{'label', 'sound', 'start', 'end'}]).
    """
    if not len(normal) or (len(event_seconds) and not len(anomaly)):
        raise ValueError("a stream needs normal sounds (and anomaly sounds for its events)")
    queue = list(rng.permutation(len(anomaly))) if len(anomaly) else []
    pieces, segments, events, pos = [], [], [], 0
    plan = [("normal", gap_seconds)]
    for d in event_seconds:
        plan += [("anomaly", d), ("normal", gap_seconds)]
    for label, seconds in plan:
        sounds = normal if label == "normal" else anomaly
        draw = rng if label == "normal" else None
        picks = _take(sounds, int(round(seconds * rate)), queue, draw)
        start = pos
        for i in picks:
            w = np.asarray(sounds[i], np.float32)
            pieces.append(w)
            segments.append(
                {"label": label, "sound": i, "start": pos / rate, "end": (pos + w.size) / rate}
            )
            pos += w.size
        if label == "anomaly":
            events.append(
                {
                    "event": len(events),
                    "nominal_seconds": seconds,
                    "start": start / rate,
                    "end": pos / rate,
                    "sounds": picks,
                }
            )
    return np.concatenate(pieces), events, segments


def window_scores(detector: Detector, stream: np.ndarray, hop: int, chunk: int = 4096):
    """Scores of every whole window of a stream. -> (scores [W], starts [W] samples)."""
    windows, starts = data_lib.window_signal(stream, detector.settings.clip_samples, hop)
    scores = [
        scoring.score_clips(detector, windows[i : i + chunk]) for i in range(0, len(windows), chunk)
    ]
    return np.concatenate(scores), starts


def match_alerts(
    alerts: list,
    events: list,
    alarm: alarms.AlarmConfig,
    hop_s: float,
    window_s: float,
    max_delay_s: float,
) -> dict:
    """Which events an alert detects (decided in [start, end + max_delay_s]), their delays
    (s), and the false alerts (see the module docstring)."""
    decided = [a["start"] + (alarm.on_windows - 1) * hop_s + window_s for a in alerts]
    used, rows = set(), []
    for ev in events:
        hits = [k for k, t in enumerate(decided) if ev["start"] <= t <= ev["end"] + max_delay_s]
        used.update(hits)
        delay = min(decided[k] for k in hits) - ev["start"] if hits else None
        row = {"event": ev["event"], "nominal_seconds": ev.get("nominal_seconds")}
        rows.append(dict(row, detected=bool(hits), delay_s=delay))
    false = [a for k, a in enumerate(alerts) if k not in used]
    n_detected = sum(r["detected"] for r in rows)
    return {"events": rows, "n_detected": n_detected, "n_events": len(rows), "false_alerts": false}


def alerted_time(alerts: list, segments: list) -> dict:
    """Seconds of normal and anomaly sound covered by alerts, and the normal fraction."""
    out = {"normal": 0.0, "anomaly": 0.0}
    total = {"normal": 0.0, "anomaly": 0.0}
    for s in segments:
        total[s["label"]] += s["end"] - s["start"]
        for a in alerts:
            out[s["label"]] += max(0.0, min(a["end"], s["end"]) - max(a["start"], s["start"]))
    return {
        "alerted_normal_seconds": out["normal"],
        "alerted_normal_fraction": out["normal"] / max(total["normal"], 1e-12),
        "alerted_anomaly_fraction": out["anomaly"] / max(total["anomaly"], 1e-12),
    }


def window_rates(scores, starts, window: int, rate: int, threshold: float, segments: list) -> dict:
    """Window-level rates: windows entirely inside anomaly sounds vs entirely inside normal
    audio (windows straddling a normal/anomaly boundary are left out)."""
    lab = np.zeros(int(round(segments[-1]["end"] * rate)), np.int8)
    for s in segments:
        if s["label"] == "anomaly":
            lab[int(round(s["start"] * rate)) : int(round(s["end"] * rate))] = 1
    inside = np.array([lab[a : a + window].mean() for a in starts])
    hi = np.asarray(scores) >= threshold
    pure_a, pure_n = inside == 1.0, inside == 0.0
    return {
        "n_windows_anomaly": int(pure_a.sum()),
        "n_windows_normal": int(pure_n.sum()),
        "window_tpr": float(hi[pure_a].mean()) if pure_a.any() else None,
        "window_fpr": float(hi[pure_n].mean()) if pure_n.any() else None,
    }


def _half_streams(ds, train: Callable, plan: StreamPlan, seed: int) -> list:
    """Per half of a grouped stratified 2-fold split: (detector trained on one half, its
    scores and starts on a stream of the other half, events, segments, hop)."""
    is_anom = build.anomaly_mask(ds)
    halves = data_lib.repeated_stratified_kfold(is_anom.astype(int), 2, 1, seed, groups=ds.groups)
    rng = np.random.default_rng(seed)
    events_s = [d for d in plan.event_seconds for _ in range(plan.events_per_duration)]
    out = []
    for tr, te in halves:
        det = train(ds.subset(tr))
        normal = [ds.waveforms[i] for i in te if not is_anom[i]]
        anomaly = [ds.waveforms[i] for i in te if is_anom[i]]
        signal, events, segments = build_stream(
            normal, anomaly, events_s, plan.gap_seconds, ds.sample_rate, rng
        )
        hop = max(1, int(round(det.settings.clip_samples * plan.hop_fraction)))
        out.append((det, *window_scores(det, signal, hop), events, segments, hop))
    return out


def time_to_alert(
    ds: data_lib.Dataset,
    train: Callable,
    settings: Callable,
    plan: StreamPlan = StreamPlan(),
    seed: int = 0,
) -> dict:
    """Event detection rate and delay per event duration, and false alerts per hour, for
    every alarm setting, on streams of held-out sounds (both halves of a 2-fold split).

    ``train(half: Dataset) -> Detector``; ``settings(detector) -> {name: AlarmConfig}``.
    Returns {'rows': [{setting, event_seconds, events, detected, detection_rate,
    median_delay_s, false_alerts, false_alerts_per_hour}], 'normal_hours', 'plan'}."""
    halves = _half_streams(ds, train, plan, seed)
    normal_s = [s["end"] - s["start"] for h in halves for s in h[4] if s["label"] == "normal"]
    hours = sum(normal_s) / 3600.0
    rows = []
    for name in settings(halves[0][0]):
        matched, n_false = [], 0
        for det, scores, starts, events, _, hop in halves:
            alarm = settings(det)[name]
            rate, window = ds.sample_rate, det.settings.clip_samples
            alerts = alarms.alarm_events(scores, starts, window, rate, alarm)
            m = match_alerts(alerts, events, alarm, hop / rate, window / rate, plan.max_delay_s)
            matched += m["events"]
            n_false += len(m["false_alerts"])
        for d in plan.event_seconds:
            evs = [e for e in matched if e["nominal_seconds"] == d]
            delays = [e["delay_s"] for e in evs if e["detected"]]
            rows.append(
                {
                    "setting": name,
                    "event_seconds": d,
                    "events": len(evs),
                    "detected": len(delays),
                    "detection_rate": len(delays) / max(len(evs), 1),
                    "median_delay_s": float(np.median(delays)) if delays else None,
                    "false_alerts": n_false,
                    "false_alerts_per_hour": n_false / hours,
                }
            )
    return {"rows": rows, "normal_hours": hours, "plan": dataclasses.asdict(plan)}


def to_markdown(result: dict) -> str:
    """The time-to-alert rows as a markdown table."""
    lines = [
        "| alert setting | event (s) | detected | median delay (s) | false alerts per hour |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        delay = "-" if r["median_delay_s"] is None else f"{r['median_delay_s']:.2f}"
        lines.append(
            f"| {r['setting']} | {r['event_seconds']:g} | {r['detected']}/{r['events']} | "
            f"{delay} | {r['false_alerts_per_hour']:.1f} |"
        )
    return "\n".join(lines) + f"\n\n{result['normal_hours'] * 3600:.0f} s of normal audio.\n"


def alarm_settings(threshold: float, recorded: dict) -> dict:
    """The two alert settings time to alert compares, at a detector's window ``threshold``:
    'default' (the ``recorded`` AlarmConfig fields, e.g. smoothing over 40 windows) and
    'short-event' (the mean of 8 windows, 2 in a row raise an alert: about 0.1 s at the
    bundled 1000-sample hop and 96 kHz; short events, more false alerts)."""
    return {
        "default": alarms.AlarmConfig(threshold=threshold, **recorded),
        "short-event": alarms.AlarmConfig(threshold, on_windows=2, smooth_windows=8),
    }


def replay(
    detector: Detector,
    wav: str,
    truth: tuple,
    alarm: alarms.AlarmConfig,
    plan: StreamPlan,
    chunk_s: float,
    repeats: int,
) -> dict:
    """Streams a WAV with known events (``truth`` = (events, segments) of ``build_stream``)
    through ``detector`` as ``experiments.detect --stream`` does, ``repeats`` times (the
    scores must agree; the run with the median real-time factor is kept), and reports
    detected events and delays, false alerts, alerted time, window rates and latency."""
    events, segments = truth
    s = detector.settings
    hop = max(1, int(round(s.clip_samples * plan.hop_fraction)))
    runs = []
    for _ in range(max(1, repeats)):
        rate, chunks = streaming.open_wav_stream(wav, max(1, int(round(chunk_s * s.sample_rate))))
        detector_lib.check_rate(detector, rate, wav)
        per_chunk = int(np.ceil(chunk_s * s.sample_rate / hop)) + 1
        runs.append(deploy.stream(detector, chunks, hop, alarm, "drop", per_chunk))
    for r in runs[1:]:  # scoring is deterministic: every run raises the same alerts
        np.testing.assert_allclose(r["scores"], runs[0]["scores"], rtol=1e-6)
    result = runs[int(np.argsort([r["timing"]["real_time_factor"] for r in runs])[len(runs) // 2])]
    window_s, rate = s.clip_samples / s.sample_rate, s.sample_rate
    match = match_alerts(result["events"], events, alarm, hop / rate, window_s, plan.max_delay_s)
    rates = window_rates(
        result["scores"], result["starts"], s.clip_samples, rate, alarm.threshold, segments
    )
    return {
        "model": detector.model,
        "threshold": alarm.threshold,
        "alarm": dataclasses.asdict(alarm),
        **match,
        "n_false_alerts": len(match["false_alerts"]),
        **rates,
        **alerted_time(result["events"], segments),
        "alerts": result["events"],
        "timing": result["timing"],
        "window_scores": {"starts": result["starts"].tolist(), "scores": result["scores"].tolist()},
    }
