"""What every JAX trainer shares: shuffles from keys, fixed-shape masked batches, bucketed
padded evaluation, one per-epoch history record, and the compile count.

Model-free: the VAE trainer (``drill_jax.vae.trainer``) and the classifier
(``drill_jax.classify.cnn``) both use these, so their batches, padding and histories follow
one rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Optional

import jax
import numpy as np

FILLS = ("wrap", "first")


def epoch_order(shuffle_key: jax.Array, epoch: int, n: int) -> np.ndarray:
    """The permutation of n training items used in ``epoch`` (0-based). [n] int.

    ``jax.random.permutation(fold_in(shuffle_key, epoch), n)``: one key fixes every epoch's
    order, and a resumed run sees the same orders as an uninterrupted one.
    """
    if n < 1:
        raise ValueError(f"need n >= 1 items, got {n}")
    return np.asarray(jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), n))


def masked_batches(
    order: np.ndarray, batch_size: int, fill: str = "wrap"
) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``order`` (indices of n items) into fixed-size batches with a mask.

    The last batch is filled up to ``batch_size`` rows, which get mask 0: ``fill='wrap'``
    repeats ``order`` from its start (real rows, so batch statistics stay realistic),
    ``fill='first'`` repeats index 0. Every step then has the same shape and the jitted
    step compiles once.

    Returns (indices [n_batches, batch_size] int64, mask [n_batches, batch_size] float32).
    """
    order = np.asarray(order, np.int64)
    if order.ndim != 1 or order.size < 1 or batch_size < 1:
        raise ValueError(
            f"need a 1-D order of >= 1 items and batch_size >= 1, got {order.shape}, {batch_size}"
        )
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    n = order.size
    n_batches = -(-n // batch_size)
    if fill == "wrap":
        idx = np.resize(order, n_batches * batch_size)
    else:
        idx = np.zeros(n_batches * batch_size, np.int64)
        idx[:n] = order
    mask = (np.arange(n_batches * batch_size) < n).astype(np.float32)
    return idx.reshape(n_batches, batch_size), mask.reshape(n_batches, batch_size)


def bucket_rows(n: int, bucket: int) -> int:
    """Padded row count of a chunk of ``n <= bucket`` rows: the next power of two, at most
    ``bucket``. One row runs as one row (streaming), and at most log2(bucket) + 1 shapes
    are ever compiled."""
    if not 1 <= n <= bucket:
        raise ValueError(f"need 1 <= n <= bucket, got n={n}, bucket={bucket}")
    return min(1 << (n - 1).bit_length(), bucket)


def apply_in_buckets(fn: Callable[[np.ndarray], Any], rows: np.ndarray, bucket: int = 64) -> Any:
    """``fn`` over rows [N, ...] in chunks of ``bucket`` rows, each zero-padded to
    ``bucket_rows``; outputs (a pytree of arrays [chunk, ...]) are cropped and concatenated
    -> [N, ...] NumPy.

    For functions whose rows are independent (evaluation mode: no batch statistics), so
    padding never changes a real row's output.
    """
    rows = np.asarray(rows)
    if rows.ndim < 1 or rows.shape[0] < 1:
        raise ValueError(f"need rows [N >= 1, ...], got shape {rows.shape}")
    outs = []
    for start in range(0, rows.shape[0], bucket):
        part = rows[start : start + bucket]
        padded = np.zeros((bucket_rows(part.shape[0], bucket),) + rows.shape[1:], rows.dtype)
        padded[: part.shape[0]] = part
        out = jax.device_get(fn(padded))
        outs.append(jax.tree.map(lambda a, k=part.shape[0]: np.asarray(a)[:k], out))
    return jax.tree.map(lambda *parts: np.concatenate(parts), *outs)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How long and how fast a JAX trainer runs: the settings every trainer shares.

    A model's config holds one (``train: Schedule = Schedule(epochs=..., ...)``) instead of
    restating the three fields, so each trainer's defaults are written once, in its config.

    Attributes:
      epochs: passes over the training items (0 = no training, the initial parameters).
      batch_size: items per optimizer step (>= 1).
      learning_rate: the optimizer's step size (> 0).
    """

    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ValueError(
                "Schedule needs epochs >= 0, batch_size >= 1 and learning_rate > 0, got "
                f"{self.epochs}, {self.batch_size}, {self.learning_rate}"
            )


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One epoch of training, names spelled out (None = not measured by this trainer).

    Attributes:
      epoch: 1-based epoch; step: optimizer steps so far.
      train_loss: mean loss per example over the epoch's steps.
      train_accuracy: classifier only, fraction correct over the epoch's steps.
      train_recon, train_kl, train_elbo: VAE only, mean per-sound reconstruction and KL
        terms and ELBO.
      eval_loss, eval_accuracy: classifier validation set.
      eval_elbo, eval_recon, eval_kl: VAE test set, mean per sound.
      train_seconds: wall time of the epoch's steps (including any compilation).
      train_examples_per_s: examples / train_seconds.
    """

    epoch: int
    step: int
    train_loss: float
    train_accuracy: Optional[float] = None
    train_recon: Optional[float] = None
    train_kl: Optional[float] = None
    train_elbo: Optional[float] = None
    eval_loss: Optional[float] = None
    eval_accuracy: Optional[float] = None
    eval_elbo: Optional[float] = None
    eval_recon: Optional[float] = None
    eval_kl: Optional[float] = None
    train_seconds: Optional[float] = None
    train_examples_per_s: Optional[float] = None

    def to_json(self) -> dict:
        """The measured fields only (None dropped), in declaration order."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @staticmethod
    def from_json(obj: dict) -> "EpochRecord":
        return EpochRecord(**obj)


def series(history: list, name: str) -> np.ndarray:
    """One field of every record of a history. list of EpochRecord -> [epochs] float64."""
    return np.array([getattr(r, name) for r in history], np.float64)


def compiled_count(jitted: Any) -> int:
    """How many programs a ``jax.jit`` function has compiled so far (its cache size): the
    one way drill_jax checks that a step compiles once (tests compare it before and after).
    """
    size = getattr(jitted, "_cache_size", None)
    if size is None:
        raise TypeError(f"{jitted!r} is not a jax.jit function")
    return int(size())
