"""Stream evaluation: the one stream builder, alert matching, time to alert on a tiny stream."""

import numpy as np
import pytest

from drill_jax import data as data_lib
from drill_jax.classify import classical
from drill_jax.detection import alarms, build, stream_eval
from drill_jax.detection.models import clip_classical
from drill_jax.features import FeatureSettings

SR = 16000


def _dataset(n=16):
    rng = np.random.default_rng(0)
    t = np.arange(4000) / SR
    labels = np.arange(n) % 2  # 0 'anomaly': a 2 kHz tone in noise; 1 'normal': noise
    waves = [
        (0.4 * np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.1 * rng.normal(size=4000)) for y in labels
    ]
    return data_lib.Dataset.from_arrays(waves, labels, ("anomaly", "normal"), SR)


def test_build_stream_lays_out_gaps_and_events_of_whole_sounds():
    normal = [np.zeros(100, np.float32), np.zeros(50, np.float32)]
    anomaly = [np.full(30, k + 1, np.float32) for k in range(3)]
    rng = np.random.default_rng(0)
    signal, events, segments = stream_eval.build_stream(
        normal, anomaly, [0.1, 0.05], 0.2, 1000, rng
    )
    assert [e["nominal_seconds"] for e in events] == [0.1, 0.05]
    for ev in events:
        part = signal[int(round(ev["start"] * 1000)) : int(round(ev["end"] * 1000))]
        assert np.all(part > 0) and part.size >= ev["nominal_seconds"] * 1000
        assert part.size % 30 == 0  # whole anomaly sounds
    first = events[0]["sounds"] + events[1]["sounds"]
    assert sorted(first[:3]) == [0, 1, 2]  # no repeat before every anomaly sound is used
    assert signal[: int(events[0]["start"] * 1000)].size >= 200  # the first gap
    assert segments[-1]["end"] == pytest.approx(signal.size / 1000)
    with pytest.raises(ValueError, match="needs normal sounds"):
        stream_eval.build_stream([], anomaly, [0.1], 0.2, 1000, rng)


def test_match_alerts_detection_delay_and_false_alerts():
    alarm = alarms.AlarmConfig(threshold=0.5, on_windows=2, smooth_windows=1)
    events = [{"event": 0, "start": 1.0, "end": 2.0}, {"event": 1, "start": 5.0, "end": 5.1}]
    alerts = [{"start": 1.2, "end": 2.0}, {"start": 3.5, "end": 3.6}, {"start": 5.5, "end": 6.0}]
    # decided at start + (2 - 1) * 0.1 + 0.2: 1.5 (event 0), 3.8 (none), 5.8 (event 1 + 0.7)
    m = stream_eval.match_alerts(alerts, events, alarm, 0.1, 0.2, max_delay_s=1.0)
    assert [e["detected"] for e in m["events"]] == [True, True]
    assert [e["delay_s"] for e in m["events"]] == pytest.approx([0.5, 0.8])
    assert m["false_alerts"] == [alerts[1]]
    m = stream_eval.match_alerts(alerts, events, alarm, 0.1, 0.2, max_delay_s=0.5)
    assert [e["detected"] for e in m["events"]] == [True, False] and len(m["false_alerts"]) == 2


def test_alerted_time_and_window_rates():
    segments = [
        {"label": "normal", "start": 0.0, "end": 1.0},
        {"label": "anomaly", "start": 1.0, "end": 2.0},
    ]
    out = stream_eval.alerted_time([{"start": 0.5, "end": 1.5}], segments)
    assert out["alerted_normal_fraction"] == pytest.approx(0.5)
    assert out["alerted_anomaly_fraction"] == pytest.approx(0.5)
    starts = np.array([0, 5, 10])  # windows of 10 samples at 10 Hz: [0, 1), [.5, 1.5), [1, 2) s
    rates = stream_eval.window_rates([0.9, 0.1, 0.9], starts, 10, 10, 0.5, segments)
    assert rates["n_windows_normal"] == 1 and rates["n_windows_anomaly"] == 1
    assert rates["window_fpr"] == 1.0 and rates["window_tpr"] == 1.0


def test_time_to_alert_of_a_good_detector_on_a_tiny_stream():
    ds = _dataset()
    trained_on = []

    def train(half):
        trained_on.append(set(half.paths))
        config = clip_classical.Config(recipes=(classical.Recipe("shape", "lr"),))
        settings = FeatureSettings(sample_rate=SR, band_hz=None)
        tc = build.TrainConfig(clip_samples=2000, train_hop=1000)
        return build.train(half, "clip_classical", config, settings, tc)

    plan = stream_eval.StreamPlan(event_seconds=(0.25, 1.0), events_per_duration=2, gap_seconds=2.0)
    out = stream_eval.time_to_alert(
        ds, train, lambda det: stream_eval.alarm_settings(det.threshold, {}), plan
    )
    assert trained_on[0].isdisjoint(trained_on[1])  # each half streams the other's sounds
    rows = {(r["setting"], r["event_seconds"]): r for r in out["rows"]}
    assert sorted(rows) == sorted((s, d) for s in ("default", "short-event") for d in (0.25, 1.0))
    short = rows[("short-event", 1.0)]
    assert short["events"] == 4 and short["detected"] == 4  # 2 per half
    assert 0.0 <= short["median_delay_s"] <= 1.0
    # a 0.25 s event (4 windows at a 1000-sample hop) cannot lift a 40-window mean much
    assert rows[("default", 0.25)]["detected"] <= rows[("short-event", 0.25)]["detected"]
    assert out["normal_hours"] == pytest.approx(2 * 5 * 2.0 / 3600, rel=0.2)
    assert "| short-event | 1 | 4/4 |" in stream_eval.to_markdown(out)
