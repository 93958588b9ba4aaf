"""Timing helpers for benchmarks: warm-up, repeats, median and spread, targets, reports.

A measurement calls a function ``warmup`` times (the first call, which includes any jit
compilation, is kept apart as ``first_call_s``), then ``repeats`` times, each timed alone
and waited on with ``jax.block_until_ready`` so asynchronous dispatch does not hide work.
Figures are medians with the 10th-90th percentile range and min/max as spread. Compile
time of a jitted function is measured on its own with ``compile_seconds`` (lower + compile,
no execution).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

import jax
import numpy as np
from absl import logging

from drill_jax import files

_PACKAGES = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "numpy",
    "scipy",
    "librosa",
    "torch",
    "torchvision",
)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls.

    Attributes:
      times_s: [repeats] seconds per timed call (after warm-up).
      first_call_s: seconds of the first warm-up call (compilation included), or None
        when there was no warm-up.
      items_per_call: examples / clips processed by one call (for throughput).
    """

    times_s: tuple
    first_call_s: Optional[float] = None
    items_per_call: int = 1

    def __post_init__(self):
        if len(self.times_s) == 0:
            raise ValueError("a Timing needs at least one timed call")
        if self.items_per_call < 1:
            raise ValueError(f"items_per_call must be >= 1, got {self.items_per_call}")

    @property
    def median_s(self) -> float:
        """Median seconds per call."""
        return float(np.median(self.times_s))

    @property
    def items_per_s(self) -> float:
        """Throughput at the median: items_per_call / median_s."""
        return self.items_per_call / self.median_s

    def summary(self) -> dict:
        """Plain-JSON summary: the statistics of ``summarize`` plus throughput."""
        out = summarize(self.times_s)
        out["first_call_s"] = self.first_call_s
        out["items_per_call"] = self.items_per_call
        out["items_per_s"] = self.items_per_s
        return out


def summarize(times_s: Sequence[float]) -> dict:
    """Median and spread of timings. [n] seconds -> dict of floats (seconds).

    Keys: n, median, mean, min, max, p10, p90, p50, p99 (linear interpolation, numpy's
    default), iqr (p75 - p25) and rel_spread = (p90 - p10) / median.
    """
    t = np.asarray(times_s, np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times_s must be a non-empty 1-D sequence, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times_s must be finite and non-negative")
    p10, p25, p50, p75, p90, p99 = np.percentile(t, [10, 25, 50, 75, 90, 99])
    median = float(np.median(t))
    return {
        "n": int(t.size),
        "median": median,
        "mean": float(t.mean()),
        "min": float(t.min()),
        "max": float(t.max()),
        "p10": float(p10),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "iqr": float(p75 - p25),
        "rel_spread": float((p90 - p10) / median) if median > 0 else 0.0,
    }


def time_calls(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    items_per_call: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[Any], Any] = jax.block_until_ready,
) -> Timing:
    """Times ``fn()``: ``warmup`` untimed-for-statistics calls, then ``repeats`` timed calls.

    Each call's result is passed to ``sync`` (default ``jax.block_until_ready``, a no-op on
    NumPy values) inside the timed region. The first warm-up call's duration is kept as
    ``first_call_s`` (for a jitted function: tracing + compilation + one run).
    ``clock`` returns seconds (injectable for tests).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    first = None
    for i in range(warmup):
        start = clock()
        sync(fn())
        if i == 0:
            first = clock() - start
    times = []
    for _ in range(repeats):
        start = clock()
        sync(fn())
        times.append(clock() - start)
    return Timing(tuple(times), first, int(items_per_call))


def time_step_loop(
    step: Callable[[Any], Any],
    state: Any,
    repeats: int = 5,
    warmup: int = 1,
    items_per_call: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Timing, Any]:
    """Times a state-threading step ``state = step(state)`` (e.g. a train step).

    Like ``time_calls`` but the output of each call is the next call's input, so donated or
    updated state is never reused. Returns (timing, final state).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    first = None
    for i in range(warmup):
        start = clock()
        state = jax.block_until_ready(step(state))
        if i == 0:
            first = clock() - start
    times = []
    for _ in range(repeats):
        start = clock()
        state = jax.block_until_ready(step(state))
        times.append(clock() - start)
    return Timing(tuple(times), first, int(items_per_call)), state


