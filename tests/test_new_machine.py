"""A new user's machine: 16 kHz stereo 10-second recordings of two classes go through
experiments.features, experiments.classify (honest protocol) and experiments.train_detector
with flags only (no code change), as docs/deploy.md describes. The scripts run
in this process (``run_script``: the same flags, exit codes and output as ``python -m``)."""

import json
import os

import numpy as np
import pytest
import soundfile

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

RATE = 16000
DATA_FLAGS = ["--sample_rate=16000", "--channel=0", "--clip_seconds=1"]
BAND = "--band_hz=100,7000"


def _recording(rng, broken: bool) -> np.ndarray:
    """10 s stereo [T, 2]: hum + noise; a broken machine adds 5 kHz bursts on channel 0."""
    t = np.arange(10 * RATE) / RATE
    x = 0.2 * np.sin(2 * np.pi * 120.0 * t) + 0.05 * rng.standard_normal(t.size)
    if broken:
        x += 0.3 * np.sin(2 * np.pi * 5000.0 * t) * (np.sin(2 * np.pi * 3.0 * t) > 0)
    right = 0.5 * rng.standard_normal(t.size)  # channel 1: unrelated noise
    return np.clip(np.stack([x, right], axis=1), -1, 1).astype(np.float32)


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    root = tmp_path_factory.mktemp("machine")
    rng = np.random.default_rng(0)
    for cls in ("broken", "ok"):
        os.makedirs(root / cls)
        for i in range(3):
            soundfile.write(str(root / cls / f"rec{i}.wav"), _recording(rng, cls == "broken"), RATE)
    return root


def test_default_band_is_a_one_line_error_naming_the_flag(machine, tmp_path, run_script):
    code, _, err = run_script(
        "features", f"--data_dir={machine}", *DATA_FLAGS, f"--out_dir={tmp_path}"
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "error: --band_hz: edge 22000 Hz is at or above the Nyquist limit 8000 Hz "
        "(sample rate 16000 Hz)"
    )


def test_features_classify_and_train_detector_on_16k_stereo(machine, tmp_path, run_script):
    code, _, err = run_script(
        "features", f"--data_dir={machine}", *DATA_FLAGS, BAND, f"--out_dir={tmp_path / 'f'}"
    )
    assert code == 0, err[-2000:]
    with open(tmp_path / "f" / "summary.json") as f:
        summary = json.load(f)
    assert summary["n_sounds"] == 60  # 3 files x 10 one-second clips per class
    assert summary["settings"]["band_hz"] == [100.0, 7000.0]
    frames = (RATE - 1999) // 1487 + 1
    arr = np.load(tmp_path / "f" / "broken" / "rec0_s0.npy")
    assert arr.shape == (frames, 32) and np.all(np.isfinite(arr))

    code, _, err = run_script(
        "classify",
        f"--data_dir={machine}",
        *DATA_FLAGS,
        BAND,
        "--protocol=honest",
        "--n_splits=3",
        "--n_repeats=1",
        "--detector_epochs=10",
        f"--out_dir={tmp_path / 'c'}",
    )
    assert code == 0, err[-2000:]
    with open(tmp_path / "c" / "result.json") as f:
        result = json.load(f)
    assert result["features"]["sample_rate"] == RATE
    assert result["features"]["band_hz"] == [100.0, 7000.0]
    assert len(result["folds"]) == 3 and all(f["leak_check"] == "passed" for f in result["folds"])
    # Recordings are grouped: no file has clips on both sides of a fold, yet the 5 kHz
    # bursts make the classes easy.
    assert result["summary"]["metrics"]["balanced_accuracy"]["mean"] >= 0.9

    model = tmp_path / "det"
    code, _, err = run_script(
        "train_detector",
        f"--data_dir={machine}",
        *DATA_FLAGS,
        BAND,
        "--anomaly_class=broken",
        "--model=jax_cnn",
        "--jax_cnn_epochs=10",
        f"--model_dir={model}",
        f"--out_dir={tmp_path / 't'}",
    )
    assert code == 0, err[-2000:]
    with open(model / "detector.json") as f:
        meta = json.load(f)
    assert meta["sample_rate"] == RATE and meta["clip_samples"] == RATE
    assert meta["features"]["band_hz"] == [100.0, 7000.0]
    assert meta["anomaly_class"] == "broken" and meta["model_config"]["epochs"] == 10
