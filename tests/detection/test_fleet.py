"""The fleet command: one detector per machine folder, bad folders reported and skipped."""

import json
import os
import shutil

from drill_jax import data
from drill_jax.detection import detector as detector_lib

def _machine(root, name, per_class, start):
    """root/name/<class>/ with ``per_class`` bundled WAVs of each class (from ``start``)."""
    for cls in ("anomaly", "normal"):
        src = os.path.join(data.BUNDLED_DATA_DIR, cls)
        wavs = sorted(os.listdir(src), key=data.natural_key)[start : start + per_class]
        os.makedirs(os.path.join(root, name, cls))
        for w in wavs:
            shutil.copy(os.path.join(src, w), os.path.join(root, name, cls, w))


def test_fleet_trains_one_detector_per_machine_and_reports_bad_folders(tmp_path, run_script):
    fleet_dir, out = str(tmp_path / "fleet"), str(tmp_path / "out")
    _machine(fleet_dir, "press_a", 6, 0)
    _machine(fleet_dir, "press_b", 5, 10)
    os.makedirs(os.path.join(fleet_dir, "press_broken", "normal"))  # not a WAV file
    with open(os.path.join(fleet_dir, "press_broken", "normal", "x.wav"), "wb") as f:
        f.write(b"not audio")
    os.makedirs(os.path.join(fleet_dir, "press_normal_only", "normal"))  # no fault class
    shutil.copy(
        os.path.join(data.BUNDLED_DATA_DIR, "normal", "normal_1.wav"),
        os.path.join(fleet_dir, "press_normal_only", "normal"),
    )
    code, _, err = run_script(
        "train_detector", f"--fleet_dir={fleet_dir}", f"--out_dir={out}", "--kind=supervised",
        f"--task_cache={tmp_path / 'cache'}",
    )  # fmt: skip
    assert code == 1, err[-3000:]  # two machines got no detector
    assert "2 machine(s) without a detector: press_broken, press_normal_only" in err
    rows = {
        r["machine"]: r
        for r in json.loads(open(os.path.join(out, "fleet.json")).read())["machines"]
    }
    assert sorted(rows) == ["press_a", "press_b", "press_broken", "press_normal_only"]
    assert rows["press_a"]["status"] == rows["press_b"]["status"] == "ok"
    assert rows["press_a"]["sounds"] == "anomaly 6, normal 6"
    assert rows["press_b"]["sounds"] == "anomaly 5, normal 5"
    assert (
        rows["press_broken"]["status"].startswith("skipped: ")
        and "x.wav" in rows["press_broken"]["status"]
    )
    assert rows["press_normal_only"]["status"].startswith("failed: ValueError: no class folder")
    for name in ("press_a", "press_b"):
        det = detector_lib.load_detector(os.path.join(out, name, "clip_classical"))
        assert det.kind == "supervised" and det.class_names == ("anomaly", "normal")
        assert det.info["alarm"] == {"on_windows": 3, "off_windows": 2, "smooth_windows": 40}
        assert det.threshold == float(rows[name]["threshold"]) == 0.5
        assert float(rows[name]["train_seconds"]) > 0
    assert not os.path.exists(os.path.join(out, "press_broken"))
    md = open(os.path.join(out, "fleet.md")).read()
    assert sum(ln.startswith("| press_") for ln in md.splitlines()) == 4
    assert "| machine | sounds | kind |" in md
    # The two trained machines are cached (the failing one is not).
    assert len(os.listdir(tmp_path / "cache")) == 2