def compile_seconds(jitted: Any, *args, **kwargs) -> float:
    """Seconds to trace, lower and compile ``jitted`` for these arguments (nothing runs)."""
    start = time.perf_counter()
    jitted.lower(*args, **kwargs).compile()
    return time.perf_counter() - start


def environment() -> dict:
    """Device kind, counts, versions and load: what a reader needs to compare figures.

    Versions are read from package metadata (torch is not imported here).
    """
    devices = jax.devices()
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "loadavg_1_5_15": load,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "versions": versions,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def target(name: str, description: str, measured: Any, met: bool) -> dict:
    """One target record: {"name", "target", "measured", "met"} with ``met`` a bool."""
    if not name or not description:
        raise ValueError("a target needs a name and a description")
    return {"name": str(name), "target": str(description), "measured": measured, "met": bool(met)}


def at_least(name: str, value: Optional[float], threshold: float, unit: str = "x") -> dict:
    """Target ``value >= threshold``; a missing value (None / NaN) counts as not met."""
    ok = value is not None and np.isfinite(value) and value >= threshold
    shown = None if value is None or not np.isfinite(value) else float(value)
    return target(name, f">= {threshold:g}{unit}", shown, ok)


def at_most(name: str, value: Optional[float], threshold: float, unit: str = "") -> dict:
    """Target ``value <= threshold``; a missing value (None / NaN) counts as not met."""
    ok = value is not None and np.isfinite(value) and value <= threshold
    shown = None if value is None or not np.isfinite(value) else float(value)
    return target(name, f"<= {threshold:g}{unit}", shown, ok)


def all_of(name: str, parts: Sequence[dict]) -> dict:
    """A target met when every part is met; ``measured`` lists the parts' figures."""
    if not parts:
        raise ValueError("all_of needs at least one part")
    description = " and ".join(f"{p['name']} {p['target']}" for p in parts)
    measured = {p["name"]: p["measured"] for p in parts}
    return target(name, description, measured, all(p["met"] for p in parts))


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "met" if value else "NOT met"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def format_table(rows: Sequence[dict], columns: Optional[Sequence[str]] = None) -> str:
    """A Markdown table of ``rows`` (dicts); columns default to the keys in first-seen order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def format_targets(targets: Sequence[dict]) -> str:
    """The targets as a Markdown table (name, target, measured, met / NOT met)."""
    return format_table(targets, ("name", "target", "measured", "met"))


def check_targets(targets: Sequence[dict]) -> None:
    """Raises ValueError unless each target has exactly name/target/measured/met, met a bool."""
    for t in targets:
        if set(t) != {"name", "target", "measured", "met"}:
            raise ValueError(f"target must have keys name, target, measured, met: {t}")
        if not isinstance(t["met"], bool):
            raise ValueError(f"target {t['name']!r}: met must be a bool, got {t['met']!r}")


def write_report(out_dir: str, report: dict, table: str, stem: str = "benchmark") -> tuple:
    """Writes ``<stem>.json`` (the report) and ``<stem>.md`` (the table) atomically.

    ``report`` must hold a ``targets`` list (checked with ``check_targets``).
    Returns (json_path, markdown_path).
    """
    check_targets(report.get("targets", []))
    json_path = os.path.join(out_dir, f"{stem}.json")
    md_path = os.path.join(out_dir, f"{stem}.md")
    files.atomic_write_json(json_path, report)
    files.atomic_write_text(md_path, table)
    return json_path, md_path


# ----------------------------------------------------------------------------- suites
# Each suite returns {"rows": [table rows], "targets": [...], plus raw figures}. torch is
# reached only through drill_jax.torch_bridge, imported when a suite needs it.

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
      paper_timeout_s: limit for ``experiments.paper --quick``.
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
    paper_timeout_s: float = 1800.0
    seed: int = 0


def _vae_batch(batch_size: int, length: int, rng: np.random.Generator) -> dict:
    x = rng.uniform(-0.5, 0.5, (batch_size, length)).astype(np.float32)
    return {"x": x, "weight": np.ones(batch_size, np.float32)}


def vae_jax_step_timing(config: Any, batch_size: int, repeats: int, warmup: int, seed: int = 0):
    """Times ``trainer.train_step`` at one batch size (AOT-compiled, compile timed apart).

    Returns (Timing with items = batch_size, compile seconds).
    """
    from drill_jax.vae import trainer

    config = dataclasses.replace(config, batch_size=batch_size)
    state = trainer.create_state(config, jax.random.key(seed))
    batch = jax.device_put(_vae_batch(batch_size, config.input_length, np.random.default_rng(seed)))
    key = jax.random.key(seed + 1)
    start = time.perf_counter()
    compiled = trainer.train_step.lower(state, batch, key).compile()
    compile_s = time.perf_counter() - start
    timing, _ = time_step_loop(
        lambda s: compiled(s, batch, key)[0], state, repeats, warmup, batch_size
    )
    return timing, compile_s


def vae_torch_step_timing(config: Any, batch_size: int, repeats: int, warmup: int, seed: int = 0):
    """Times the PyTorch eager twin's Adam step (``torch_reference.torch_vae_train_step``)."""
    from drill_jax.bench import torch_reference

    model, optimizer = torch_reference.make_torch_vae(
        seed=seed,
        learning_rate=config.learning_rate,
        **vae_torch_arch(config),
    )
    rng = np.random.default_rng(seed)
    x = _vae_batch(batch_size, config.input_length, rng)["x"]
    eps = rng.standard_normal((batch_size, config.latent_dim)).astype(np.float32)
    return time_calls(
        lambda: torch_reference.torch_vae_train_step(model, optimizer, x, eps),
        repeats,
        warmup,
        batch_size,
        sync=lambda v: v,
    )


