"""experiments.dcase end to end on a tiny DCASE tree (two machine types, two sections, both
domains, a bad file), official files and tables, held-out thresholds."""

import csv
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from drill_jax import training
from drill_jax.asd import outlier
from drill_jax.data import dcase
from drill_jax.detection import dcase_job
from drill_jax.data import dcase_synth as synth

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--ae_epochs=2", "--oe_epochs=3", "--oe_window_frames=8", "--oe_spectrum_fft=512",
        "--oe_width=16", "--noprogress"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("dcase"))
    synth.make_tree(root, ("fan", "valve"), ("00", "01"), counts=(8, 2, 3), seconds=0.5)
    bad = os.path.join(root, "valve", "test", "section_00_source_test_normal_0099_speed_1.wav")
    open(bad, "wb").write(b"RIFF garbage")
    return root


def _run(*args):
    env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "experiments.dcase", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_experiment_end_to_end(tree, tmp_path, run_script, caplog):
    out = str(tmp_path / "out")
    code, _, err = run_script("dcase", f"--data_dir={tree}", f"--out_dir={out}", *TINY)
    assert code == 0, err[-2000:]
    assert "section_00_source_test_normal_0099_speed_1.wav" in caplog.text  # skipped, named
    for det in ("dcase_ae_mse", "dcase_ae_mahalanobis", "oe"):
        for mt in ("fan", "valve"):
            for sec in ("00", "01"):
                s_name, d_name = (os.path.join(out, det, n)
                                  for n in ("anomaly_score_%s_section_%s_test.csv" % (mt, sec),
                                            "decision_result_%s_section_%s_test.csv" % (mt, sec)))
                scores = list(csv.reader(open(s_name)))
                decisions = list(csv.reader(open(d_name)))
                n = 12  # 3 per domain and label; the bad file is left out
                assert len(scores) == len(decisions) == n
                assert all(d[1] in ("0", "1") for d in decisions)
                assert [s[0] for s in scores] == [d[0] for d in decisions]
                assert "section_00_source_test_normal_0099_speed_1.wav" not in dict(scores)
                assert all(np.isfinite(float(s[1])) for s in scores)
    rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
    assert [r["detector"] for r in rows if r["machine_type"] == "all"] == [
        "dcase_ae_mse", "dcase_ae_mahalanobis", "oe"]
    assert all(0.0 <= float(r["hmean"]) <= 1.0 for r in rows)
    assert "| oe | all | hmean |" in open(os.path.join(out, "results.md")).read()
    assert not [n for _, _, fs in os.walk(out) for n in fs if n.startswith(".tmp")]


def test_bad_folder_is_a_one_line_error(tmp_path):
    proc = _run(f"--data_dir={tmp_path / 'missing'}", f"--out_dir={tmp_path / 'o'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: DCASE data folder does not exist"]


def test_holdout_whole_source_recordings_per_section():
    infos = [dcase.FileInfo(f"f{i}", "fan", "train", f"0{i % 2}",
                            "target" if i >= 18 else "source", 0) for i in range(22)]
    a = dcase_job.holdout(infos, 0.1, jax.random.key(0))
    b = dcase_job.holdout(infos, 0.1, jax.random.key(0))
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 6 and all(infos[i].domain == "source" for i in np.flatnonzero(a))
    assert {infos[i].section for i in np.flatnonzero(a)} == {"00", "01"}


def test_thresholds_flag_about_a_tenth_of_new_normal_files(tmp_path):
    """Held-out (source-domain) normal recordings set the threshold; the target domain is
    calibrated on its training recordings: fresh normal test files of either domain are
    flagged at about the 10 % the gamma quantile promises, not all of them."""
    root = synth.make_tree(str(tmp_path), ("fan",), ("00",), counts=(40, 6, 20), seconds=0.5,
                           seed=3)
    config = dcase_job.JobConfig(
        detectors=("oe",), holdout_fraction=0.5,
        oe=outlier.OEConfig(outlier.InputConfig(window_frames=8, eval_hop_frames=8,
                                                spectrum_fft=512),
                            train=training.Schedule(epochs=40, batch_size=64), width=16,
                            embedding_dim=16),
    )
    dcase_job.run(config, root, str(tmp_path / "out"), progress=False)
    _, test, _ = dcase_job.load_machine(root, "fan", None)
    decided = dict(csv.reader(open(tmp_path / "out" / "oe" /
                                   "decision_result_fan_section_00_test.csv")))
    for domain in ("source", "target"):
        normal = [decided[i.name] == "1" for i in test.infos
                  if i.label == 0 and i.domain == domain]
        assert len(normal) == 20 and np.mean(normal) <= 0.3, domain


def test_name_keys_differ_for_anagrams_and_repeat():
    root = jax.random.key(0)
    keys = [jax.random.key_data(dcase_job.name_key(root, n)) for n in ("fan", "afn", "fan")]
    assert not np.array_equal(keys[0], keys[1])
    np.testing.assert_array_equal(keys[0], keys[2])
