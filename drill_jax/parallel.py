"""Data-parallel training over all visible devices with ``jax.sharding`` (one Mesh axis).

The same jitted step functions as single-device training (``trainer.train_step``,
``cnn.train_step``) are compiled once more with explicit shardings: the state
(params, optimizer state, batch statistics, step) and the PRNG key are replicated on every
device, the batch is split along its first axis over the mesh's ``batch`` axis. XLA's SPMD
partitioner then inserts the cross-device sums that the global-batch semantics need (the
gradient mean, the decoder's batch-norm statistics), so the sharded step computes the same
function as the single-device step, up to floating-point summation order. On a multi-GPU
or TPU host the same code runs unchanged; on a CPU, test it with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` set before JAX starts.

The global batch size must be a multiple of the device count (pad with zero-weight rows,
as ``trainer.batch_indices`` and the classifier's masks already do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def make_mesh(devices: Optional[Sequence[jax.Device]] = None, axis: str = BATCH_AXIS) -> Mesh:
    """A 1-D Mesh over ``devices`` (default: all of ``jax.devices()``) named ``axis``."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("need at least one device")
    return Mesh(np.asarray(devices, dtype=object), (axis,))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, axis: str = BATCH_AXIS) -> NamedSharding:
    """Leading axis split over the mesh's ``axis``. [B, ...] -> [B / n, ...] per device."""
    return NamedSharding(mesh, PartitionSpec(axis))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Copies a pytree (state, params, keys) to every device of ``mesh``."""
    return jax.device_put(tree, replicated_sharding(mesh))


def check_batch_divisible(batch: Any, n_devices: int) -> int:
    """Batch size of ``batch`` (a pytree of [B, ...] arrays); ValueError unless B % n == 0."""
    sizes = {int(np.shape(leaf)[0]) for leaf in jax.tree.leaves(batch) if np.ndim(leaf) > 0}
    if len(sizes) != 1:
        raise ValueError(f"batch leaves must share one leading size, got {sorted(sizes)}")
    (size,) = sizes
    if size % n_devices:
        raise ValueError(
            f"batch size {size} is not a multiple of the {n_devices} devices; pad it "
            f"with zero-weight rows to {-(-size // n_devices) * n_devices}"
        )
    return size


def shard_batch(batch: Any, mesh: Mesh, axis: str = BATCH_AXIS) -> Any:
    """Splits every leaf [B, ...] of ``batch`` along B over the mesh (B % devices == 0)."""
    check_batch_divisible(batch, mesh.shape[axis])
    return jax.device_put(batch, batch_sharding(mesh, axis))


def data_parallel(step: Callable, mesh: Mesh, axis: str = BATCH_AXIS) -> Callable:
    """``step(state, batch, key) -> (state, metrics)`` compiled for data parallelism.

    ``state`` and ``key`` replicated, ``batch`` split along its leading axis, outputs
    (new state and scalar metrics) replicated. ``step`` may itself be jitted (it is inlined).
    Callers pass inputs already placed (``replicate`` / ``shard_batch``) to avoid a copy
    per call; other inputs are moved to these shardings by jit.
    """
    rep = replicated_sharding(mesh)
    return jax.jit(
        step,
        in_shardings=(rep, batch_sharding(mesh, axis), rep),
        out_shardings=(rep, rep),
    )