def vae_torch_arch(config: Any) -> dict:
    """TorchConvVAE arguments of a ``trainer.VAEConfig`` (arch 'conv')."""
    if config.arch != "conv":
        raise ValueError(f"the PyTorch reference exists for arch='conv' only, got {config.arch!r}")
    return {
        "input_length": config.input_length,
        "latent_dim": config.latent_dim,
        "enc_features": config.enc_features,
        "dec_features": config.dec_features,
        "strides": config.strides,
        "kernel_size": config.kernel_size,
        "block_kernel_size": config.block_kernel_size,
        "negative_slope": config.negative_slope,
        "bn_momentum": config.bn_momentum,
    }


def _torch_threads(suite: "SuiteConfig") -> int:
    """Applies ``suite.torch_threads`` (if > 0); returns the threads torch now uses."""
    from drill_jax.classify import torch_bridge

    if suite.torch_threads > 0:
        torch_bridge.set_num_threads(suite.torch_threads)
    previous = torch_bridge.set_num_threads(1)
    torch_bridge.set_num_threads(previous)
    return previous


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else 1e3 * seconds


def vae_suite(suite: SuiteConfig, vae_config: Any = None) -> dict:
    """VAE train step, JAX vs PyTorch eager, per batch size: examples/s, latency, ratio."""
    from drill_jax.vae import trainer

    vae_config = trainer.VAEConfig() if vae_config is None else vae_config
    rows, figures, targets = [], {}, []
    for b in suite.vae_batch_sizes:
        jt, compile_s = vae_jax_step_timing(
            vae_config, b, suite.vae_repeats, suite.vae_warmup, suite.seed
        )
        fig = {"jax": jt.summary(), "jax_compile_s": compile_s}
        row = {
            "figure": f"VAE train step, batch {b}",
            "jax ex/s": jt.items_per_s,
            "jax ms/step (median)": _ms(jt.median_s),
            "jax p10-p90 ms": f"{_ms(jt.summary()['p10']):.1f}-{_ms(jt.summary()['p90']):.1f}",
            "compile s": compile_s,
        }
        ratio = None
        if suite.torch_reference:
            fig["torch_threads"] = _torch_threads(suite)
            tt = vae_torch_step_timing(
                vae_config, b, suite.vae_repeats, suite.vae_warmup, suite.seed
            )
            ratio = tt.median_s / jt.median_s
            fig.update(torch=tt.summary(), ratio_torch_over_jax=ratio)
            row.update(
                {
                    "torch ex/s": tt.items_per_s,
                    "torch ms/step (median)": _ms(tt.median_s),
                    "speed-up vs torch": ratio,
                }
            )
        figures[str(b)] = fig
        rows.append(row)
        logging.info("vae batch %d: %s", b, row)
        if b == 8:
            targets.append(at_least("VAE train step vs PyTorch eager, batch 8 (CPU)", ratio, 3.0))
    return {
        "rows": rows,
        "figures": figures,
        "targets": targets,
        "vae_config": dataclasses.asdict(vae_config),
    }


