"""All folds of the JAX CNN fitted together: one jitted step, vmapped over the folds.

The k x r folds of an evaluation train the same network on different subsets. Fitting them
one after another pays Python dispatch and a small, badly-used kernel per step and fold;
here the folds' states are stacked along a leading fold axis and one ``jax.vmap`` of
``cnn.train_step`` advances every fold by one step per call. Each fold keeps exactly what
the sequential ``cnn.fit`` would use: its own initial parameters and input statistics
(``cnn.create_state`` on its own training set), its own shuffle per epoch
(``training.epoch_order`` of its own size), its own masked batches and dropout key. Folds of
different sizes get fully masked batches at the end of an epoch, and a step whose batch is
empty leaves that fold's state untouched (no AdamW update, no step count), so every fold
sees the same sequence of updates as when fitted alone: equal to the sequential loop up to
float summation order (tested).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import training
from drill_jax.classify import cnn


def _step_unless_empty(state: cnn.ClassifierState, batch: dict, key: jax.Array):
    new_state, metrics = cnn.train_step(state, batch, key)
    live = jnp.sum(batch["mask"]) > 0
    new_state = jax.tree.map(lambda a, b: jnp.where(live, a, b), new_state, state)
    return new_state, metrics


# [F, ...] states, batches and keys -> [F, ...]: one compiled program per fold count and shape.
folds_train_step = jax.jit(jax.vmap(_step_unless_empty))


def stack(trees: Sequence) -> object:
    """Pytrees of equal structure -> one pytree with a leading axis [F, ...]."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree, index: int):
    """Fold ``index`` of a stacked pytree."""
    return jax.tree.map(lambda leaf: leaf[index], tree)


def fit_folds(
    X_folds: Sequence[np.ndarray],
    y_folds: Sequence[np.ndarray],
    config: cnn.ClassifierConfig,
    keys: Sequence[jax.Array],
) -> tuple[list, list]:
    """Trains one classifier per fold, all folds at once.

    Args:
      X_folds: F training sets [N_f, frames, n_mels] (same frames and bands; N_f may differ).
      y_folds: F label vectors [N_f].
      config: the classifier (same for every fold).
      keys: F keys; fold f uses ``keys[f]`` exactly as ``cnn.fit(..., key=keys[f])`` does.

    Returns:
      (states, histories): per fold a ``cnn.ClassifierState`` and a list of
      ``training.EpochRecord`` (train_seconds: the epoch's wall time for all folds).
    """
    n_folds = len(X_folds)
    if n_folds < 1 or len(y_folds) != n_folds or len(keys) != n_folds:
        raise ValueError(
            f"need F >= 1 training sets, labels and keys, got {len(X_folds)}, {len(y_folds)}, "
            f"{len(keys)}"
        )
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {config}")
    checked = [
        cnn.check_xy(X, y, config.n_classes, f"fold {f}")
        for f, (X, y) in enumerate(zip(X_folds, y_folds))
    ]
    shapes = {X.shape[1:] for X, _ in checked}
    if len(shapes) != 1:
        raise ValueError(f"every fold needs the same [frames, n_mels], got {sorted(shapes)}")
    sizes = np.array([X.shape[0] for X, _ in checked])
    x_all = np.zeros((n_folds, sizes.max()) + shapes.pop(), np.float32)
    y_all = np.zeros((n_folds, sizes.max()), np.int32)
    split = [jax.random.split(k, 3) for k in keys]  # init, shuffle, dropout (as cnn.fit)
    states = []
    for f, (X, y) in enumerate(checked):
        x_all[f, : X.shape[0]], y_all[f, : X.shape[0]] = X, y
        states.append(cnn.create_state(config, X, split[f][0]))
    state = stack(states)
    dropout = jnp.stack([s[2] for s in split])
    n_batches = int(-(-sizes.max() // config.batch_size))
    fold_rows = np.arange(n_folds)[:, None]
    per_epoch = []
    for epoch in range(config.epochs):
        start = time.perf_counter()
        idx = np.zeros((n_folds, n_batches, config.batch_size), np.int64)
        mask = np.zeros((n_folds, n_batches, config.batch_size), np.float32)
        for f in range(n_folds):
            order = training.epoch_order(split[f][1], epoch, int(sizes[f]))
            i, m = training.masked_batches(order, config.batch_size, fill="first")
            idx[f, : i.shape[0]], mask[f, : m.shape[0]] = i, m
        steps = []
        for b in range(n_batches):
            rows = idx[:, b]
            batch = {"x": x_all[fold_rows, rows], "y": y_all[fold_rows, rows], "mask": mask[:, b]}
            state, metrics = folds_train_step(state, batch, dropout)
            steps.append(metrics)
        per_epoch.append((state.step, steps, time.perf_counter() - start))
    histories = [[] for _ in range(n_folds)]
    for epoch, (step, steps, secs) in enumerate(jax.device_get(per_epoch)):
        for f in range(n_folds):
            count = sum(float(m["count"][f]) for m in steps)
            histories[f].append(
                training.EpochRecord(
                    epoch=epoch + 1,
                    step=int(step[f]),
                    train_loss=sum(float(m["loss"][f] * m["count"][f]) for m in steps) / count,
                    train_accuracy=sum(float(m["correct"][f]) for m in steps) / count,
                    train_seconds=secs,
                )
            )
    for f, history in enumerate(histories):
        if not np.isfinite(history[-1].train_loss):
            raise FloatingPointError(f"fold {f}: training loss became non-finite")
    return [unstack(state, f) for f in range(n_folds)], histories
