"""Tests for drill_jax.detection.detector (format, save/load), scoring and experiments.detect:
save/load, input checks, bad files, stdin."""

import csv
import dataclasses
import io
import json
import os
import sys
from types import SimpleNamespace

import jax
import numpy as np
import pytest

from drill_jax import data, features
from drill_jax.classify import cnn
from drill_jax.detection import build, deploy, scoring
from drill_jax.detection import detector as detector_lib

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = cnn.ClassifierConfig(epochs=3, batch_size=8, conv_features=(4,), hidden=8)


@pytest.fixture(scope="module")
def bundled():
    ds = data.load_dataset()
    idx = np.concatenate([np.flatnonzero(ds.labels == c)[:6] for c in (0, 1)])
    return ds.subset(idx)


@pytest.fixture(scope="module")
def saved(bundled, tmp_path_factory):
    """A tiny supervised detector, saved; (detector, directory)."""
    settings = features.FeatureSettings(sample_rate=bundled.sample_rate)
    train = build.TrainConfig(clip_samples=2000)
    half = bundled.subset(np.arange(0, len(bundled), 2))
    det = build.train(half, "jax_cnn", TINY, settings, train)
    path = str(tmp_path_factory.mktemp("models") / "sup")
    detector_lib.save_detector(path, det)
    return det, path


def test_unknown_format_version_is_a_one_line_error(saved, tmp_path):
    _, path = saved
    bad = tmp_path / "v9"
    bad.mkdir()
    with open(os.path.join(path, detector_lib.META_FILE)) as f:
        meta = json.load(f)
    with open(bad / detector_lib.META_FILE, "w") as f:
        json.dump(dict(meta, format_version=9), f)
    (bad / detector_lib.PARAMS_FILE).write_bytes(b"")
    with pytest.raises(ValueError, match=r"detector format version 9; this drill_jax reads v") as e:
        detector_lib.load_detector(str(bad))
    assert "\n" not in str(e.value)


def test_detector_features_come_from_the_one_extract_path(saved, bundled):
    det, _ = saved
    clips = data.crop_sounds(bundled.waveforms[:3], det.settings.clip_samples)
    x = features.extract(det.settings, clips)
    assert x.shape == (3, det.settings.n_frames, det.settings.n_mels) == (3, 1, 32)
    state = scoring._classifier_state(det)
    proba = cnn.predict_proba(state, x)[:, 1]  # the binary classifier: 1 = anomaly
    np.testing.assert_allclose(scoring.score_clips(det, clips), proba, rtol=1e-6)


def test_round_trip_same_scores_and_settings(saved, bundled):
    det, path = saved
    loaded = detector_lib.load_detector(path, sample_rate=96000)
    clips = data.crop_sounds(bundled.waveforms, 2000)
    np.testing.assert_array_equal(
        scoring.score_clips(loaded, clips), scoring.score_clips(det, clips)
    )
    assert loaded.settings == det.settings
    assert loaded.model_config == det.model_config
    assert (loaded.kind, loaded.class_names, loaded.threshold) == (
        "supervised",
        ("anomaly", "normal"),
        0.5,
    )
    meta = json.load(open(os.path.join(path, detector_lib.META_FILE)))
    assert meta["features"]["band_hz"] == [1000.0, 22000.0]
    assert meta["features"]["n_mels"] == 32 and meta["features"]["n_frames"] == 1
    assert meta["versions"]["jax"] == jax.__version__
    assert meta["model"] == "jax_cnn" and meta["file_threshold"] == 0.5
    scores = scoring.score_clips(loaded, clips)
    assert np.all((scores >= 0) & (scores <= 1))


def test_rate_and_shape_checks(saved):
    det, path = saved
    with pytest.raises(ValueError, match="48000 Hz but the detector was trained at 96000 Hz"):
        detector_lib.load_detector(path, sample_rate=48000)
    with pytest.raises(ValueError, match="resample"):
        scoring.score_clips(det, np.zeros((2, 2000)), sample_rate=44100)
    with pytest.raises(ValueError, match="2000"):
        scoring.score_clips(det, np.zeros((2, 4000)))
    with pytest.raises(ValueError, match="shorter than the detector's clip"):
        detector_lib.fit_clip(det, np.zeros(1500))


