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

Several hosts: every process calls ``initialize_distributed`` (``jax.distributed``) before
any other JAX call; ``jax.devices()`` then lists every host's devices, ``make_mesh`` spans
them all, and the same ``data_parallel`` step runs as one SPMD program (on CPUs the
cross-process sums go through Gloo, JAX's default CPU collectives). ``replicate`` and
``shard_batch`` take the same global value in every process and place on each host only
the pieces its own devices hold; ``fetch`` brings a replicated result back to NumPy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """One process of a multi-process (multi-host) JAX run.

    Attributes:
      coordinator_address: host:port of process 0's coordinator (e.g. 10.0.0.1:1234);
        every process passes the same one.
      num_processes: processes in the run (one per host, usually).
      process_id: this process's index, 0 .. num_processes - 1.
    """

    coordinator_address: str = "127.0.0.1:1234"
    num_processes: int = 1
    process_id: int = 0

    def __post_init__(self):
        if self.num_processes < 1:
            raise ValueError(f"num_processes: must be >= 1, got {self.num_processes}")
        if not 0 <= self.process_id < self.num_processes:
            raise ValueError(
                f"process_id: must be in [0, {self.num_processes}), got {self.process_id}"
            )
        host, _, port = self.coordinator_address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"coordinator_address: expected host:port, got {self.coordinator_address!r}"
            )


def initialize_distributed(config: DistributedConfig) -> None:
    """Joins the multi-process run ``config`` describes (``jax.distributed.initialize``);
    call it first, before any other JAX call. A single process (num_processes=1) is a
    no-op. Blocks until every process has joined."""
    if config.num_processes == 1:
        return
    jax.distributed.initialize(
        coordinator_address=config.coordinator_address,
        num_processes=config.num_processes,
        process_id=config.process_id,
    )


def spans_processes(mesh: Mesh) -> bool:
    """True when some of ``mesh``'s devices belong to other processes."""
    return any(d.process_index != jax.process_index() for d in mesh.devices.flat)


def _place(tree: Any, sharding: NamedSharding) -> Any:
    """device_put, or, for a mesh over several processes, each process building its own
    devices' pieces from its (identical) copy of the global value."""
    if not spans_processes(sharding.mesh):
        return jax.device_put(tree, sharding)

    def place(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(leaf))
            spec = PartitionSpec(*sharding.spec, *([None] * (data.ndim - len(sharding.spec))))
            raw = jax.make_array_from_callback(
                data.shape, NamedSharding(sharding.mesh, spec), lambda idx: data[idx]
            )
            return jax.random.wrap_key_data(raw, impl=jax.random.key_impl(leaf))
        value = np.asarray(leaf)
        return jax.make_array_from_callback(value.shape, sharding, lambda idx: value[idx])

    return jax.tree.map(place, tree)


def fetch(tree: Any) -> Any:
    """NumPy copies of a pytree of (replicated or local) arrays, in any process."""
    return jax.tree.map(
        lambda a: np.asarray(a.addressable_data(0)) if isinstance(a, jax.Array) else a, tree
    )


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
    return _place(tree, replicated_sharding(mesh))


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
    """Splits every leaf [B, ...] of ``batch`` along B over the mesh (B % devices == 0).
    Over several processes each passes the same global batch and keeps its part."""
    check_batch_divisible(batch, mesh.shape[axis])
    return _place(batch, batch_sharding(mesh, axis))


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
