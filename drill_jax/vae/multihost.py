"""Data-parallel VAE steps over every process of a ``jax.distributed`` run, checked against
the single-device step: the one-command-per-host check of a multi-host set-up.

Every process builds the same state, global batch and key from the seed; the data-parallel
step (``parallel.data_parallel`` over a mesh of all processes' devices) then runs as one
SPMD program, and each process also runs the plain jitted step on its first local device.
Equal results (to float32 summation order) mean the hosts, the coordinator and the
cross-process collectives work.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from drill_jax import parallel
from drill_jax.vae import trainer


def seeded_batch(config: trainer.VAEConfig, seed: int, padding: int = 2) -> dict:
    """A global batch {'x': [B, input_length] in [-0.5, 0.5], 'weight': [B]} whose last
    ``padding`` rows have weight 0 (padding rows must not change the step)."""
    rng = np.random.default_rng(seed)
    b, t = config.batch_size, config.network.input_length
    weight = np.ones(b, np.float32)
    weight[b - padding :] = 0.0
    x = rng.uniform(-0.5, 0.5, (b, t)).astype(np.float32)
    return {"x": x, "weight": weight}


def _max_diff(a, b) -> float:
    leaves = jax.tree.leaves(jax.tree.map(lambda u, v: np.max(np.abs(u - v)), a, b))
    return float(max(leaves))


def run_check(
    distributed: parallel.DistributedConfig,
    config: trainer.VAEConfig,
    steps: int = 1,
    seed: int = 0,
) -> dict:
    """Joins the run, takes ``steps`` data-parallel and single-device steps; returns this
    process's figures (JSON-able): device and process counts, the batch rows this process
    holds, the largest parameter change, the largest data-parallel vs single-device
    difference (params, batch stats, metrics), whether the params agree to float32
    summation order ('equal'), and the data-parallel loss per step."""
    parallel.initialize_distributed(distributed)
    state = trainer.create_state(config, jax.random.key(seed))
    batch = seeded_batch(config, seed + 1)
    key = jax.random.key(seed + 2)
    mesh = parallel.make_mesh()
    step = parallel.data_parallel(trainer.train_step, mesh)
    sharded = parallel.shard_batch(batch, mesh)
    dp_state, dp_key = parallel.replicate(state, mesh), parallel.replicate(key, mesh)
    ref_state, losses, t0 = state, [], time.perf_counter()
    for _ in range(steps):
        dp_state, dp_metrics = step(dp_state, sharded, dp_key)
        ref_state, ref_metrics = trainer.train_step(ref_state, batch, key)
        losses.append(float(parallel.fetch(dp_metrics)["loss"]))
    seconds = time.perf_counter() - t0
    dp = parallel.fetch((dp_state.params, dp_state.batch_stats))
    ref = jax.device_get((ref_state.params, ref_state.batch_stats))
    out = {
        "process_id": jax.process_index(),
        "process_count": jax.process_count(),
        "devices": jax.device_count(),
        "local_devices": jax.local_device_count(),
        "local_batch_rows": sum(s.data.shape[0] for s in sharded["x"].addressable_shards),
        "steps": steps,
        "loss": losses,
        "param_change": _max_diff(jax.device_get(state.params), ref[0]),
        "param_scale": float(max(np.max(np.abs(p)) for p in jax.tree.leaves(ref[0]))),
        "max_diff_params": _max_diff(dp[0], ref[0]),
        "max_diff_batch_stats": _max_diff(dp[1], ref[1]),
        "max_diff_metrics": max(
            abs(float(parallel.fetch(dp_metrics)[k]) - float(ref_metrics[k])) for k in ref_metrics
        ),
        "seconds_with_compile": seconds,
    }
    # float32 summation order only (the tolerance of tests/test_parallel.py)
    out["equal"] = out["max_diff_params"] <= 1e-5 * max(1.0, out["param_scale"]) + 2e-5
    return out