def feature_clips(n: int, samples: int, seed: int = 0) -> np.ndarray:
    """[n, samples] float32 clips: bundled sounds, repeated to ``samples``, random gains."""
    from drill_jax import data

    ds = data.load_dataset()
    base = data.stack_fixed(list(ds.waveforms), samples, "repeat")  # [134, samples]
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, base.shape[0], n)
    gains = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    return (base[rows] * gains).astype(np.float32)


def librosa_reference_features(
    clips: np.ndarray, sample_rate: int = SAMPLE_RATE, top_db: Optional[float] = 80.0
) -> np.ndarray:
    """The per-clip loop a user would write: scipy filter, librosa STFT + Mel, dB.

    For each clip (float64): the paper's high-pass then low-pass with the designs of
    ``filters`` (IIR: ``scipy.signal.sosfiltfilt``; FIR: ``np.convolve(mode='same')``, as
    ``filters.make_bandpass`` picks them for this length), ``librosa.stft(center=False)``
    with a periodic Hann window, ``librosa.filters.mel(htk=True, norm='slaney')``, divided
    by sum(window)^2 (MATLAB window normalisation), ``librosa.power_to_db(amin=1e-20)``.
    [N, T] -> [N, frames, n_mels] float64 dB.
    """
    import librosa
    import scipy.signal

    from drill_jax import features

    from drill_jax.features import filters

    config = features.MelConfig(sample_rate=sample_rate)
    designs = [
        filters.design_filter("highpass", 1000.0, sample_rate),
        filters.design_filter("lowpass", 22000.0, sample_rate),
    ]
    fb = librosa.filters.mel(
        sr=sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=0.0,
        fmax=sample_rate / 2,
        htk=True,
        norm="slaney",
    ).astype(np.float64)
    window_sum = float(np.sum(features.periodic_hann(config)))
    out = []
    for clip in np.asarray(clips, np.float64):
        y = clip
        for fd in designs:
            if fd.select(y.shape[0]) == "fir":
                y = np.convolve(y, fd.taps, mode="same")
            else:
                y = scipy.signal.sosfiltfilt(fd.sos, y)
        stft = librosa.stft(
            y,
            n_fft=config.n_fft,
            hop_length=config.hop,
            win_length=config.win_length,
            window="hann",
            center=False,
        )
        power = (fb @ np.abs(stft) ** 2) / window_sum**2  # [n_mels, frames]
        out.append(librosa.power_to_db(power, ref=1.0, amin=features.AMIN, top_db=top_db).T)
    return np.stack(out)


