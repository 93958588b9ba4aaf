"""Long-stream evaluation: streams of held-out sounds, alert counts, the trade-off table."""

import numpy as np
import pytest

from drill_jax import data as data_lib
from drill_jax.classify import classical
from drill_jax.detection import stream_eval, supervised
from drill_jax.features import FeatureSettings

SR = 16000


def _dataset(n=16):
    rng = np.random.default_rng(0)
    t = np.arange(4000) / SR
    labels = np.arange(n) % 2  # 0 'anomaly': a 2 kHz tone in noise; 1 'normal': noise
    waves = tuple(
        (0.4 * np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.1 * rng.normal(size=4000)).astype(
            np.float32
        )
        for y in labels
    )
    return data_lib.Dataset(
        waveforms=waves,
        sample_rate=SR,
        labels=labels,
        class_names=("anomaly", "normal"),
        paths=tuple(f"s{i}.wav" for i in range(n)),
        groups=np.arange(n),
        starts=np.zeros(n, np.int64),
    )


def test_make_stream_joins_whole_sounds_until_long_enough():
    sounds = [np.full(100, i, np.float32) for i in range(3)]
    s = stream_eval.make_stream(sounds, 0.05, 1000, np.random.default_rng(0))  # 50 samples
    assert s.shape == (100,) and len(set(s.tolist())) == 1
    s = stream_eval.make_stream(sounds, 1.0, 1000, np.random.default_rng(0))
    assert s.shape == (1000,)  # ten whole sounds
    with pytest.raises(ValueError, match="at least one sound"):
        stream_eval.make_stream([], 1.0, 1000, np.random.default_rng(0))


def test_alert_summary_counts_runs_and_time_under_alert():
    scores = np.array([0, 1, 1, 1, 0, 0, 1, 0, 0], float)
    starts = np.arange(9) * 10
    out = stream_eval.alert_summary(scores, starts, 10, 100, 0.5, on_windows=2, off_windows=2)
    assert out["alerts"] == 1  # the lone window at 6 cannot raise one
    assert out["seconds_under_alert"] == pytest.approx(0.3)  # windows 1-3: 10 .. 40 samples
    assert out["seconds"] == pytest.approx(0.9)


def test_tradeoff_of_a_perfect_detector_is_quiet_on_normal_and_covers_anomalies():
    ds = _dataset()
    trained_on = []

    def train(half):
        trained_on.append(set(half.paths))
        return supervised.train_classical_detector(
            half.waveforms,
            half.labels,
            half.class_names,
            SR,
            0,
            2000,
            recipes=(classical.Recipe("shape", "lr"),),
            train_hop=1000,
            settings=FeatureSettings(sample_rate=SR, band_hz=None),
        )

    out = stream_eval.stream_tradeoff(
        ds, train, 0, minutes=0.05, thresholds=(0.5,), on_windows=(1, 3)
    )
    assert trained_on[0].isdisjoint(trained_on[1])  # each half streams the other's sounds
    assert [r["on_windows"] for r in out["rows"]] == [1, 3]
    for r in out["rows"]:
        assert r["false_alerts_per_hour"] == 0.0
        assert r["anomaly_share_under_alert"] > 0.9
        assert r["normal_hours"] == pytest.approx(2 * 3.0 / 3600, rel=0.2)
    assert "| 1 | 0.5 | 3 | 0.0 |" in stream_eval.to_markdown(out)
