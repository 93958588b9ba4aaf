"""DCASE metrics against hand-computed values, official file names and CSV formats."""

import os

import numpy as np
import pytest

from drill_jax.evaluation import dcase as ev

# 4 normal source, 2 normal target, 2 anomalies (one per domain)
LABELS = np.array([0, 0, 0, 0, 0, 0, 1, 1])
DOMAINS = np.array(["source"] * 4 + ["target"] * 2 + ["source", "target"])
SCORES = np.array([0.1, 0.2, 0.3, 0.9, 0.5, 0.8, 0.6, 0.7])


def test_domain_aucs_hand_computed():
    # source: normals .1 .2 .3 .9 vs anomalies .6 .7 -> pairs won 3+3 of 8 = 0.75
    assert ev.domain_auc(LABELS, SCORES, DOMAINS, "source") == pytest.approx(6 / 8)
    # target: normals .5 .8 vs anomalies .6 .7 -> (1 + 1) / 4 = 0.5
    assert ev.domain_auc(LABELS, SCORES, DOMAINS, "target") == pytest.approx(0.5)
    assert np.isnan(ev.domain_auc(LABELS[:4].tolist() + [1], SCORES[:5], DOMAINS[:5], "target"))


def test_pauc_is_mcclish_standardised_hand_computed():
    # 6 normals, 2 anomalies. ROC (descending score): .9 N, .8 N, .7 A, .6 A, ...
    # FPR 0 .. 1/6 (> 0.1): TPR 0 on [0, 0.1] -> raw area 0; McClish: min area
    # 0.1^2/2 = 0.005, max 0.1 -> 0.5 * (1 + (0 - 0.005) / (0.1 - 0.005)) = 0.47368...
    assert ev.pauc(LABELS, SCORES) == pytest.approx(0.5 * (1 - 0.005 / 0.095))
    perfect = np.where(LABELS == 1, 2.0, SCORES)
    assert ev.pauc(LABELS, perfect) == pytest.approx(1.0)


def test_harmonic_mean_and_official_score():
    assert ev.harmonic_mean([0.5, 1.0]) == pytest.approx(2 / 3)
    assert ev.harmonic_mean([0.0, 1.0]) < 1e-10  # floored at epsilon, not an error
    results = [{"auc_source": 0.5, "auc_target": 1.0, "pauc": 0.5},
               {"auc_source": 1.0, "auc_target": 1.0, "pauc": 0.5}]
    assert ev.official_score(results) == pytest.approx(6 / (2 + 1 + 2 + 1 + 1 + 2))


def test_official_files_names_and_format(tmp_path):
    names = ["section_00_source_test_normal_0000.wav", "section_00_target_test_anomaly_0001.wav"]
    s_path, d_path = ev.write_official_files(str(tmp_path), "fan", "00", names, [0.25, 3.5], 1.0)
    assert os.path.basename(s_path) == "anomaly_score_fan_section_00_test.csv"
    assert os.path.basename(d_path) == "decision_result_fan_section_00_test.csv"
    assert open(s_path).read() == f"{names[0]},0.25\n{names[1]},3.5\n"
    assert open(d_path).read() == f"{names[0]},0\n{names[1]},1\n"
    assert ev.read_official_scores(s_path) == {names[0]: 0.25, names[1]: 3.5}
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


def test_summary_rows_per_machine_and_overall():
    res = [
        {"detector": "d", "machine_type": "fan", "section": "00",
         "auc_source": 0.5, "auc_target": 1.0, "pauc": 0.5},
        {"detector": "d", "machine_type": "valve", "section": "00",
         "auc_source": 1.0, "auc_target": 1.0, "pauc": 1.0},
    ]
    rows = ev.summary_rows(res)
    overall = [r for r in rows if r["machine_type"] == "all"][0]
    assert overall["hmean"] == pytest.approx(6 / (2 + 1 + 2 + 3))
    assert "| d | all | hmean |" in ev.results_markdown(rows)
    assert ev.results_csv(rows).splitlines()[0] == ",".join(ev.RESULT_COLUMNS)
