"""The dcase benchmark suite on a tiny synthetic tree: its timing record and target fields
(no timing asserted: the targets are measured by the benchmark, not in tests)."""

import dataclasses
import os

import numpy as np
import pytest

from drill_jax import training
from drill_jax.asd import autoencoder, outlier
from drill_jax.bench import suite_config, suite_dcase
from drill_jax.detection import dcase_job

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

TINY_SUITE = dataclasses.replace(
    suite_config.SuiteConfig(),
    dcase_counts=(4, 1, 1),
    dcase_seconds=1.0,
    dcase_clip_seconds=0.5,
)
TINY_JOB = dcase_job.JobConfig(
    detectors=("oe",),
    oe=outlier.OEConfig(
        outlier.InputConfig(window_frames=8, spectrum_fft=512),
        width=8,
        embedding_dim=8,
        train=training.Schedule(epochs=1),
    ),
)

TINY_TWIN = dcase_job.JobConfig(
    detectors=("dcase_ae",),
    ae=autoencoder.AEConfig(hidden=8, bottleneck=2, train=training.Schedule(epochs=1)),
)


def test_dcase_suite_tiny_tree(tmp_path):
    result = suite_dcase.dcase_suite(TINY_SUITE, str(tmp_path), TINY_JOB, TINY_TWIN)
    names = [t["name"] for t in result["targets"]]
    assert names == [
        "DCASE default detector (oe), one machine type",
        "DCASE z-score detector, one machine type",
    ]
    assert [t["target"] for t in result["targets"]] == ["<= 600 s", "<= 120 s"]
    figures = result["figures"]
    assert [t["measured"] for t in result["targets"]] == [figures["job_s"], figures["zscore_s"]]
    assert all(np.isfinite(figures[k]) and figures[k] > 0 for k in ("job_s", "zscore_s", "twin_s"))
    assert figures["test_files"] == 4  # 1 per (domain, label)
    assert result["tree"]["counts"] == [4, 1, 1]
    assert result["job_config"]["detectors"] == ("oe",)
    assert [r["wall s"] for r in result["rows"]] == [
        figures[k] for k in ("job_s", "zscore_s", "twin_s")
    ]
    assert "5 train + 4 test recordings of 1 s" in result["rows"][0]["figure"]
    assert result["baseline_config"]["detectors"] == ("dcase_ae",)
    # the job wrote the official files of the one section
    scores = os.path.join(str(tmp_path), "dcase_out", "oe", "anomaly_score_fan_section_00_test.csv")
    assert os.path.exists(scores)
    twin = os.path.join(
        str(tmp_path), "twin", "dcase_ae_mse", "anomaly_score_fan_section_00_test.csv"
    )
    assert os.path.exists(twin)


def test_default_job_is_the_label_free_default():
    assert suite_dcase.DEFAULT_JOB.detectors == ("oe",)
    assert suite_dcase.DEFAULT_JOB.oe == outlier.OEConfig()
    assert suite_dcase.BASELINE_JOB.detectors == ("dcase_ae",)
    assert suite_dcase.BASELINE_JOB.ae == autoencoder.AEConfig()
    assert suite_config.SuiteConfig().dcase_counts == (990, 10, 50)
    assert "dcase" in suite_config.SUITES
