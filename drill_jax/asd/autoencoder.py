"""The DCASE 2023 task-2 autoencoder baseline, reimplemented in JAX/Flax with its published
settings: 128 log-Mel bands x 5 frames = 640 inputs (n_fft 1024, hop 512, power 2), a dense
autoencoder 640-128-128-128-128-8-128-128-128-128-640 with batch norm (momentum 0.01 in
PyTorch's convention, eps 1e-3) and ReLU, Adam lr 1e-3, batch 256, 100 epochs, MSE loss.

File scores (higher = more anomalous), as the official code computes them:
* ``mse``: mean squared reconstruction error over all frame vectors of a file.
* ``mahalanobis`` (selective Mahalanobis): the residual ``x - x_hat`` of every vector is cut
  into 5 blocks of 128 (one per frame); covariances of those blocks are estimated on the
  training vectors of each domain (sum of centred outer products / (vectors - 1), as the
  official code); a file's score is ``min_d  r^T S_d^-1 r`` where ``r`` is the mean residual
  block of the file. (The official code forms the full block-by-block matrix and averages it,
  which equals this quadratic form of the mean residual.) The official code centres the
  covariance per mini-batch; we centre on the domain mean, and use a pseudo-inverse, which
  equals the inverse for the non-singular covariances of real data.

Weights start as PyTorch's ``nn.Linear`` does (uniform in +-1/sqrt(fan_in)), so the twin
starts from the same distribution as the official model.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm
from flax.training import train_state

from drill_jax import training
from drill_jax.asd import features

SCORES = ("mse", "mahalanobis")
_EVAL_BUCKET = 2048


@dataclasses.dataclass(frozen=True)
class AEConfig:
    """The published DCASE 2023 baseline settings (``baseline.yaml``).

    Attributes:
      front_end: the log-Mel front-end.
      frames: log-Mel frames stacked into one input vector.
      hidden, bottleneck: widths of the hidden and the code layers.
      train: epochs over the frame vectors, vectors per Adam step, learning rate.
    """

    front_end: features.LogMelConfig = features.LogMelConfig()
    frames: int = 5
    hidden: int = 128
    bottleneck: int = 8
    train: training.Schedule = training.Schedule(epochs=100, batch_size=256)

    def __post_init__(self):
        if min(self.frames, self.hidden, self.bottleneck, self.train.epochs) < 1:
            raise ValueError(f"AEConfig sizes must be positive, got {self}")

    @property
    def input_dim(self) -> int:
        """frames * n_mels (640)."""
        return self.frames * self.front_end.n_mels


def _torch_uniform(fan_in: int):
    """PyTorch ``nn.Linear`` initialiser for kernels and biases: U(-1/sqrt(fan_in), ...)."""
    bound = 1.0 / np.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class AENet(nn.Module):
    """Dense autoencoder with batch norm. [B, D] -> ([B, D] reconstruction, [B, bottleneck])."""

    input_dim: int = 640
    hidden: int = 128
    bottleneck: int = 8

    def _dense(self, x, features: int, name: str):
        fan_in = x.shape[-1]
        return nn.Dense(features, kernel_init=_torch_uniform(fan_in),
                        bias_init=_torch_uniform(fan_in), name=name)(x)

    def _block(self, x, features: int, name: str, train: bool):
        x = self._dense(x, features, name)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3,
                         name=f"{name}_bn")(x)
        return nn.relu(x)

    @nn.compact
    def __call__(self, x, train: bool = False):
        widths = (self.hidden,) * 4
        for i, w in enumerate(widths + (self.bottleneck,)):
            x = self._block(x, w, f"enc{i}", train)
        z = x  # [B, bottleneck]
        for i, w in enumerate(widths):
            x = self._block(x, w, f"dec{i}", train)
        return self._dense(x, self.input_dim, "out"), z  # [B, D], [B, bottleneck]


class AEState(train_state.TrainState):
    """TrainState plus batch-norm statistics."""

    batch_stats: dict


@dataclasses.dataclass(frozen=True)
class AEModel:
    """A trained twin: its network variables {'params', 'batch_stats'} and the inverse residual
    covariances [n_mels, n_mels] of the source and target domain (the target's is the
    source's when no target file trained it)."""

    variables: dict
    inv_cov_source: np.ndarray
    inv_cov_target: np.ndarray


def file_vectors(config: AEConfig, waveforms: Sequence[np.ndarray], sample_rate: int) -> list:
    """Each [T_i] recording -> its [V_i, frames * n_mels] float32 frame vectors. A recording
    of fewer than ``frames`` frames (shorter than DCASE's) is tiled up to ``frames``."""
    out = []
    for x in waveforms:
        lm = features.log_mel(config.front_end, x, sample_rate)
        out.append(features.tiled_frame_vectors(lm, config.frames))
    return out


@jax.jit
def train_step(state: AEState, batch: dict, key: jax.Array) -> tuple[AEState, dict]:
    """One Adam step on the masked mean squared reconstruction error of batch["x"] [B, D]
    (batch["mask"] [B]: 0 for fill rows). The baseline has no randomness inside a step, so
    ``key`` is unused. Returns (new state, {"loss"})."""
    del key

    def loss_fn(params):
        (recon, _), updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, batch["x"], train=True,
            mutable=["batch_stats"],
        )
        per_row = jnp.mean((recon - batch["x"]) ** 2, axis=-1)
        loss = jnp.sum(per_row * batch["mask"]) / jnp.sum(batch["mask"])
        return loss, updates["batch_stats"]

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=stats), {"loss": loss}


