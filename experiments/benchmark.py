"""Speed benchmarks (VAE step, features, detection, paper, many devices): experiments.benchmark."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

from absl import app, flags, logging

from drill_jax.bench import suite_config, suite_paper, suites
from experiments import common

_ONLY = flags.DEFINE_list(
    "only", list(suite_config.SUITES), f"Suites to run, among {suite_config.SUITES}."
)
_OUT_DIR = flags.DEFINE_string("out_dir", "runs/benchmark", "Where benchmark.json/.md go.")
_VAE_BATCH_SIZES = flags.DEFINE_list("vae_batch_sizes", ["8", "64", "512"], "VAE batch sizes.")
_VAE_REPEATS = flags.DEFINE_integer("vae_repeats", 5, "Timed VAE steps per batch size.")
_VAE_WARMUP = flags.DEFINE_integer("vae_warmup", 2, "Warm-up VAE steps per batch size.")
_TORCH = flags.DEFINE_boolean("torch_reference", True, "Also time the PyTorch eager VAE.")
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads",
    1,
    "torch CPU threads for the torch figures (0 = torch's default, one per core; that is "
    "much slower than 1 on a shared busy CPU).",
)
_FEATURE_CLIPS = flags.DEFINE_integer("feature_clips", 10000, "Clips in the features suite.")
_FEATURE_SAMPLES = flags.DEFINE_integer("feature_samples", 4000, "Samples per feature clip.")
_LIBROSA_CLIPS = flags.DEFINE_integer(
    "librosa_clips", 0, "Clips the per-clip librosa loop runs on (0 = all); rates are per clip."
)
_FEATURE_REPEATS = flags.DEFINE_integer("feature_repeats", 3, "Timed runs of the batched path.")
_DETECT_REPEATS = flags.DEFINE_integer("detect_repeats", 300, "Clips timed (JAX detector).")
_ALEXNET_REPEATS = flags.DEFINE_integer("alexnet_repeats", 30, "Clips timed (AlexNet; 0 = skip).")
_DEVICE_COUNTS = flags.DEFINE_list("device_counts", ["1", "2", "4"], "Forced CPU device counts.")
_DEVICES_BATCH = flags.DEFINE_integer("devices_batch", 64, "Global batch, many-devices suite.")
_DEVICES_REPEATS = flags.DEFINE_integer("devices_repeats", 5, "Timed steps per device count.")
_PAPER_TIMEOUT = flags.DEFINE_float("paper_timeout_s", 1800.0, "Limit for the paper --quick run.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic batches and inits.")


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
    suite = suite_config.SuiteConfig(
        vae_batch_sizes=tuple(int(b) for b in _VAE_BATCH_SIZES.value),
        vae_repeats=_VAE_REPEATS.value,
        vae_warmup=_VAE_WARMUP.value,
        torch_reference=_TORCH.value,
        torch_threads=_TORCH_THREADS.value,
        feature_clips=_FEATURE_CLIPS.value,
        feature_samples=_FEATURE_SAMPLES.value,
        librosa_clips=_LIBROSA_CLIPS.value,
        feature_repeats=_FEATURE_REPEATS.value,
        detect_repeats=_DETECT_REPEATS.value,
        alexnet_repeats=_ALEXNET_REPEATS.value,
        device_counts=tuple(int(k) for k in _DEVICE_COUNTS.value),
        devices_batch=_DEVICES_BATCH.value,
        devices_repeats=_DEVICES_REPEATS.value,
        paper_timeout_s=_PAPER_TIMEOUT.value,
        seed=_SEED.value,
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    time_paper = functools.partial(time_paper_quick, repo_dir=repo, timeout_s=suite.paper_timeout_s)
    report = suites.run_suites(suite, _ONLY.value, _OUT_DIR.value, repo, time_paper)
    print(report["table"])
    logging.info("wrote %s", os.path.join(_OUT_DIR.value, "benchmark.json"))


if __name__ == "__main__":
    common.run_main(main)
