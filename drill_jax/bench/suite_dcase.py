"""DCASE speed: one machine type of a synthetic DCASE-format tree (``data.dcase_synth``; by
default the size of a DCASE development machine type: 990 source + 10 target training
recordings and 200 test recordings of 10 s at 16 kHz), trained and scored by the default
label-free DCASE detector through ``dcase_job.time_one_machine`` (target <= 600 s on the
machine) and by the z-score detector through ``detection.build.train`` and file scoring on
the same tree (target <= 120 s); the field's baseline, the JAX twin of the DCASE 2023
autoencoder (``dcase_ae``, 100 epochs), is timed beside them on the same tree (no target).
Writing the tree is not timed."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from drill_jax import features
from drill_jax.bench.report import at_most
from drill_jax.bench.suite_config import SuiteConfig
from drill_jax.data import dcase, dcase_synth
from drill_jax.detection import build, dcase_job, scoring
from drill_jax.detection.models import zscore

MACHINE = "fan"
DEFAULT_JOB = dcase_job.JobConfig(detectors=("oe",))
BASELINE_JOB = dcase_job.JobConfig(detectors=("dcase_ae",))


def time_zscore(root: str, machine_type: str, clip_seconds: float) -> tuple[float, int]:
    """(wall seconds, test files scored) to load one machine type, train the ``zscore``
    detector on its training recordings (every ``clip_seconds`` window, no band filter,
    thresholds from held-out recordings) and score its test recordings' files."""
    start = time.perf_counter()
    infos, _ = dcase.scan_machine(root, machine_type)
    ds, kept, _ = dcase.load_files(infos)
    is_train = np.array([i.split == "train" for i in kept])
    clip = int(round(clip_seconds * ds.sample_rate))
    settings = features.FeatureSettings(sample_rate=ds.sample_rate, band_hz=None)
    config = build.TrainConfig(clip_samples=clip, train_hop=clip)
    det = build.train(
        ds.subset(np.flatnonzero(is_train)), "zscore", zscore.Config(), settings, config
    )
    test = ds.subset(np.flatnonzero(~is_train))
    scoring.file_scores(det, test.waveforms)
    return time.perf_counter() - start, len(test)


def dcase_suite(
    suite: SuiteConfig,
    work_dir: str,
    job: dcase_job.JobConfig = DEFAULT_JOB,
    baseline: dcase_job.JobConfig = BASELINE_JOB,
) -> dict:
    """Seconds of the default DCASE detector (``job``), of the z-score detector and of the
    baseline twin (``baseline``) on one synthetic machine type of ``suite.dcase_counts`` x
    ``suite.dcase_seconds`` recordings."""
    root = os.path.join(work_dir, "dcase_tree")
    start = time.perf_counter()
    dcase_synth.make_tree(
        root,
        (MACHINE,),
        ("00",),
        counts=suite.dcase_counts,
        seconds=suite.dcase_seconds,
        rate=suite.dcase_sample_rate,
        seed=suite.seed,
    )
    synth_s = time.perf_counter() - start
    out = os.path.join(work_dir, "dcase_out")
    job_s = dcase_job.time_one_machine(job, root, MACHINE, out)
    zscore_s, n_test = time_zscore(root, MACHINE, suite.dcase_clip_seconds)
    twin_s = dcase_job.time_one_machine(baseline, root, MACHINE, os.path.join(work_dir, "twin"))
    n_src, n_tgt, n_test_each = suite.dcase_counts
    size = (
        f"{n_src + n_tgt} train + {4 * n_test_each} test recordings of "
        f"{suite.dcase_seconds:g} s at {suite.dcase_sample_rate} Hz"
    )
    detectors = "+".join(job.detectors)
    rows = [
        {"figure": f"DCASE job ({detectors}), one machine type: {size}", "wall s": job_s},
        {"figure": "zscore (build.train + file scores), same tree", "wall s": zscore_s},
        {"figure": "baseline twin (dcase_ae: MSE and Mahalanobis), same tree", "wall s": twin_s},
    ]
    targets = [
        at_most(f"DCASE default detector ({detectors}), one machine type", job_s, 600.0, " s"),
        at_most("DCASE z-score detector, one machine type", zscore_s, 120.0, " s"),
    ]
    return {
        "rows": rows,
        "targets": targets,
        "figures": {
            "job_s": job_s,
            "zscore_s": zscore_s,
            "twin_s": twin_s,
            "synth_s": synth_s,
            "test_files": n_test,
        },
        "tree": {
            "counts": list(suite.dcase_counts),
            "seconds": suite.dcase_seconds,
            "sample_rate": suite.dcase_sample_rate,
            "machine_type": MACHINE,
        },
        "job_config": dataclasses.asdict(job),
        "baseline_config": dataclasses.asdict(baseline),
    }
