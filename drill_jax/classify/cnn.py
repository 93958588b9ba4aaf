"""A small Flax (linen) CNN on log-Mel features, trained with one jitted AdamW step.

Input ``x`` is ``[B, F, n_mels]`` log-Mel dB with a fixed number of frames F for a whole
run (paper settings: a 2000-sample clip has 1 frame and a 4000-sample clip 2, so F <= 2).
Shorter clips are padded at the end by ``features.extract`` with **their own minimum dB value**
(the clip's dB floor, i.e. "silence" on that clip's scale); the padding depends on nothing
but the clip, so it cannot carry information between training and test items.

The network treats the n_mels bands as a 1-D sequence with the F frames as channels:
two Conv1D + max-pool stages along the band axis, a dense layer with dropout, and a dense
layer to C logits. Inputs are standardised per (frame, band) with the mean and std of the
training set only; both are stored in the ``ClassifierState`` pytree with the params.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.special
from absl import logging
from flax.training import train_state

from drill_jax import training

# Eval batches are padded to a multiple of this, so predict_proba compiles few shapes.
_EVAL_BUCKET = 64


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Training recipe of the JAX classifier (fits ~200 clips in a few seconds on a CPU)."""

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = 0
    conv_features: tuple[int, ...] = (16, 32)
    kernel_size: int = 5
    hidden: int = 64
    dropout: float = 0.3
    n_classes: int = 2


class BandCNN(nn.Module):
    """Conv1D over the band axis, frames as channels. [B, F, M] -> [B, n_classes] logits."""

    conv_features: Sequence[int] = (16, 32)
    kernel_size: int = 5
    hidden: int = 64
    dropout: float = 0.3
    n_classes: int = 2

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = jnp.swapaxes(x, 1, 2)  # [B, M, F]: bands are positions, frames are channels
        for i, width in enumerate(self.conv_features):
            x = nn.relu(nn.Conv(width, (self.kernel_size,), name=f"conv_{i}")(x))  # [B, M', W]
            x = nn.max_pool(x, (2,), strides=(2,), padding="SAME")  # [B, ceil(M'/2), W]
        x = x.reshape((x.shape[0], -1))  # [B, M' * W]
        x = nn.relu(nn.Dense(self.hidden, name="hidden")(x))  # [B, H]
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.n_classes, name="logits")(x)  # [B, C]


class ClassifierState(train_state.TrainState):
    """TrainState plus the training-set input statistics x_mean, x_std [F, M]."""

    x_mean: jax.Array
    x_std: jax.Array


def make_model(config: ClassifierConfig) -> BandCNN:
    """The network described by ``config`` (its network fields only).

    Configs that differ only in training fields (epochs, batch size, seed, optimiser) share
    one module instance and hence one ``apply_fn`` (a static field of the state):
    ``train_step`` then compiles once across their fits.
    """
    return _band_cnn(
        tuple(config.conv_features),
        config.kernel_size,
        config.hidden,
        config.dropout,
        config.n_classes,
    )


@functools.lru_cache(maxsize=32)
def _band_cnn(
    conv_features: tuple, kernel_size: int, hidden: int, dropout: float, n_classes: int
) -> BandCNN:
    return BandCNN(conv_features, kernel_size, hidden, dropout, n_classes)


@functools.lru_cache(maxsize=32)
def _make_optimizer(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    """AdamW, cached for the same reason as ``make_model`` (``tx`` is static in the state)."""
    return optax.adamw(learning_rate, weight_decay=weight_decay)


def _standardize(state: ClassifierState, x: jax.Array) -> jax.Array:
    return (x - state.x_mean[None]) / state.x_std[None]


def _masked_loss(logits: jax.Array, y: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy and number of correct predictions over the mask. -> ([], [])."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)  # [B]
    count = jnp.maximum(jnp.sum(mask), 1.0)
    correct = jnp.sum(mask * (jnp.argmax(logits, axis=-1) == y))
    return jnp.sum(mask * ce) / count, correct


@jax.jit
def train_step(state: ClassifierState, batch: dict, key: jax.Array) -> tuple[ClassifierState, dict]:
    """One AdamW step on a masked batch.

    ``batch``: {"x": [B, F, M] float32 dB, "y": [B] int32, "mask": [B] float32 (0 = padding
    row, excluded from the loss)}. Dropout uses ``fold_in(key, state.step)``.
    Loss = sum_i mask_i * CE(logits_i, y_i) / max(sum_i mask_i, 1).
    Returns (new_state, {"loss", "correct", "count"}). Not donated: the model is tiny and
    callers (tests) may reuse the input state.
    """
    dropout_key = jax.random.fold_in(key, state.step)
    x = _standardize(state, batch["x"])

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, x, train=True, rngs={"dropout": dropout_key})
        loss, correct = _masked_loss(logits, batch["y"], batch["mask"])
        return loss, correct

    (loss, correct), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads)
    return new_state, {"loss": loss, "correct": correct, "count": jnp.sum(batch["mask"])}


@jax.jit
def _eval_logits(state: ClassifierState, x: jax.Array) -> jax.Array:
    return state.apply_fn({"params": state.params}, _standardize(state, x), train=False)