def test_save_is_atomic_replace_and_refuses_foreign_dirs(saved, tmp_path):
    det, _ = saved
    path = tmp_path / "model"
    detector_lib.save_detector(str(path), det)
    detector_lib.save_detector(str(path), det)  # replacing an existing detector works
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no temp dirs left behind
    assert sorted(os.listdir(path)) == [detector_lib.META_FILE, detector_lib.PARAMS_FILE]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a detector directory"):
        detector_lib.save_detector(str(other), det)
    assert (other / "keep.txt").read_text() == "mine"


def test_load_rejects_corrupt_or_mismatched(saved, tmp_path):
    det, path = saved
    broken = tmp_path / "broken"
    detector_lib.save_detector(str(broken), det)
    meta = json.loads((broken / detector_lib.META_FILE).read_text())
    meta["model_config"]["hidden"] = 16  # params no longer fit the config
    (broken / detector_lib.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="do not match"):
        detector_lib.load_detector(str(broken))
    (broken / detector_lib.META_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        detector_lib.load_detector(str(broken))
    with pytest.raises(FileNotFoundError):
        detector_lib.load_detector(str(tmp_path / "nothing"))


@pytest.fixture()
def detect_cli(monkeypatch):
    """Runs experiments.detect's main in this process: detect(args, stdin=bytes) -> None."""
    from absl import flags

    monkeypatch.syspath_prepend(REPO)  # experiments/ is a top-level package of the repo
    from experiments import detect

    def run(args, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(stdin)))
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["detect", *args])
        return detect.main(["detect"])

    yield run
    flags.FLAGS.unparse_flags()


def test_detect_folder_skips_bad_file_and_stops_without_skip(
    saved, bundled, tmp_path, detect_cli, capsys
):
    _, model = saved
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        data.write_wav(str(folder / f"s{i}.wav"), bundled.waveforms[i], 96000)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    data.write_wav(str(folder / "short.wav"), bundled.waveforms[0][:1000], 96000)
    out = tmp_path / "scores.csv"
    detect_cli([f"--detector_dir={model}", f"--input={folder}", f"--out={out}"])
    err = capsys.readouterr().err.splitlines()
    lines = [ln for ln in err if ln.startswith("skipped ")]
    assert len(lines) == 2
    assert any("broken.wav: " in ln for ln in lines)
    assert any("short.wav: " in ln and "shorter than" in ln for ln in lines)
    rows = out.read_text().splitlines()
    assert rows[0].startswith("file,score,predicted_class,file_threshold,aggregate,n_samples")
    assert len(rows) == 4 and all(r.split(",")[2] in ("anomaly", "normal") for r in rows[1:])
    # stop at the first bad file: a one-line AudioError (run_main prints "error: ..."), no CSV
    out2 = tmp_path / "none.csv"
    with pytest.raises(data.AudioError) as info:
        detect_cli(
            [f"--detector_dir={model}", f"--input={folder}", f"--out={out2}", "--noskip_bad"]
        )
    assert "broken.wav: " in str(info.value) and "\n" not in str(info.value)
    assert not out2.exists()