def features_suite(suite: SuiteConfig) -> dict:
    """Band-pass + log-Mel of N clips: batched path vs the per-clip librosa loop."""
    from drill_jax import features
    from drill_jax.features import filters

    clips = feature_clips(suite.feature_clips, suite.feature_samples, suite.seed)
    n = clips.shape[0]
    band = filters.make_bandpass(1000.0, 22000.0, SAMPLE_RATE)
    config = features.MelConfig(sample_rate=SAMPLE_RATE)
    batched = lambda: features.log_mel(band(clips), config)
    listed = lambda: features.clip_features(list(clips), SAMPLE_RATE, config)
    tb = time_calls(batched, suite.feature_repeats, 1, n)
    tl = time_calls(listed, suite.feature_repeats, 1, n)
    ours = batched()
    m = n if suite.librosa_clips <= 0 else min(n, suite.librosa_clips)
    librosa_reference_features(clips[:1])  # warm-up: librosa's first calls compile (numba)
    start = time.perf_counter()
    ref = librosa_reference_features(clips[:m])
    loop_s = time.perf_counter() - start
    loop = Timing((loop_s,), None, m)
    diff = np.abs(ours[:m].astype(np.float64) - ref)
    max_rel = float(np.max(diff / np.maximum(np.abs(ref), 1e-30)))
    max_abs_db = float(np.max(diff))
    ratio = tb.items_per_s / loop.items_per_s
    ratio_list = tl.items_per_s / loop.items_per_s
    rows = [
        {
            "figure": f"features: band-pass + log-Mel, {n} clips x {suite.feature_samples}",
            "ours clips/s": tb.items_per_s,
            "ours s (median)": tb.median_s,
            "librosa loop clips/s": loop.items_per_s,
            "speed-up vs librosa": ratio,
            "max rel diff": max_rel,
            "max abs diff dB": max_abs_db,
        },
        {
            "figure": "features: clip_features (list API)",
            "ours clips/s": tl.items_per_s,
            "ours s (median)": tl.median_s,
            "librosa loop clips/s": loop.items_per_s,
            "speed-up vs librosa": ratio_list,
        },
    ]
    targets = [
        all_of(
            "features vs librosa loop",
            [at_least("speed-up", ratio, 10.0), at_most("max rel diff", max_rel, 1e-4)],
        )
    ]
    return {
        "rows": rows,
        "targets": targets,
        "figures": {
            "batched": tb.summary(),
            "clip_features": tl.summary(),
            "librosa_loop": loop.summary(),
            "librosa_clips": m,
            "speed_up": ratio,
            "speed_up_clip_features": ratio_list,
            "max_rel_diff_db": max_rel,
            "max_abs_diff_db": max_abs_db,
        },
    }


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


def _per_clip(fn: Callable[[], Any], repeats: int, warmup: int = 5) -> Timing:
    """Latency of one clip at a time: each call timed alone."""
    return time_calls(fn, repeats, warmup, 1)


def detect_suite(suite: SuiteConfig, work_dir: str) -> dict:
    """End-to-end latency per 41.67 ms clip: read WAV -> filter -> Mel -> classify.

    JAX classifier: a supervised detector trained briefly with ``export``, saved to and
    loaded back from ``work_dir/detector`` (the deployment path), scored with
    ``export.score_clips``. AlexNet: ``torch_bridge`` (untrained weights, 227 px image from
    ``features.render_image``). Also times each stage of the JAX path alone.
    """
    from drill_jax import data
    from drill_jax.classify import cnn
    from drill_jax.detection import export
    from drill_jax import features

    ds = data.load_dataset()
    clips = data.stack_fixed(list(ds.waveforms), CLIP_SAMPLES, "repeat")
    wav = os.path.join(work_dir, "clip.wav")
    data.write_wav(wav, clips[0], SAMPLE_RATE)
    det_dir = os.path.join(work_dir, "detector")
    detector = export.train_supervised_detector(
        list(clips),
        ds.labels,
        ds.class_names,
        SAMPLE_RATE,
        clip_samples=CLIP_SAMPLES,
        config=cnn.ClassifierConfig(epochs=3),
    )
    export.save_detector(det_dir, detector)
    detector = export.load_detector(det_dir, SAMPLE_RATE)
    clip_seconds = CLIP_SAMPLES / SAMPLE_RATE

    def read():
        x, _ = data.read_wav(wav, SAMPLE_RATE)
        return x[None, :CLIP_SAMPLES]

    end_to_end = _per_clip(lambda: export.score_clips(detector, read()), suite.detect_repeats)
    # The same calls timed in process CPU seconds: on a shared machine the wall-clock tail
    # (p99) is mostly time spent waiting for a core, which CPU time leaves out.
    cpu = time_calls(
        lambda: export.score_clips(detector, read()),
        suite.detect_repeats,
        5,
        1,
        clock=time.process_time,
    )
    row = _latency_row(
        "detect: JAX classifier, read->filter->Mel->classify", end_to_end, clip_seconds
    )
    row.update({"CPU p50 ms": _ms(cpu.summary()["p50"]), "CPU p99 ms": _ms(cpu.summary()["p99"])})
    rows = [row]
    settings = detector.settings
    x = read()
    band = export._bandpass_fn(settings)
    filtered = band(x)
    logmel = features.log_mel(filtered, settings.mel, settings.top_db)
    state = export._classifier_state(detector)
    stages = {
        "read WAV": lambda: read(),
        "band-pass": lambda: band(x),
        "log-Mel": lambda: features.log_mel(filtered, settings.mel, settings.top_db),
        "cnn.predict_proba": lambda: cnn.predict_proba(state, logmel),
    }
    stage_rows, stage_figs = [], {}
    for name, fn in stages.items():
        t = _per_clip(fn, suite.detect_repeats)
        stage_figs[name] = t.summary()
        stage_rows.append(
            {
                "figure": f"  stage: {name}",
                "p50 ms": _ms(t.median_s),
                "p99 ms": _ms(t.summary()["p99"]),
            }
        )
    rows += stage_rows
    figures = {
        "jax_end_to_end": end_to_end.summary(),
        "jax_end_to_end_process_cpu": cpu.summary(),
        "jax_stages": stage_figs,
        "clip_seconds": clip_seconds,
    }
    if suite.alexnet_repeats > 0:
        from drill_jax.classify import torch_bridge

        figures["torch_threads"] = _torch_threads(suite)
        model = torch_bridge.build_model("alexnet", n_classes=2, weights="none")
        model.eval()
        size = torch_bridge.input_size("alexnet")

        def alexnet_clip():
            feats = export.clip_log_mel(settings, read())[0]
            image = features.render_image(feats, size=size)
            return torch_bridge.predict_proba(model, image[None])

        ta = _per_clip(alexnet_clip, suite.alexnet_repeats, warmup=3)
        rows.append(
            _latency_row(
                "detect: AlexNet (torch), read->filter->Mel->image->classify", ta, clip_seconds
            )
        )
        figures["alexnet_end_to_end"] = ta.summary()
    p99_ms = _ms(end_to_end.summary()["p99"])
    targets = [at_most("JAX classifier detection p99 per clip (CPU)", p99_ms, 2.0, " ms")]
    return {"rows": rows, "targets": targets, "figures": figures}