@functools.partial(jax.jit, static_argnums=0)
def _residual(model: AENet, variables: dict, x: jax.Array) -> jax.Array:
    """[B, D] -> [B, D] residual x - x_hat in evaluation mode."""
    return x - model.apply(variables, x, train=False)[0]


def _residuals(config: AEConfig, variables: dict, x: np.ndarray) -> np.ndarray:
    """[V, D] -> [V, D] residuals, in padded buckets."""
    return training.apply_in_buckets(
        functools.partial(_residual, network(config), variables), x, _EVAL_BUCKET
    )


@functools.lru_cache(maxsize=8)
def network(config: AEConfig) -> AENet:
    """The twin's network for ``config`` (one instance per config, so jitted functions that
    take its ``apply`` as a static argument compile once)."""
    return AENet(config.input_dim, config.hidden, config.bottleneck)


@functools.partial(jax.jit, static_argnums=0)
def init_state(config: AEConfig, key: jax.Array) -> AEState:
    """Fresh parameters (PyTorch-style init) and Adam(lr) optimiser state."""
    net = network(config)
    variables = net.init(key, jnp.zeros((2, config.input_dim)), train=False)
    return AEState.create(apply_fn=net.apply, params=variables["params"],
                          batch_stats=variables["batch_stats"],
                          tx=optax.adam(config.train.learning_rate))


def fit(config: AEConfig, vectors: Sequence[np.ndarray], is_target, key: jax.Array,
        progress: bool = False) -> AEModel:
    """Trains the twin on the frame vectors of normal training files, then estimates the
    per-domain residual covariances.

    Args:
      vectors: per training file, [V_i, D] frame vectors (``file_vectors``).
      is_target: [N] bool, the file is from the target domain.
      key: PRNG key (initialisation and epoch shuffles).
      progress: show a tqdm bar over epochs.
    """
    is_target = np.asarray(is_target, bool)
    x = np.concatenate(vectors).astype(np.float32)
    init_key, shuffle_key, step_key = jax.random.split(key, 3)
    state = init_state(config, init_key)
    for epoch in tqdm.trange(config.train.epochs, desc="autoencoder", disable=not progress):
        idx, mask = training.masked_batches(
            training.epoch_order(shuffle_key, epoch, x.shape[0]), config.train.batch_size
        )
        for i in range(idx.shape[0]):
            state, _ = train_step(state, {"x": x[idx[i]], "mask": mask[i]}, step_key)
    variables = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    residual = _residuals(config, variables, x)
    rows_target = np.repeat(is_target, [v.shape[0] for v in vectors])
    inv_source = _inverse_block_cov(residual[~rows_target], config.front_end.n_mels)
    inv_target = (_inverse_block_cov(residual[rows_target], config.front_end.n_mels)
                  if rows_target.any() else inv_source)
    return AEModel(variables, inv_source, inv_target)


def _inverse_block_cov(residual: np.ndarray, block: int) -> np.ndarray:
    """[V, D] residual vectors -> [block, block] pseudo-inverse of the covariance of their
    D / block blocks, normalised by V - 1 (the official code's count of vectors)."""
    blocks = residual.reshape(-1, block).astype(np.float64)
    centred = blocks - blocks.mean(axis=0)
    cov = centred.T @ centred / max(residual.shape[0] - 1, 1)
    return np.linalg.pinv(cov, hermitian=True)


def score(config: AEConfig, model: AEModel, vectors: Sequence[np.ndarray]) -> dict:
    """File scores of recordings given as [V_i, D] frame vectors -> {'mse': [N],
    'mahalanobis': [N]} float64 (higher = more anomalous)."""
    block = config.front_end.n_mels
    x = np.concatenate(vectors).astype(np.float32)
    residual = _residuals(config, model.variables, x).astype(np.float64)
    bounds = np.cumsum([0] + [v.shape[0] for v in vectors])
    mse, maha = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        r = residual[a:b]
        mse.append(float(np.mean(r**2)))
        mean_block = r.reshape(-1, block).mean(axis=0)
        maha.append(min(float(mean_block @ model.inv_cov_source @ mean_block),
                        float(mean_block @ model.inv_cov_target @ mean_block)))
    return {"mse": np.array(mse), "mahalanobis": np.array(maha)}
