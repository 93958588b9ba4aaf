"""Data-parallel VAE steps over every process of a ``jax.distributed`` run, checked against
the single-device step: the one-command-per-host check of a multi-host set-up.

Every process builds the same state, global batch and key from the seed; the data-parallel
step (``parallel.data_parallel`` over a mesh of all processes' devices) then runs as one
SPMD program, and each process also runs the plain jitted step on its first local device.
Equal gradients mean the hosts, the coordinator and the cross-process collectives work.

"Equal" allows for the kinks of the networks' leaky ReLUs: two compiled programs (one
device, or a mesh) differ in float32 rounding, and a pre-activation within a rounding error
of zero then takes the other slope, which moves the gradient by far more than the rounding.
On the paper-sized VAE that moves the gradient by about 1e-3 of its norm (networks with a
smooth activation agree to about 2e-6), while a lost or doubled shard moves it by a large
fraction of its norm. So the criterion is the gradients' relative distance
(``GRAD_RTOL``); the parameters after one Adam step are reported beside it.
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


# ||g_mesh - g_one|| / ||g_one|| allowed: above the leaky-ReLU kink flips (about 1e-3 on the
# paper-sized VAE), far below a lost shard (about 0.5 of the norm with 2 processes).
GRAD_RTOL = 1e-2


def relative_distance(a, b) -> float:
    """||a - b|| / ||b|| over every leaf of two pytrees of the same structure (float64)."""
    sq = lambda t: sum(float(np.sum(np.square(np.asarray(v, np.float64)))) for v in t)
    diff = [np.asarray(u, np.float64) - np.asarray(v, np.float64)
            for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]  # fmt: skip
    return float(np.sqrt(sq(diff) / max(sq(jax.tree.leaves(b)), 1e-30)))


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
    difference (params, batch stats, metrics) after the steps, the relative distance of the
    two gradients at the initial state ('grad_rel_diff'), whether it is within ``GRAD_RTOL``
    ('equal'), and the data-parallel loss per step."""
    parallel.initialize_distributed(distributed)
    state = trainer.create_state(config, jax.random.key(seed))
    batch = seeded_batch(config, seed + 1)
    key = jax.random.key(seed + 2)
    mesh = parallel.make_mesh()
    step = parallel.data_parallel(trainer.train_step, mesh)
    sharded = parallel.shard_batch(batch, mesh)
    dp_state, dp_key = parallel.replicate(state, mesh), parallel.replicate(key, mesh)
    dp_grads = parallel.data_parallel(trainer.gradients, mesh)(dp_state, sharded, dp_key)[0]
    ref_grads = jax.jit(trainer.gradients)(state, batch, key)[0]
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
        "grad_rel_diff": relative_distance(parallel.fetch(dp_grads), jax.device_get(ref_grads)),
        "seconds_with_compile": seconds,
    }
    out["equal"] = out["grad_rel_diff"] <= GRAD_RTOL
    return out
