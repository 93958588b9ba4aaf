"""The epoch loop of the small generators that train their own jitted step (the STFT VAE,
the onset-anchored decoder): keyed shuffles, fixed-shape masked batches, a finite-loss
check, one ``training.EpochRecord`` per epoch.

A generator module supplies ``train_step(state, batch, key) -> (state, metrics)``, jitted,
where batch = {'weight': [B] (1 real row, 0 padding), and each per-example array of
``data`` [B, ...]}, and metrics holds per-row means {'loss', 'recon', 'kl'} over the real
rows. Step s of a run uses the run's loop key folded with s (inside the step), epoch e
shuffles with fold_in(shuffle key, e): a run is a pure function of its key.
"""

from __future__ import annotations

import collections
import time
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
from flax.training import train_state

from drill_jax import training


class State(train_state.TrainState):
    """Params, Adam state and step, plus the generator's frozen config (static)."""

    config: Any = flax.struct.field(pytree_node=False, default=None)


def weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    """Mean of per-row values [B] over the rows with weight > 0 (weights [B]). -> []."""
    return jnp.sum(weight * values) / jnp.maximum(jnp.sum(weight), 1.0)


def check_sizes(config: Any, names: tuple) -> None:
    """ValueError unless each named field of config is >= 1 and ``config.epochs`` >= 0."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {config.epochs}")


def run(
    train_step: Callable,
    state: State,
    data: dict,
    batch_size: int,
    epochs: int,
    key: jax.Array,
) -> tuple[State, list]:
    """``epochs`` epochs of ``train_step`` over ``data`` ({name: [N, ...]}, one row per
    training example) in batches of ``batch_size`` rows. ``key`` -> (loop key, shuffle key).

    Returns (state, history: one ``training.EpochRecord`` per epoch with train_loss,
    train_recon, train_kl, seconds). Raises FloatingPointError at a non-finite loss.
    """
    loop_key, shuffle_key = jax.random.split(key)
    n = len(next(iter(data.values())))
    history = []
    for epoch in range(epochs):
        idx, weight = training.masked_batches(
            training.epoch_order(shuffle_key, epoch, n), batch_size
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
        history.append(
            training.EpochRecord(
                epoch=epoch + 1,
                step=int(state.step),
                train_loss=sums["loss"] / n,
                train_recon=sums["recon"] / n,
                train_kl=sums["kl"] / n,
                train_seconds=seconds,
                train_examples_per_s=n / seconds,
            )
        )
    return state, history

