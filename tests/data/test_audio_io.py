"""Tests for drill_jax.data.audio_io: WAV reading, validation messages, atomic writes."""

import os

import numpy as np
import pytest
import soundfile

from drill_jax import data, files


def _write(path, x, rate=96000, subtype="PCM_16"):
    soundfile.write(path, x, rate, subtype=subtype, format="WAV")
    return str(path)


def test_reads_pcm16_as_float_in_range(tmp_path):
    ints = np.array([0, 16384, -32768, 32767], np.int16)
    path = str(tmp_path / "a.wav")
    soundfile.write(path, ints, 96000, subtype="PCM_16")
    x, rate = data.read_wav(path, 96000)
    assert rate == 96000 and x.dtype == np.float32
    np.testing.assert_allclose(x, ints / 32768.0)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b"this is not audio at all" * 10), "unreadable"),
        (lambda p: None, "no such file"),
    ],
)
def test_unreadable_and_missing(tmp_path, make, reason):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(data.AudioError) as err:
        data.read_wav(str(p))
    msg = str(err.value)
    assert str(p) in msg and reason in msg and "\n" not in msg


def test_not_wav_format(tmp_path):
    p = str(tmp_path / "x.flac")
    soundfile.write(p, np.zeros(100), 96000, format="FLAC")
    with pytest.raises(data.AudioError, match="not a WAV"):
        data.read_wav(p)


def test_empty(tmp_path):
    p = _write(tmp_path / "e.wav", np.zeros(0))
    with pytest.raises(data.AudioError, match="empty"):
        data.read_wav(p)


def test_multichannel_needs_channel(tmp_path):
    stereo = np.stack([np.full(50, 0.25), np.full(50, -0.5)], axis=1)
    p = _write(tmp_path / "s.wav", stereo)
    with pytest.raises(data.AudioError, match="2 channels"):
        data.read_wav(p)
    x, _ = data.read_wav(p, channel=1)
    np.testing.assert_allclose(x, -0.5)
    with pytest.raises(data.AudioError, match="channel 2"):
        data.read_wav(p, channel=2)


def test_wrong_rate_error_or_resample(tmp_path):
    t = np.arange(4800) / 48000
    p = _write(tmp_path / "r.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), rate=48000)
    with pytest.raises(data.AudioError, match="48000 Hz, expected 96000"):
        data.read_wav(p, 96000)
    x, rate = data.read_wav(p, 96000, resample_to_rate=True)
    assert rate == 96000 and x.shape == (9600,)
    t2 = np.arange(9600) / 96000
    mid = slice(1000, 8600)  # away from the resampler's edge transients
    np.testing.assert_allclose(x[mid], 0.5 * np.sin(2 * np.pi * 1000 * t2[mid]), atol=2e-3)


def test_non_finite(tmp_path):
    p = _write(tmp_path / "n.wav", np.array([0.0, np.nan, 0.1], np.float32), subtype="FLOAT")
    with pytest.raises(data.AudioError, match="non-finite"):
        data.read_wav(p)


def test_write_wav_roundtrip_and_atomic(tmp_path):
    x = np.linspace(-1, 1, 1999).astype(np.float32)
    p = str(tmp_path / "sub" / "o.wav")
    data.write_wav(p, x, 96000)
    y, rate = data.read_wav(p, 96000)
    assert rate == 96000 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1 / 32768 + 1e-7)
    assert [n for n in os.listdir(tmp_path / "sub")] == ["o.wav"]  # no temp files left


def test_atomic_write_leaves_nothing_on_crash(tmp_path):
    p = str(tmp_path / "out.txt")

    def crash(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        files.atomic_write(p, crash)
    assert os.listdir(tmp_path) == []


def test_resample_rejects_bad_rates():
    with pytest.raises(ValueError):
        data.resample(np.zeros(10), 0, 96000)


def test_read_json_round_trips_and_names_the_file_on_bad_input(tmp_path):
    p = str(tmp_path / "r.json")
    files.atomic_write_json(p, {"a": [1, 2.5], "b": None})
    assert files.read_json(p) == {"a": [1, 2.5], "b": None}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON"):
        files.read_json(str(tmp_path / "bad.json"))
    with pytest.raises(FileNotFoundError, match=r"gone\.json: no such file"):
        files.read_json(str(tmp_path / "gone.json"))
