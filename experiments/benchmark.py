"""Speed benchmarks (VAE step, features, detection, paper, many devices): experiments.benchmark."""

from __future__ import annotations

import os

from absl import app, flags, logging

from drill_jax.bench import benchmarking
from experiments import common

_ONLY = flags.DEFINE_list(
    "only", list(benchmarking.SUITES), f"Suites to run, among {benchmarking.SUITES}."
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    suite = benchmarking.SuiteConfig(
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
    report = benchmarking.run_suites(suite, _ONLY.value, _OUT_DIR.value, repo)
    print(report["table"])
    logging.info("wrote %s", os.path.join(_OUT_DIR.value, "benchmark.json"))


if __name__ == "__main__":
    common.run_main(main)
