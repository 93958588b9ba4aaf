"""Tests for drill_jax.detection.streaming and .alarms: windows, readers, alarm logic."""

import io

import numpy as np
import pytest
import scipy.signal

from drill_jax import data
from drill_jax.detection import alarms, streaming


def _chunks(x, sizes):
    """Splits x into consecutive chunks of the given sizes (cycled)."""
    out, i, k = [], 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        out.append(x[i : i + n])
        i, k = i + n, k + 1
    return out


@pytest.mark.parametrize("last", ["drop", "pad"])
@pytest.mark.parametrize("window,hop", [(7, 3), (5, 5), (4, 6)])
def test_stream_windows_equal_offline(window, hop, last):
    x = np.random.default_rng(0).normal(size=53).astype(np.float32)
    want_w, want_s = data.window_signal(x, window, hop, last)
    got = list(streaming.stream_windows(_chunks(x, [1, 0, 6, 11, 2]), window, hop, last))
    assert [g.start for g in got] == want_s.tolist()
    np.testing.assert_array_equal(np.stack([g.samples for g in got]), want_w)
    assert [g.padded for g in got] == [last == "pad" and s + window > 53 for s in want_s]


def test_pcm16_stdin_parsing():
    samples = np.array([0, 1, -1, 32767, -32768, 1000], np.int16)
    raw = samples.astype("<i2").tobytes()
    # read 4 samples at a time from a stream that hands out odd-sized pieces
    chunks = list(streaming.read_pcm16_chunks(io.BytesIO(raw), chunk_samples=4))
    got = np.concatenate(chunks)
    np.testing.assert_array_equal(got, samples.astype(np.float32) / 32768.0)
    assert [len(c) for c in chunks] == [4, 2]
    # stereo: keep the right channel
    stereo = np.stack([samples, -samples - 1], axis=1).astype("<i2").tobytes()
    got = np.concatenate(list(streaming.read_pcm16_chunks(io.BytesIO(stereo), 3, 2, 1)))
    np.testing.assert_array_equal(got, (-samples - 1).astype(np.float32) / 32768.0)


class _Trickle(io.RawIOBase):
    """A stream returning at most 3 bytes per read (as a pipe may)."""

    def __init__(self, raw):
        self._b = io.BytesIO(raw)

    def read(self, n=-1):
        return self._b.read(min(n, 3) if n and n > 0 else 3)


def test_pcm16_partial_reads_and_truncation():
    samples = np.arange(-5, 6, dtype=np.int16) * 1000
    raw = samples.astype("<i2").tobytes()
    got = np.concatenate(list(streaming.read_pcm16_chunks(_Trickle(raw), chunk_samples=4)))
    np.testing.assert_array_equal(got, samples / 32768.0)
    with pytest.raises(data.AudioError, match="stray byte"):
        list(streaming.read_pcm16_chunks(io.BytesIO(raw + b"\x01"), 4))
    with pytest.raises(data.AudioError, match="no samples"):
        list(streaming.read_pcm16_chunks(io.BytesIO(b""), 4))


def test_wav_stream_chunks_equal_file(tmp_path):
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 5003).astype(np.float32)
    path = str(tmp_path / "long.wav")
    data.write_wav(path, x, 96000)
    rate, chunks = streaming.open_wav_stream(path, chunk_samples=1000)
    got = np.concatenate(list(chunks))
    want, _ = data.read_wav(path)
    assert rate == 96000
    np.testing.assert_array_equal(got, want)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(data.AudioError, match="bad.wav"):
        streaming.open_wav_stream(str(bad), 1000)


