"""Error audit: out-of-fold gathering, the hard-sound list, its files."""

import json
import os

import numpy as np
import pytest

from drill_jax import data as data_lib
from drill_jax.evaluation import audit, audit_figure

SR = 16000


def _dataset():
    rng = np.random.default_rng(0)
    t = np.arange(2000) / SR
    waves, labels = [], []
    for i in range(8):
        y = i % 2  # class 0 'anomaly': a 3 kHz tone in noise; class 1 'normal': noise
        waves.append((0.5 * np.sin(2 * np.pi * 3000 * t) * (1 - y) + 0.1 * rng.normal(size=2000)))
        labels.append(y)
    return data_lib.Dataset(
        waveforms=tuple(np.asarray(w, np.float32) for w in waves),
        sample_rate=SR,
        labels=np.array(labels),
        class_names=("anomaly", "normal"),
        paths=tuple(f"/d/{'fault' if y == 0 else 'normal'}_{i}.wav" for i, y in enumerate(labels)),
        groups=np.arange(8),
        starts=np.zeros(8, np.int64),
    )


def _result(wrong_origin: int, repeats: int = 3):
    """Folds where every sound is right except ``wrong_origin``, wrong in all repeats."""
    folds = []
    labels = np.arange(8) % 2
    for _ in range(repeats):
        for half in (np.arange(0, 4), np.arange(4, 8)):
            p = np.where(labels[half] == 0, 0.9, 0.1)  # P(anomaly), right
            p = np.where(half == wrong_origin, 1.0 - p, p)
            folds.append(
                {
                    "test_origin": half.tolist(),
                    "test_label": labels[half].tolist(),
                    "test_p_positive": p.tolist(),
                }
            )
    return {"label": "honest", "config": {"crop": None}, "folds": folds}


def test_out_of_fold_gathers_every_repeat_per_sound():
    oof = audit.out_of_fold(_result(3)["folds"])
    assert sorted(oof) == list(range(8))
    assert oof[3] == {"label": 1, "p": [0.9, 0.9, 0.9]}


def test_audit_names_the_sound_wrong_in_every_repeat_and_its_neighbours():
    ds = _dataset()
    report = audit.audit(_result(3), ds)
    assert report["n_sounds"] == 8 and report["n_hard"] == 1
    row = report["hard"][0]
    assert row["file"] == "normal_3.wav" and row["class"] == "normal"
    assert (row["wrong"], row["scored"]) == (3, 3)
    assert row["mean_p_anomaly"] == pytest.approx(0.9)
    # Its nearest normal is another noise clip, never itself.
    assert (
        row["nearest normal"].startswith("normal_") and "normal_3.wav" not in row["nearest normal"]
    )
    assert row["nearest anomaly"].startswith("fault_")
    level = [r for r in report["common"] if r["property"] == "level_db"][0]
    assert level["class"] == "normal" and level["n_hard"] == 1


def test_write_audit_writes_json_markdown_and_figure(tmp_path):
    ds = _dataset()
    report = audit_figure.write_audit(_result(6), ds, str(tmp_path))
    assert json.loads((tmp_path / "audit.json").read_text())["n_hard"] == report["n_hard"] == 1
    assert "fault_6.wav" in (tmp_path / "audit.md").read_text()
    assert os.path.getsize(tmp_path / "audit.png") > 1000


def test_audit_refuses_folds_without_predictions():
    with pytest.raises(ValueError, match="out-of-fold"):
        audit.out_of_fold([{"accuracy": 1.0}])
