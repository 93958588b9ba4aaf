"""experiments.train_detector (label-free model, honest table, time to alert) and
experiments.demo_stream end to end on a tiny folder of 16 kHz sounds."""

import json
import os

import numpy as np
import pytest

from drill_jax import data
from drill_jax.detection import detector as detector_lib

SR = 16000
FLAGS = ["--sample_rate=16000", "--band_hz=100,7000"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """anomaly/ (2 kHz tone in noise) and normal/ (noise): 16 sounds each, 4000 samples."""
    root = tmp_path_factory.mktemp("sounds")
    rng = np.random.default_rng(0)
    t = np.arange(4000) / SR
    for cls, tone in (("anomaly", 0.4), ("normal", 0.0)):
        os.makedirs(root / cls)
        for i in range(16):
            x = tone * np.sin(2 * np.pi * 2000 * t) + 0.1 * rng.normal(size=t.size)
            data.write_wav(str(root / cls / f"{cls}_{i}.wav"), x.astype(np.float32), SR)
    return root


@pytest.fixture
def run(run_script):
    """run(module, *args) -> stdout of ``python -m experiments.<module>`` (in this process),
    which must succeed."""

    def go(module, *args):
        code, out, err = run_script(module, *args)
        assert code == 0, err[-3000:]
        return out

    return go


def test_train_detector_label_free_model_with_table_and_time_to_alert(folder, tmp_path, run):
    out = run(
        "train_detector", f"--data_dir={folder}", *FLAGS, "--kind=unsupervised", "--model=knn",
        "--knn_k=2", "--evaluate", "--models=zscore,knn", "--n_splits=2", "--n_repeats=1",
        "--time_to_alert", "--event_seconds=0.25,1", "--events_per_duration=1",
        "--gap_seconds=1", f"--out_dir={tmp_path}",
    )  # fmt: skip
    det = detector_lib.load_detector(str(tmp_path / "knn"), sample_rate=SR)
    assert det.kind == "unsupervised" and det.model_config.k == 2
    assert "held-out normal recordings" in det.file_threshold_rule
    assert set(det.metrics["honest_cv"]) >= {"roc_auc", "pauc"}
    table = json.load(open(tmp_path / "honest_eval.json"))
    assert set(table["summary"]) == {"zscore", "knn"} and len(table["folds"]) == 2
    tta = json.load(open(tmp_path / "time_to_alert.json"))
    assert {(r["setting"], r["event_seconds"]) for r in tta["rows"]} == {
        (s, d) for s in ("default", "short-event") for d in (0.25, 1.0)
    }
    assert "false alerts per hour" in out and "saved knn" in out


def test_demo_stream_streams_held_out_sounds_through_each_model(folder, tmp_path, run):
    out = run(
        "demo_stream", f"--data_dir={folder}", *FLAGS, "--models=zscore", "--timing_repeats=1",
        "--event_seconds=0.5", "--events_per_duration=2", "--gap_seconds=1",
        f"--out_dir={tmp_path}",
    )  # fmt: skip
    report = json.load(open(tmp_path / "demo_stream.json"))
    truth = json.load(open(tmp_path / "ground_truth.json"))
    assert len(truth["events"]) == 2 and os.path.isfile(tmp_path / "demo.wav")
    held = set(os.path.basename(p) for ev in truth["events"] for p in ev["files"])
    trained = (
        set(report["detectors"])
        and detector_lib.load_detector(str(tmp_path / "models" / "zscore")).info["demo_split"][
            "train_files"
        ]
    )
    assert not held & set(trained)  # the stream's anomalies were never trained on
    r = report["detectors"]["zscore"]
    assert r["n_events"] == 2 and r["timing"]["n_windows"] > 0
    assert "zscore" in out and "real-time factor" in out