@pytest.mark.parametrize("orig,target", [(48000, 96000), (44100, 96000), (192000, 96000)])
def test_resample_chunks_matches_whole_signal(orig, target):
    t = np.arange(orig // 2) / orig
    x = (0.3 * np.sin(2 * np.pi * 3000 * t) + 0.1 * np.sin(2 * np.pi * 15000 * t)).astype(
        np.float32
    )
    whole = scipy.signal.resample_poly(x.astype(np.float64), *_ratio(orig, target))
    got = np.concatenate(list(streaming.resample_chunks(_chunks(x, [777, 3000]), orig, target)))
    assert got.shape == whole.shape
    edge = 200  # whole-signal resampling zero-pads at both ends; compare the interior
    np.testing.assert_allclose(got[edge:-edge], whole[edge:-edge], atol=2e-5)


def _ratio(orig, target):
    g = np.gcd(orig, target)
    return target // g, orig // g


# ---------------------------------------------------------------- alarm logic


def _events(scores, **kw):
    cfg = alarms.AlarmConfig(threshold=0.5, **{"smooth_windows": 1, **kw})
    # window = hop = 10 samples at 10 Hz: window i spans [i, i + 1) s
    return alarms.alarm_events(np.array(scores), np.arange(len(scores)) * 10, 10, 10, cfg)


def test_hysteresis_hand_made_sequence():
    s = [0.1, 0.9, 0.2, 0.1, 0.6, 0.7, 0.8, 0.3, 0.9, 0.2, 0.1, 0.1, 0.95, 0.99]
    #    0    1    2    3    4    5    6    7    8    9    10   11   12    13
    events = _events(s, on_windows=2, off_windows=2)
    # window 1 alone is a glitch; 4..8 is one alarm (the dip at 7 is a single window);
    # it ends after 9, 10 are quiet; 12..13 is open at the end of the stream.
    assert [(e["start"], e["end"], e["peak_score"], e["closed_by"]) for e in events] == [
        (4.0, 9.0, 0.9, "quiet"),
        (12.0, 14.0, 0.99, "end_of_stream"),
    ]
    assert [e["n_windows"] for e in events] == [5, 2]


def test_hysteresis_single_window_settings_and_off_threshold():
    s = [0.1, 0.9, 0.2, 0.1, 0.6, 0.7, 0.8, 0.3, 0.9, 0.2]
    events = _events(s, on_windows=1, off_windows=1)
    assert [(e["start"], e["end"]) for e in events] == [(1, 2), (4, 7), (8, 9)]
    # a lower off threshold keeps the alarm through the 0.3 window
    events = _events(s, on_windows=2, off_windows=1, off_threshold=0.25)
    assert [(e["start"], e["end"]) for e in events] == [(4, 9)]
    assert _events([0.1, 0.2, 0.4], on_windows=1) == []


def test_alarm_step_is_pure_and_validates():
    cfg = alarms.AlarmConfig(threshold=0.5, on_windows=1)
    state = alarms.AlarmState()
    new, _ = alarms.alarm_step(state, 0.9, 0.0, 1.0, cfg)
    assert new.active and not state.active
    with pytest.raises(ValueError, match="non-finite"):
        alarms.alarm_step(state, float("nan"), 0.0, 1.0, cfg)
    with pytest.raises(ValueError, match="off_threshold"):
        alarms.AlarmConfig(threshold=0.5, off_threshold=0.6)


def test_latency_summary():
    out = streaming.latency_summary(np.array([0.001, 0.002, 0.003]), 2.0, 0.5)
    assert out["latency_ms_p50"] == pytest.approx(2.0)
    assert out["real_time_factor"] == pytest.approx(0.25)


def test_smoothing_reads_the_mean_of_the_last_scores():
    isolated = [0.9, 0.0, 0.0, 0.9, 0.0, 0.0, 0.9, 0.0, 0.0]
    assert len(_events(isolated, on_windows=1, off_windows=1)) == 3
    # means of the last 3: 0.9, 0.45, 0.3, 0.3, ... never >= 0.5 after the first window
    assert len(_events(isolated, on_windows=2, off_windows=1, smooth_windows=3)) == 0
    dense = [0.9, 0.9, 0.0, 0.9, 0.9, 0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0]
    # raw: every dip ends the alarm (three alerts); the 3-window mean stays at 0.6 until the
    # stream goes quiet, so one alert spans the bursts: windows 0 .. 8 (mean >= 0.5)
    assert len(_events(dense, on_windows=1, off_windows=1)) == 3
    (one,) = _events(dense, on_windows=1, off_windows=1, smooth_windows=3)
    assert (one["first_window"], one["last_window"]) == (0, 8)
    assert one["peak_score"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="smooth_windows"):
        alarms.AlarmConfig(threshold=0.5, smooth_windows=0)
