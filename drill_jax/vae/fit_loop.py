"""The epoch loop of the small generators that train their own jitted step (the STFT VAE,
the onset-anchored decoder): keyed shuffles, fixed-shape masked batches, a finite-loss
check, one ``training.EpochRecord`` per epoch.

A generator module supplies ``train_step(state, batch, key) -> (state, metrics)``, jitted,
where batch = {'weight': [B] (1 real row, 0 padding), and each per-example array of
``data`` [B, ...]}, and metrics holds per-row means {'loss', 'recon', 'kl'} over the real
rows. Step s of a run uses the run's loop key folded with s (inside the step), epoch e
shuffles with fold_in(shuffle key, e): a run is a pure function of its key, and a run
resumed from its checkpoint (``checkpoints``: params, Adam state, step, epoch, loop key,
history and config, written atomically after each epoch) is identical to an uninterrupted
one.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from typing import Any, Callable, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from drill_jax import training
from drill_jax.vae import checkpoints

CHECKPOINT = checkpoints.CHECKPOINT


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """What the config of every generator trained here holds (each generator's Config
    extends it and may change its defaults; ``models.reference.loop_config`` fills it from
    the generator config).

    Attributes:
      input_length: samples per clip.
      latent_dim: size of z.
      kl_weight: weight of the KL term of the loss.
      train: epochs, batch size and Adam's learning rate.
    """

    input_length: int = 1999
    latent_dim: int = 8
    kl_weight: float = 1.0
    train: training.Schedule = training.Schedule()

    def __post_init__(self):
        check_sizes(self, ("input_length", "latent_dim"))
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight must be >= 0, got {self.kl_weight}")
        if not isinstance(self.train, training.Schedule):
            raise ValueError(f"train must be a training.Schedule, got {self.train!r}")


class State(train_state.TrainState):
    """Params, Adam state and step, plus the generator's frozen config (static): a
    ``LoopConfig``. batch_stats is None (no batch norm; the checkpoint format holds the
    field)."""

    config: Any = flax.struct.field(pytree_node=False, default=None)
    batch_stats: Any = None


class Options(NamedTuple):
    """Where a run keeps its checkpoint and what it reports.

    workdir: if given, ``CHECKPOINT`` there is written atomically after each epoch.
    resume: continue from ``workdir``'s checkpoint if there is one (the config may differ
      only in epochs; the key must be the same).
    on_epoch: called with the history so far after each epoch.
    """

    workdir: Optional[str] = None
    resume: bool = False
    on_epoch: Optional[Callable[[list], None]] = None


def new_state(apply_fn: Callable, params: Any, config: Any) -> State:
    """Step 0 (int32) of Adam at ``config.train.learning_rate`` over ``params``."""
    tx = optax.adam(config.train.learning_rate)
    state = State.create(apply_fn=apply_fn, params=params, tx=tx, config=config)
    return state.replace(step=jnp.zeros((), jnp.int32))


def weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    """Mean of per-row values [B] over the rows with weight > 0 (weights [B]). -> []."""
    return jnp.sum(weight * values) / jnp.maximum(jnp.sum(weight), 1.0)


def check_sizes(config: Any, names: tuple) -> None:
    """ValueError unless each named field of config is >= 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")


def _epoch(train_step: Callable, state: State, data: dict, epoch: int, keys: tuple):
    """One epoch (0-based) of train_step; keys = (loop key, shuffle key).
    -> (state, its training.EpochRecord)."""
    loop_key, shuffle_key = keys
    n = len(next(iter(data.values())))
    idx, weight = training.masked_batches(
        training.epoch_order(shuffle_key, epoch, n), state.config.train.batch_size
    )
    sums, start = collections.defaultdict(float), time.perf_counter()
    for rows, w in zip(idx, weight):
        batch = {name: values[rows] for name, values in data.items()}
        state, metrics = train_step(state, dict(batch, weight=w), loop_key)
        metrics = jax.device_get(metrics)
        if not np.isfinite(metrics["loss"]):
            raise FloatingPointError(
                f"non-finite loss at step {int(state.step)} (epoch {epoch + 1}): {metrics}"
            )
        for name, value in metrics.items():
            sums[name] += float(value) * float(w.sum())
    seconds = time.perf_counter() - start
    record = training.EpochRecord(
        epoch=epoch + 1,
        step=int(state.step),
        train_loss=sums["loss"] / n,
        train_recon=sums["recon"] / n,
        train_kl=sums["kl"] / n,
        train_seconds=seconds,
        train_examples_per_s=n / seconds,
    )
    return state, record


def run(
    train_step: Callable,
    state: State,
    data: dict,
    key: jax.Array,
    options: Options = Options(),
) -> tuple[State, list]:
    """``state.config.train.epochs`` epochs of ``train_step`` over ``data`` ({name: [N, ...]},
    one row per training example) in batches of ``state.config.train.batch_size`` rows,
    checkpointed and resumed as ``options`` says. ``key`` -> (loop key, shuffle key).

    Returns (state, history: one ``training.EpochRecord`` per epoch with train_loss,
    train_recon, train_kl, seconds). Raises FloatingPointError at a non-finite loss, and
    ValueError when the checkpoint to resume was made with another config or key.
    """
    loop_key, shuffle_key = jax.random.split(key)
    config, start_epoch, history = state.config, 0, []
    ckpt = None if options.workdir is None else os.path.join(options.workdir, CHECKPOINT)
    if options.resume and ckpt is not None and os.path.exists(ckpt):
        state, start_epoch, history = checkpoints.load_checkpoint(ckpt, state, config, loop_key)
    for epoch in range(start_epoch, config.train.epochs):
        state, record = _epoch(train_step, state, data, epoch, (loop_key, shuffle_key))
        history.append(record)
        if ckpt is not None:
            checkpoints.save_checkpoint(ckpt, state, config, epoch + 1, loop_key, history)
        if options.on_epoch is not None:
            options.on_epoch(history)
    return state, history
