"""VAE train-step benchmarks: JAX vs the PyTorch eager twin, and the data-parallel step.

``vae_suite`` times ``trainer.train_step`` (AOT-compiled; compile time kept apart) per
batch size against ``torch_reference.torch_vae_train_step``. ``parallel_vae_timing`` times
the data-parallel step over the visible devices (run by ``suite_devices`` in a subprocess).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np
from absl import logging

from drill_jax import parallel
from drill_jax.bench.report import at_least
from drill_jax.bench.suite_config import SuiteConfig, _torch_threads
from drill_jax.bench.timing import _ms, time_calls, time_step_loop
from drill_jax.vae import trainer


def _vae_batch(batch_size: int, length: int, rng: np.random.Generator) -> dict:
    x = rng.uniform(-0.5, 0.5, (batch_size, length)).astype(np.float32)
    return {"x": x, "weight": np.ones(batch_size, np.float32)}


def vae_jax_step_timing(config: Any, batch_size: int, repeats: int, warmup: int, seed: int = 0):
    """Times ``trainer.train_step`` at one batch size (AOT-compiled, compile timed apart).

    Returns (Timing with items = batch_size, compile seconds).
    """
    config = dataclasses.replace(config, batch_size=batch_size)
    state = trainer.create_state(config, jax.random.key(seed))
    t = config.network.input_length
    batch = jax.device_put(_vae_batch(batch_size, t, np.random.default_rng(seed)))
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
        config.network, seed=seed, learning_rate=config.optim.learning_rate
    )
    rng = np.random.default_rng(seed)
    x = _vae_batch(batch_size, config.network.input_length, rng)["x"]
    eps = rng.standard_normal((batch_size, config.network.latent_dim)).astype(np.float32)
    return time_calls(
        lambda: torch_reference.torch_vae_train_step(model, optimizer, x, eps),
        repeats,
        warmup,
        batch_size,
        sync=lambda v: v,
    )


def vae_suite(suite: SuiteConfig, vae_config: Any = None) -> dict:
    """VAE train step, JAX vs PyTorch eager, per batch size: examples/s, latency, ratio."""
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
            on_gpu = jax.default_backend() != "cpu"
            name = f"VAE train step vs PyTorch eager, batch 8 ({'GPU' if on_gpu else 'CPU'})"
            targets.append(at_least(name, ratio, 3.0 if on_gpu else 1.5))
    return {
        "rows": rows,
        "figures": figures,
        "targets": targets,
        "vae_config": dataclasses.asdict(vae_config),
    }


def parallel_vae_timing(batch_size: int, repeats: int, warmup: int = 2, seed: int = 0) -> dict:
    """Examples/s of the data-parallel VAE step over all visible devices (one process).

    Meant to run in a subprocess whose XLA_FLAGS fixed the device count.
    """
    config = trainer.VAEConfig(batch_size=batch_size)
    mesh = parallel.make_mesh()
    state = trainer.create_state(config, jax.random.key(seed))
    state = parallel.replicate(state, mesh)
    batch = parallel.shard_batch(
        _vae_batch(batch_size, config.network.input_length, np.random.default_rng(seed)), mesh
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
