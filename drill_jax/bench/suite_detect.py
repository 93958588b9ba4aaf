"""Detection latency benchmark: one 41.67 ms clip at a time, read WAV -> filter -> Mel -> classify.

``detect_suite`` times a saved-and-reloaded JAX detector (``scoring.score_clips``) end to
end (wall and process-CPU seconds) and stage by stage, and AlexNet through the torchvision
bridge; latencies are percentiles in milliseconds over clips timed one at a time.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from drill_jax import data, features
from drill_jax.bench.report import at_most
from drill_jax.bench.suite_config import CLIP_SAMPLES, SAMPLE_RATE, SuiteConfig, _torch_threads
from drill_jax.bench.timing import Timing, _ms, time_calls
from drill_jax.classify import cnn
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import scoring, supervised
from drill_jax.features import images

CLIP_SECONDS = CLIP_SAMPLES / SAMPLE_RATE  # the audio of one clip (s)


def _latency_row(name: str, t: Timing, clip_seconds: float) -> dict:
    s = t.summary()
    return {
        "figure": name,
        "p50 ms": _ms(s["p50"]),
        "p99 ms": _ms(s["p99"]),
        "max ms": _ms(s["max"]),
        "real-time factor (audio s / s)": clip_seconds / s["p50"],
        "n clips": s["n"],
    }


def _wall_and_cpu(name: str, fn: Callable[[], Any], repeats: int, clip_seconds: float):
    """(row, wall Timing, process-CPU Timing) of one clip at a time through ``fn``. CPU time
    leaves out the waiting for a core that dominates the wall-clock tail on a shared machine."""
    wall = _per_clip(fn, repeats)
    cpu = time_calls(fn, repeats, 5, 1, clock=time.process_time)
    row = _latency_row(name, wall, clip_seconds)
    row.update({"CPU p50 ms": _ms(cpu.summary()["p50"]), "CPU p99 ms": _ms(cpu.summary()["p99"])})
    return row, wall, cpu


def _per_clip(fn: Callable[[], Any], repeats: int, warmup: int = 5) -> Timing:
    """Latency of one clip at a time: each call timed alone."""
    return time_calls(fn, repeats, warmup, 1)


def _read_clip(wav: str) -> np.ndarray:
    """The first CLIP_SAMPLES samples of ``wav`` as a batch of one: [1, CLIP_SAMPLES]."""
    x, _ = data.read_wav(wav, SAMPLE_RATE)
    return x[None, :CLIP_SAMPLES]


def _saved_and_loaded(path: str, detector):
    """``detector`` saved to ``path`` and loaded back (the deployment path)."""
    detector_lib.save_detector(path, detector)
    return detector_lib.load_detector(path, SAMPLE_RATE)


def _jax_rows(suite: SuiteConfig, detector, read: Callable[[], np.ndarray]) -> tuple:
    """(rows, figures) of the JAX classifier end to end (wall and CPU) and stage by stage."""
    row, end_to_end, cpu = _wall_and_cpu(
        "detect: JAX classifier, read->filter->Mel->classify",
        lambda: scoring.score_clips(detector, read()),
        suite.detect_repeats,
        CLIP_SECONDS,
    )
    settings = detector.settings
    x = read()
    band = features.band_filter(settings)
    filtered = band(x)
    logmel = features.log_mel(filtered, settings.mel, settings.top_db)
    state = scoring._classifier_state(detector)
    stages = {
        "read WAV": read,
        "band-pass": lambda: band(x),
        "log-Mel": lambda: features.log_mel(filtered, settings.mel, settings.top_db),
        "cnn.predict_proba": lambda: cnn.predict_proba(state, logmel),
    }
    rows, stage_figs = [row], {}
    for name, fn in stages.items():
        stage_figs[name] = t = _per_clip(fn, suite.detect_repeats).summary()
        row = {"figure": f"  stage: {name}", "p50 ms": _ms(t["p50"]), "p99 ms": _ms(t["p99"])}
        rows.append(row)
    figures = {
        "jax_end_to_end": end_to_end.summary(),
        "jax_end_to_end_process_cpu": cpu.summary(),
        "jax_stages": stage_figs,
    }
    return rows, figures


def _alexnet_row(suite: SuiteConfig, settings, read: Callable[[], np.ndarray]) -> tuple:
    """(row, figures) of untrained AlexNet through the torchvision bridge, one clip at a time:
    read -> filter -> Mel -> 227 px image -> classify."""
    from drill_jax.classify import torch_models, torch_train

    threads = _torch_threads(suite)
    model = torch_models.build_model("alexnet", n_classes=2, weights="none")
    model.eval()
    size = torch_models.input_size("alexnet")

    def alexnet_clip():
        feats = features.extract(settings, read())[0]
        image = images.render_image(feats, size=size)
        return torch_train.predict_proba(model, image[None])

    t = _per_clip(alexnet_clip, suite.alexnet_repeats, warmup=3)
    name = "detect: AlexNet (torch), read->filter->Mel->image->classify"
    row = _latency_row(name, t, CLIP_SECONDS)
    return row, {"torch_threads": threads, "alexnet_end_to_end": t.summary()}


def detect_suite(suite: SuiteConfig, work_dir: str) -> dict:
    """End-to-end latency per 41.67 ms clip: read WAV -> filter -> Mel -> classify.

    JAX classifier: a supervised detector trained briefly (``detection.supervised``), saved to and
    loaded back from ``work_dir/detector`` (the deployment path), scored with
    ``scoring.score_clips``; also each stage of its path alone. The default classical
    detector the same way (``work_dir/classical``). AlexNet: ``torch_models`` (untrained
    weights, 227 px image from ``images.render_image``).
    """
    ds = data.load_dataset()
    clips = data.stack_fixed(list(ds.waveforms), CLIP_SAMPLES, "repeat")
    wav = os.path.join(work_dir, "clip.wav")
    data.write_wav(wav, clips[0], SAMPLE_RATE)
    read = functools.partial(_read_clip, wav)
    detector = _saved_and_loaded(
        os.path.join(work_dir, "detector"),
        supervised.train_supervised_detector(
            list(clips),
            ds.labels,
            ds.class_names,
            SAMPLE_RATE,
            clip_samples=CLIP_SAMPLES,
            config=cnn.ClassifierConfig(epochs=3),
        ),
    )
    rows, figures = _jax_rows(suite, detector, read)
    figures["clip_seconds"] = CLIP_SECONDS
    if suite.alexnet_repeats > 0:
        row, alexnet_figures = _alexnet_row(suite, detector.settings, read)
        rows.append(row)
        figures.update(alexnet_figures)
    # The default detector of train_detector: classical recipes chosen by cross-validation.
    cls = _saved_and_loaded(
        os.path.join(work_dir, "classical"),
        supervised.train_classical_detector(
            list(clips), ds.labels, ds.class_names, SAMPLE_RATE, clip_samples=CLIP_SAMPLES
        ),
    )
    row, tc, tc_cpu = _wall_and_cpu(
        "detect: default classical (" + " + ".join(r.name for r in cls.model_config.recipes) + ")",
        lambda: scoring.score_clips(cls, read()),
        suite.detect_repeats,
        CLIP_SECONDS,
    )
    rows.insert(1, row)
    figures["classical_end_to_end"] = tc.summary()
    figures["classical_end_to_end_process_cpu"] = tc_cpu.summary()
    p99 = _ms(figures["jax_end_to_end"]["p99"])
    targets = [
        at_most("JAX classifier detection p99 per clip (CPU)", p99, 2.0, " ms"),
        at_most(
            "default (classical) detector p99 per clip (CPU)", _ms(tc.summary()["p99"]), 2.0, " ms"
        ),
    ]
    return {"rows": rows, "targets": targets, "figures": figures}
