"""Speed benchmarks, every suite of ``drill_jax.bench``: python -m experiments.benchmark."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

from absl import app, flags, logging

from drill_jax.bench import suite_config, suite_paper, suites
from experiments import common, config_flags

_ONLY = flags.DEFINE_list(
    "only", list(suite_config.SUITES), f"Suites to run, among {suite_config.SUITES}."
)
_OUT_DIR = flags.DEFINE_string("out_dir", "runs/benchmark", "Where benchmark.json/.md go.")
_SUITE = config_flags.define(
    suite_config.SuiteConfig,
    help={
        "vae_batch_sizes": "VAE batch sizes.",
        "vae_repeats": "Timed VAE steps per batch size.",
        "vae_warmup": "Warm-up VAE steps per batch size.",
        "torch_reference": "Also time the PyTorch eager VAE.",
        "feature_clips": "Clips in the features suite.",
        "feature_samples": "Samples per feature clip.",
        "librosa_clips": "Clips the per-clip librosa loop runs on (0 = all); rates are per clip.",
        "feature_repeats": "Timed runs of the batched path.",
        "detect_repeats": "Clips timed (JAX detector).",
        "alexnet_repeats": "Clips timed (AlexNet; 0 = skip).",
        "device_counts": "Forced CPU device counts.",
        "devices_batch": "Global batch, many-devices suite.",
        "devices_repeats": "Timed steps per device count.",
        "paper_timeout_s": "Limit for the paper --quick run.",
        "dcase_counts": "dcase suite: source train, target train, test per domain and label.",
        "dcase_seconds": "dcase suite: seconds per recording.",
        "dcase_sample_rate": "dcase suite: sample rate (Hz).",
        "dcase_clip_seconds": "dcase suite: z-score window (s).",
        "seed": "Seed of the synthetic batches and inits.",
    },
)


def time_paper_quick(work_dir: str, repo_dir: str, timeout_s: float) -> suite_paper.PaperTiming:
    """Wall time of ``python -m experiments.paper --quick`` in a subprocess (seconds).

    Runs in ``repo_dir`` and writes to ``work_dir/paper_quick``; a run past ``timeout_s``
    seconds is killed and reported with returncode None.
    """
    label = "paper: experiments.paper --quick wall time"
    script = os.path.join(repo_dir, "experiments", "paper.py")
    if not os.path.exists(script):
        return suite_paper.PaperTiming(label, unavailable="experiments/paper.py missing")
    out = os.path.join(work_dir, "paper_quick")
    cmd = [sys.executable, "-m", "experiments.paper", "--quick", f"--out_dir={out}"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=repo_dir, capture_output=True, text=True, timeout=timeout_s)
        rc, tail = proc.returncode, proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = None, f"timed out after {timeout_s} s"
    wall = time.perf_counter() - start
    return suite_paper.PaperTiming(label, wall, rc, " ".join(cmd[1:]), tail)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    suite = _SUITE.build()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    time_paper = functools.partial(time_paper_quick, repo_dir=repo, timeout_s=suite.paper_timeout_s)
    report = suites.run_suites(suite, _ONLY.value, _OUT_DIR.value, repo, time_paper)
    print(report["table"])
    logging.info("wrote %s", os.path.join(_OUT_DIR.value, "benchmark.json"))


if __name__ == "__main__":
    common.run_main(main)
