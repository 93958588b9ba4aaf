"""Sizes and names of the benchmark suites, shared by every ``suite_*`` module.

Each suite returns {"rows": [table rows], "targets": [...], plus raw figures}. torch is
reached only through ``drill_jax.classify.torch_*`` and
``drill_jax.bench.torch_reference``, imported inside the function that needs it.
"""

from __future__ import annotations

import dataclasses

CLIP_SAMPLES = 4000  # 41.67 ms at 96 kHz
SAMPLE_RATE = 96000


@dataclasses.dataclass(frozen=True)
class SuiteConfig:
    """Sizes of the benchmark suites.

    Attributes:
      vae_batch_sizes: batch sizes of the VAE train-step figures.
      vae_repeats, vae_warmup: timed and warm-up steps per batch size.
      torch_reference: also time the PyTorch eager twin (torch_reference.TorchConvVAE).
      torch_threads: torch intra-op CPU threads for the torch figures (0 = torch's default,
        one per core). Default 1: on a shared, busy 2-core machine torch's default threads
        wait on each other at every op (measured: 7-8 s instead of 0.09 s per batch-8 step).
      feature_clips, feature_samples: clips and samples per clip of the features suite.
      librosa_clips: clips the per-clip librosa loop runs on (0 = all feature_clips).
      feature_repeats: timed repeats of the batched feature path.
      detect_repeats: clips timed one at a time for the latency percentiles (JAX).
      alexnet_repeats: same for AlexNet (slower); 0 skips AlexNet.
      device_counts, devices_batch, devices_repeats: the many-devices suite.
      folds_splits, folds_repeats: the honest protocol of the folds suite (5 x 4).
      paper_timeout_s: limit in seconds for the paper script's quick run; recorded here,
        applied by the entry point that times that run (see ``suite_paper``).
      dcase_counts: the dcase suite's synthetic machine type (one section): (source training,
        target training, test recordings per domain and label) (``data.dcase_synth``).
      dcase_seconds, dcase_sample_rate: length (s) and rate (Hz) of its recordings.
      dcase_clip_seconds: the z-score detector's window (s).
      seed: data and init seed.
    """

    vae_batch_sizes: tuple = (8, 64, 512)
    vae_repeats: int = 5
    vae_warmup: int = 2
    torch_reference: bool = True
    torch_threads: int = 1
    feature_clips: int = 10000
    feature_samples: int = CLIP_SAMPLES
    librosa_clips: int = 0
    feature_repeats: int = 3
    detect_repeats: int = 300
    alexnet_repeats: int = 30
    device_counts: tuple = (1, 2, 4)
    devices_batch: int = 64
    devices_repeats: int = 5
    folds_splits: int = 5
    folds_repeats: int = 4
    paper_timeout_s: float = 1800.0
    dcase_counts: tuple = (990, 10, 50)
    dcase_seconds: float = 10.0
    dcase_sample_rate: int = 16000
    dcase_clip_seconds: float = 1.0
    seed: int = 0


# Suite names, in the order run_suites runs them and report_table lists them.
SUITES = ("vae", "features", "detect", "folds", "paper", "devices", "generators", "dcase")


def _torch_threads(suite: SuiteConfig) -> int:
    """Applies ``suite.torch_threads`` (if > 0); returns the threads torch now uses."""
    from drill_jax.classify import torch_train

    if suite.torch_threads > 0:
        torch_train.set_num_threads(suite.torch_threads)
    previous = torch_train.set_num_threads(1)
    torch_train.set_num_threads(previous)
    return previous
