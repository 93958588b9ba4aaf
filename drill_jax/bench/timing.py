"""Timing helpers for benchmarks: warm-up, repeats, median and spread, environment.

A measurement calls a function ``warmup`` times (the first call, which includes any jit
compilation, is kept apart as ``first_call_s``), then ``repeats`` times, each timed alone
and waited on with ``jax.block_until_ready`` so asynchronous dispatch does not hide work.
Figures are medians with the 10th-90th percentile range and min/max as spread. Compile
time of a jitted function is measured on its own with ``compile_seconds`` (lower + compile,
no execution). Targets and reports are in ``drill_jax.bench.report``.
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


def _ms(seconds: Optional[float]) -> Optional[float]:
    """Seconds -> milliseconds for the tables (None stays None)."""
    return None if seconds is None else 1e3 * seconds