def paper_suite(suite: SuiteConfig, work_dir: str, repo_dir: str) -> dict:
    """Wall time of ``python -m experiments.paper --quick`` in a subprocess."""
    import subprocess
    import sys

    script = os.path.join(repo_dir, "experiments", "paper.py")
    row = {"figure": "paper: experiments.paper --quick wall time"}
    if not os.path.exists(script):
        row["status"] = "not available (experiments/paper.py missing)"
        return {"rows": [row], "targets": [], "figures": {"available": False}}
    out = os.path.join(work_dir, "paper_quick")
    cmd = [sys.executable, "-m", "experiments.paper", "--quick", f"--out_dir={out}"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=repo_dir, capture_output=True, text=True, timeout=suite.paper_timeout_s
        )
        rc, tail = proc.returncode, proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = None, f"timed out after {suite.paper_timeout_s} s"
    wall = time.perf_counter() - start
    ok = rc == 0
    row["wall s"] = wall
    row["status"] = "ok" if ok else f"failed (rc={rc}): {tail.strip().splitlines()[-1:]}"
    return {
        "rows": [row],
        "targets": [],
        "figures": {
            "available": True,
            "ok": ok,
            "wall_s": wall,
            "returncode": rc,
            "command": " ".join(cmd[1:]),
            "stderr_tail": None if ok else tail,
        },
    }


def parallel_vae_timing(batch_size: int, repeats: int, warmup: int = 2, seed: int = 0) -> dict:
    """Examples/s of the data-parallel VAE step over all visible devices (one process).

    Meant to run in a subprocess whose XLA_FLAGS fixed the device count.
    """
    from drill_jax import parallel
    from drill_jax.vae import trainer

    config = trainer.VAEConfig(batch_size=batch_size)
    mesh = parallel.make_mesh()
    state = trainer.create_state(config, jax.random.key(seed))
    state = parallel.replicate(state, mesh)
    batch = parallel.shard_batch(
        _vae_batch(batch_size, config.input_length, np.random.default_rng(seed)), mesh
    )
    key = parallel.replicate(jax.random.key(seed + 1), mesh)
    step = parallel.data_parallel(trainer.train_step, mesh)
    start = time.perf_counter()
    compiled = step.lower(state, batch, key).compile()
    compile_s = time.perf_counter() - start
    timing, _ = time_step_loop(
        lambda s: compiled(s, batch, key)[0], state, repeats, warmup, batch_size
    )
    out = timing.summary()
    out.update(devices=jax.device_count(), compile_s=compile_s, batch_size=batch_size)
    return out