def test_detect_scores_every_window_of_a_long_file(saved, bundled, tmp_path, detect_cli):
    det, model = saved
    x = np.concatenate([bundled.waveforms[i] for i in (0, 1, 2)])
    path = tmp_path / "long.wav"
    data.write_wav(str(path), x, 96000)
    out, per_window = tmp_path / "scores.csv", tmp_path / "windows.csv"
    detect_cli(
        [
            f"--detector_dir={model}",
            f"--input={path}",
            f"--out={out}",
            f"--windows_csv={per_window}",
        ]
    )
    x_read, _ = data.read_wav(str(path))
    windows, starts = data.window_signal(
        x_read, det.settings.clip_samples, det.settings.clip_samples
    )
    want = scoring.score_clips(det, windows)
    row = list(csv.DictReader(out.open()))[0]
    assert list(row) == list(deploy.FILE_FIELDS)
    assert int(row["n_windows"]) == len(windows) == x.size // det.settings.clip_samples
    # the file score is the mean window score (the detector's aggregate), by the FILE threshold
    assert det.aggregate == "mean"
    assert float(row["score"]) == pytest.approx(want.mean(), rel=1e-5)
    assert float(row["max_window_score"]) == pytest.approx(want.max(), rel=1e-5)
    cls = det.anomaly_class if want.mean() >= det.file_threshold else det.normal_class
    assert row["predicted_class"] == cls
    assert int(row["flagged_windows"]) == int(np.sum(want >= det.threshold))
    win = list(csv.DictReader(per_window.open()))
    assert [int(w["start_sample"]) for w in win] == starts.tolist()
    np.testing.assert_allclose([float(w["score"]) for w in win], want, rtol=1e-5)


def test_detect_stream_stdin_pcm(saved, bundled, detect_cli, capsys):
    _, model = saved
    x = np.concatenate([bundled.waveforms[i] for i in range(4)])
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    # threshold 0 makes every window an anomaly: one alert spanning the whole stream
    args = [
        f"--detector_dir={model}",
        "--input=-",
        "--stream",
        "--stream_rate=96000",
        "--hop_seconds=0.01",
    ]
    detect_cli(args + ["--threshold=0"], stdin=pcm)
    out = capsys.readouterr()
    alerts = [json.loads(ln) for ln in out.out.splitlines()]
    n_windows = (x.size - 2000) // 960 + 1
    assert len(alerts) == 1 and alerts[0]["start"] == 0.0 and alerts[0]["type"] == "alert"
    assert alerts[0]["end"] == pytest.approx(((n_windows - 1) * 960 + 2000) / 96000)
    assert f"{n_windows} windows" in out.err and "real-time factor" in out.err
    with pytest.raises(ValueError, match="48000 Hz but the detector was trained at 96000 Hz"):
        detect_cli(args[:3] + ["--stream_rate=48000"], stdin=pcm)


def test_detect_stream_uses_the_detectors_recorded_alert_setting(
    saved, bundled, tmp_path, detect_cli, capsys
):
    det, _ = saved
    patient = dataclasses.replace(det, info=dict(det.info, alarm={"on_windows": 10_000}))
    model = str(tmp_path / "patient")
    detector_lib.save_detector(model, patient)
    x = np.concatenate([bundled.waveforms[i] for i in range(4)])
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    args = [
        f"--detector_dir={model}",
        "--input=-",
        "--stream",
        "--stream_rate=96000",
        "--threshold=0",
    ]
    detect_cli(args, stdin=pcm)  # every window >= 0, but 10 000 in a row are needed
    assert capsys.readouterr().out.strip() == ""
    detect_cli(args + ["--on_windows=1"], stdin=pcm)  # the flag overrides the stored setting
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_detect_stream_alerts_at_the_window_threshold_unless_given(
    saved, bundled, tmp_path, detect_cli, capsys
):
    det, _ = saved
    strict = dataclasses.replace(det, threshold=2.0, info=dict(det.info, alarm={"on_windows": 1}))
    model = str(tmp_path / "strict")
    detector_lib.save_detector(model, strict)
    x = np.concatenate([bundled.waveforms[i] for i in range(4)])
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    args = [f"--detector_dir={model}", "--input=-", "--stream", "--stream_rate=96000"]
    detect_cli(args, stdin=pcm)  # P(anomaly) never reaches 2.0
    assert capsys.readouterr().out.strip() == ""
    detect_cli(args + ["--threshold=0"], stdin=pcm)
    (alert,) = [json.loads(ln) for ln in capsys.readouterr().out.strip().splitlines()]
    assert alert["threshold"] == 0.0