def check_xy(X, y, n_classes: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[0] == 0:
        raise ValueError(f"{what}: X must be [N >= 1, F, n_mels], got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what}: X holds non-finite values")
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what}: y must be [N={X.shape[0]}] integers, got {y.dtype} {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"{what}: labels must be in [0, {n_classes}), got {np.unique(y)}")
    return X, y.astype(np.int32)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init_state(
    model: BandCNN, tx: optax.GradientTransformation, key: jax.Array, mean, std
) -> ClassifierState:
    """Params, AdamW state and input stats in one compiled call (not op-by-op); compiled
    once per (model, optimiser, input shape), whatever the training fields of the config."""
    params = model.init(key, jnp.zeros((1,) + mean.shape, jnp.float32))["params"]
    state = ClassifierState.create(
        apply_fn=model.apply, params=params, tx=tx, x_mean=mean, x_std=std
    )
    # A Python-int step would make the first train_step trace differently from the rest.
    return state.replace(step=jnp.zeros((), jnp.int32))


def create_state(config: ClassifierConfig, X_train: np.ndarray, key: jax.Array) -> ClassifierState:
    """Initial state: params from ``key``, AdamW, input stats of ``X_train`` [N, F, M].

    The stats are per (frame, band): mean and std over the N training clips (std floored at
    1e-3 dB so that a constant cell, e.g. all padding, stays finite).
    """
    X_train = np.asarray(X_train, np.float32)
    mean = X_train.mean(axis=0)
    std = np.maximum(X_train.std(axis=0), np.float32(1e-3))
    tx = _make_optimizer(config.learning_rate, config.weight_decay)
    return _init_state(make_model(config), tx, key, jnp.asarray(mean), jnp.asarray(std))


def evaluate(state: ClassifierState, X: np.ndarray, y: np.ndarray) -> dict:
    """Mean cross-entropy and accuracy on (X [N, F, M], y [N]). -> {"loss", "accuracy"}."""
    logits = _predict_logits(state, X)
    ce = optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(y))
    return {"loss": float(jnp.mean(ce)), "accuracy": float(np.mean(logits.argmax(-1) == y))}


def fit(
    X_train,
    y_train,
    config: ClassifierConfig = ClassifierConfig(),
    key: Optional[jax.Array] = None,
    X_val=None,
    y_val=None,
) -> tuple[ClassifierState, dict]:
    """Trains the classifier on X_train [N, F, M] (padded log-Mel dB) and y_train [N].

    ``key`` (default ``jax.random.key(config.seed)``) is split into init / shuffle / dropout
    keys; a fixed key gives identical results on the CPU. Every epoch visits the training
    set in a fresh random order in ``ceil(N / batch_size)`` fixed-shape batches (the last
    one padded and masked), so ``train_step`` compiles once per (B, F, M, config).

    Returns (state, history): one ``training.EpochRecord`` per epoch with ``train_loss``
    and ``train_accuracy`` (over the dropout-mode steps of that epoch) and, when validation
    data is given, ``eval_loss`` and ``eval_accuracy``.
    """
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {config}")
    X_train, y_train = check_xy(X_train, y_train, config.n_classes, "train")
    have_val = X_val is not None
    if have_val:
        X_val, y_val = check_xy(X_val, y_val, config.n_classes, "validation")
        if X_val.shape[1:] != X_train.shape[1:]:
            raise ValueError(f"X_val {X_val.shape} and X_train {X_train.shape} differ in [F, M]")
    if key is None:
        key = jax.random.key(config.seed)
    init_key, shuffle_key, dropout_key = jax.random.split(key, 3)
    del key
    state = create_state(config, X_train, init_key)
    n = X_train.shape[0]
    epoch_metrics, evals, seconds = [], [], []
    for epoch in range(config.epochs):
        start = time.perf_counter()
        order = training.epoch_order(shuffle_key, epoch, n)
        idx, mask = training.masked_batches(order, config.batch_size, fill="first")
        steps = []
        for b in range(idx.shape[0]):
            batch = {"x": X_train[idx[b]], "y": y_train[idx[b]], "mask": mask[b]}
            state, metrics = train_step(state, batch, dropout_key)
            steps.append(metrics)
        epoch_metrics.append((state.step, steps))
        seconds.append(time.perf_counter() - start)  # dispatch time: steps run asynchronously
        evals.append(evaluate(state, X_val, y_val) if have_val else {})
    history = []
    for epoch, ((step, steps), val, secs) in enumerate(
        zip(jax.device_get(epoch_metrics), evals, seconds)
    ):
        count = sum(float(m["count"]) for m in steps)
        history.append(
            training.EpochRecord(
                epoch=epoch + 1,
                step=int(step),
                train_loss=sum(float(m["loss"] * m["count"]) for m in steps) / count,
                train_accuracy=sum(float(m["correct"]) for m in steps) / count,
                eval_loss=val.get("loss"),
                eval_accuracy=val.get("accuracy"),
                train_seconds=secs,
                train_examples_per_s=n / secs if secs > 0 else None,
            )
        )
    final = history[-1].train_loss
    if not np.isfinite(final):
        raise FloatingPointError(f"training loss became non-finite: {final}")
    logging.info("classifier fit: %d examples, final train loss %.4f", n, final)
    return state, history


def _predict_logits(state: ClassifierState, X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[1:] != tuple(state.x_mean.shape):
        raise ValueError(f"X must be [N, {', '.join(map(str, state.x_mean.shape))}], got {X.shape}")
    # Chunks of _EVAL_BUCKET rows, a shorter one padded to a power of two: one clip runs as
    # 1 row (the streaming case), and at most log2(bucket) + 1 shapes are ever compiled.
    return training.apply_in_buckets(lambda rows: _eval_logits(state, rows), X, _EVAL_BUCKET)


def predict_proba(state: ClassifierState, X) -> np.ndarray:
    """Class probabilities [N, C] (softmax of the logits, dropout off) for X [N, F, M]."""
    return scipy.special.softmax(_predict_logits(state, X).astype(np.float64), axis=-1)