def devices_suite(suite: SuiteConfig, repo_dir: str) -> dict:
    """Data-parallel VAE examples/s against device count (forced CPU host devices).

    Each count runs in its own subprocess with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` (JAX fixes the count at start).
    On a CPU the devices share the same cores, so this measures overhead, not speed-up.
    """
    import json
    import subprocess
    import sys

    rows, figures = [], {}
    for k in suite.device_counts:
        env = dict(os.environ)
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={k}"
        env.setdefault("JAX_PLATFORMS", "cpu")
        code = (
            "import json; from drill_jax import benchmarking; "
            f"print('RESULT ' + json.dumps(benchmarking.parallel_vae_timing("
            f"{suite.devices_batch}, {suite.devices_repeats}, seed={suite.seed})))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=repo_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            rows.append(
                {
                    "figure": f"data-parallel VAE step, {k} device(s)",
                    "status": f"failed: {proc.stderr.strip().splitlines()[-1:]}",
                }
            )
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        figures[str(k)] = r
        rows.append(
            {
                "figure": f"data-parallel VAE step, {k} device(s), batch {suite.devices_batch}",
                "ex/s": r["items_per_s"],
                "ms/step (median)": _ms(r["median"]),
                "compile s": r["compile_s"],
                "devices seen": r["devices"],
            }
        )
    return {"rows": rows, "targets": [], "figures": figures}


SUITES = ("vae", "features", "detect", "paper", "devices")


def run_suites(suite: SuiteConfig, only: Sequence[str], out_dir: str, repo_dir: str) -> dict:
    """Runs the chosen suites, writes ``benchmark.json`` and ``benchmark.md`` to ``out_dir``.

    Returns the report: {"environment", "suite_config", "<suite>": {...}, "targets", "table"}.
    The report is rewritten after every suite, so a crash keeps the finished ones.
    """
    unknown = [s for s in only if s not in SUITES]
    if unknown or not only:
        raise ValueError(f"choose suites among {SUITES}, got {list(only)}")
    work = os.path.join(out_dir, "work")
    os.makedirs(work, exist_ok=True)
    report = {
        "environment": environment(),
        "suite_config": dataclasses.asdict(suite),
        "targets": [],
    }
    for name in SUITES:
        if name not in only:
            continue
        logging.info("benchmark suite %s ...", name)
        start = time.perf_counter()
        if name == "vae":
            result = vae_suite(suite)
        elif name == "features":
            result = features_suite(suite)
        elif name == "detect":
            result = detect_suite(suite, work)
        elif name == "paper":
            result = paper_suite(suite, work, repo_dir)
        else:
            result = devices_suite(suite, repo_dir)
        result["suite_seconds"] = time.perf_counter() - start
        report[name] = result
        report["targets"] = [t for s in SUITES if s in report for t in report[s]["targets"]]
        report["environment"]["loadavg_1_5_15_end"] = environment()["loadavg_1_5_15"]
        table = report_table(report)
        report["table"] = table
        write_report(out_dir, report, table)
    return report


def report_table(report: dict) -> str:
    """Markdown: environment line, one table per suite, then the targets table."""
    env = report["environment"]
    parts = [
        f"# drill_jax benchmark ({env['time_utc']})\n",
        f"device: {env['backend']} / {env['device_kind']} x{env['device_count']}, "
        f"{env['cpu_count']} CPU cores, load average (1, 5, 15 min) at start "
        f"{env['loadavg_1_5_15']}, at end {env.get('loadavg_1_5_15_end')}; "
        f"jax {env['versions']['jax']}, torch {env['versions']['torch']}, "
        f"librosa {env['versions']['librosa']}\n",
    ]
    for name in SUITES:
        if name in report:
            parts.append(f"\n## {name}\n\n" + format_table(report[name]["rows"]))
    parts.append("\n## targets\n\n" + format_targets(report["targets"]))
    return "".join(parts)
