"""Per-class VAE training: config, state, the jitted steps, checkpoints and resume.

Randomness: a class VAE gets one key and splits it once into init / loop / shuffle /
eval keys. Step s uses ``fold_in(loop_key, s)``, epoch e shuffles with
``fold_in(shuffle_key, e)`` and evaluates with ``fold_in(eval_key, e)``: a run resumed
from a checkpoint is therefore identical to an uninterrupted one.

Fixed shapes: every batch has exactly ``batch_size`` rows, so ``train_step`` and
``eval_step`` compile once. The last, partial batch of an epoch is filled up with
repeats of real examples that get weight 0: they count neither in the loss nor in the
decoder's batch-norm statistics (the weights are the batch-norm mask).
"""

from __future__ import annotations

import collections
import functools
import json
import os
import time
from typing import Any, Callable, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from flax.training import train_state

from drill_jax import files, training
from drill_jax.vae import checkpoints, generators, networks, objectives
from drill_jax.vae.generators import check_clips
from drill_jax.vae.configs import LossConfig as LossConfig
from drill_jax.vae.configs import NetworkConfig as NetworkConfig
from drill_jax.vae.configs import OptimConfig, VAEConfig
from drill_jax.vae.configs import SynthesisConfig as SynthesisConfig

CHECKPOINT = checkpoints.CHECKPOINT


LossSpec = objectives.LossSpec


def loss_spec(config: VAEConfig) -> LossSpec:
    """The static loss settings of a config."""
    loss = config.loss
    return LossSpec(
        loss.recon,
        loss.kl,
        loss.mse_sigma,
        generators.get(config.network.arch).OUTPUT,
        loss.stft_sizes,
        loss.sc_weight,
        loss.kl_weight,
        loss.kl_warmup_steps,
        loss.free_bits,
    )


class TrainState(train_state.TrainState):
    """Params, Adam state and step (flax) plus the decoder's batch-norm statistics.

    ``apply_fn``, ``tx`` and ``loss`` are static. They are cached per model / optimiser /
    loss settings, so configs that differ elsewhere (epochs, seed, synthesis) share one
    compiled step.
    """

    batch_stats: Any = None
    loss: LossSpec = flax.struct.field(pytree_node=False, default=None)


def make_model(config: VAEConfig):
    """The flax module of a learned generator (``generators.get(arch).make_model``)."""
    return generators.get(config.network.arch).make_model(config)


def make_optimizer(config: VAEConfig) -> optax.GradientTransformation:
    """Adam with the config's hyper-parameters (one shared instance per setting)."""
    return _adam(config.optim)


@functools.lru_cache(maxsize=16)
def _adam(optim: OptimConfig) -> optax.GradientTransformation:
    return optax.adam(optim.learning_rate, b1=optim.b1, b2=optim.b2, eps=optim.eps)


def create_state(config: VAEConfig, key: jax.Array) -> TrainState:
    """Fresh parameters (from ``key``), Adam state, zeroed batch statistics, step 0."""
    model = make_model(config)
    variables = networks.init_variables(model, key, config.batch_size)
    state = TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        tx=make_optimizer(config),
        batch_stats=variables.get("batch_stats", {}),
        loss=loss_spec(config),
    )
    # An int32 array, not the Python int 0: the first step must not trace a second variant.
    return state.replace(step=jnp.zeros((), jnp.int32))


def _weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    # [B], [B] -> []; mean over the rows with weight > 0.
    return jnp.sum(weight * values) / jnp.maximum(jnp.sum(weight), 1.0)


def gradients(state: TrainState, batch: dict, key: jax.Array) -> tuple:
    """The gradient of the weighted loss (``objectives.terms``: the ELBO by default).

    Args:
      state: current state.
      batch: {'x': [B, T] clips in [-1, 1], 'weight': [B] 1.0 real / 0.0 padding}.
      key: the run's loop key; the step's key is fold_in(key, state.step).

    Returns:
      (grads like state.params, (metrics, new batch_stats)); metrics {'loss', 'recon', 'kl',
      'elbo'}, per-sound means (nats) over the real rows.
    """
    cfg = state.loss
    step_key = jax.random.fold_in(key, state.step)
    x, weight = batch["x"], batch["weight"]

    def loss_fn(params):
        variables = {"params": params, "batch_stats": state.batch_stats}
        (out, z, mean, logvar), updates = state.apply_fn(
            variables, x, step_key, train=True, mask=weight > 0, mutable=["batch_stats"]
        )
        terms = objectives.terms(cfg, out, x, z, mean, logvar, state.step)
        metrics = {k: _weighted_mean(v, weight) for k, v in terms.items()}
        return metrics["loss"], (metrics, updates.get("batch_stats", state.batch_stats))

    return jax.grad(loss_fn, has_aux=True)(state.params)


@jax.jit
def train_step(state: TrainState, batch: dict, key: jax.Array) -> tuple[TrainState, dict]:
    """One Adam step on ``gradients(state, batch, key)``.

    Returns:
      (new state, {'loss', 'recon', 'kl', 'elbo', 'grad_norm'}), per-sound means (nats)
      over the real rows.
    """
    grads, (metrics, batch_stats) = gradients(state, batch, key)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), metrics


@jax.jit
def eval_step(state: TrainState, batch: dict, key: jax.Array) -> dict:
    """Per-sound ELBO terms with batch-norm running averages (no state change).

    batch: {'x': [B, T], ...}; key: draws z ~ q(z|x) (and the MC KL).
    Returns {'recon', 'kl', 'loss', 'elbo'}, each [B] nats.
    """
    cfg = state.loss
    x = batch["x"]
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    out, z, mean, logvar = state.apply_fn(variables, x, key, train=False)
    return objectives.terms(cfg, out, x, z, mean, logvar, state.step)


def evaluate(state: TrainState, x: np.ndarray, key: jax.Array, batch_size: int) -> dict:
    """Mean per-sound ELBO terms over clips x [N, T] (batches of batch_size, padded)."""
    idx, weight = training.masked_batches(np.arange(x.shape[0]), batch_size)
    totals = collections.defaultdict(float)
    for b, (rows, w) in enumerate(zip(idx, weight)):
        terms = jax.device_get(eval_step(state, {"x": x[rows]}, jax.random.fold_in(key, b)))
        for name, values in terms.items():
            totals[name] += float(np.sum(w * values))
    return {name: total / x.shape[0] for name, total in totals.items()}


def _train_epoch(state: TrainState, x: np.ndarray, order: np.ndarray, batch_size: int, key):
    """One epoch of steps over x[order] (masked fixed-size batches). Returns (state, sums of
    each metric weighted by the real rows); raises at once on a non-finite loss."""
    idx, weight = training.masked_batches(order, batch_size)
    sums = collections.defaultdict(float)
    for rows, w in zip(idx, weight):
        state, metrics = train_step(state, {"x": x[rows], "weight": w}, key)
        metrics = jax.device_get(metrics)
        if not np.isfinite(metrics["loss"]):
            step = int(state.step)
            raise FloatingPointError(f"non-finite loss at step {step} of the run: {metrics}")
        for name, value in metrics.items():
            sums[name] += float(value) * float(w.sum())
    return state, sums


def _epoch_record(epoch: int, step: int, sums: dict, n: int, terms: dict, seconds: float):
    """The history record of an epoch: train means per sound (sums over n sounds), the test
    set's terms (empty: none) and throughput."""
    return training.EpochRecord(
        epoch=epoch,
        step=step,
        train_loss=sums["loss"] / n,
        train_recon=sums["recon"] / n,
        train_kl=sums["kl"] / n,
        train_elbo=sums["elbo"] / n,
        eval_elbo=terms.get("elbo"),
        eval_recon=terms.get("recon"),
        eval_kl=terms.get("kl"),
        train_seconds=seconds,
        train_examples_per_s=n / seconds,
    )


def train_class_vae(
    waveforms_train: np.ndarray,
    waveforms_test: Optional[np.ndarray],
    config: VAEConfig,
    key: jax.Array,
    workdir: Optional[str] = None,
    resume: bool = False,
    on_epoch: Optional[Callable[[list], None]] = None,
) -> tuple[TrainState, list]:
    """Trains one class VAE.

    Args:
      waveforms_train: [N, T] float32 clips in [-1, 1] (T = config.network.input_length).
      waveforms_test: [M, T] clips for the per-epoch test-set ELBO, or None.
      config: the VAE and its training.
      key: the only source of randomness (init, steps, shuffling, evaluation).
      workdir: if given, a checkpoint (params, Adam state, batch stats, step, epoch,
        loop key, history) is written there atomically after each epoch, with
        ``metrics.jsonl`` (one JSON object per epoch).
      resume: continue from ``workdir``'s checkpoint if there is one (the config may
        differ only in epochs and synthesis fields; the key must be the same).
      on_epoch: called with the history so far after each epoch.

    Returns:
      (final state, history): one ``training.EpochRecord`` per epoch with 'epoch', 'step',
      'train_loss', 'train_recon', 'train_kl', 'train_elbo' (means per sound over the
      epoch's steps), 'eval_elbo',
      'eval_recon', 'eval_kl' (test set, if given), 'train_seconds' and
      'train_examples_per_s' (this epoch's steps, including any compilation).

    Raises:
      FloatingPointError: as soon as a step's loss is not finite.
    """
    x_train = check_clips(waveforms_train, config, "waveforms_train")
    x_test = (
        None if waveforms_test is None else check_clips(waveforms_test, config, "waveforms_test")
    )
    init_key, loop_key, shuffle_key, eval_key = jax.random.split(key, 4)
    state = create_state(config, init_key)
    start_epoch, history = 0, []
    ckpt = None if workdir is None else os.path.join(workdir, CHECKPOINT)
    if resume and ckpt is not None and os.path.exists(ckpt):
        state, start_epoch, history = checkpoints.load_checkpoint(ckpt, state, config, loop_key)
        logging.info("resumed %s at epoch %d (step %d)", ckpt, start_epoch, int(state.step))
    n = x_train.shape[0]
    for epoch in range(start_epoch, config.epochs):
        order = training.epoch_order(shuffle_key, epoch, n)
        start = time.perf_counter()
        state, sums = _train_epoch(state, x_train, order, config.batch_size, loop_key)
        seconds = time.perf_counter() - start
        terms = {}
        if x_test is not None:
            terms = evaluate(state, x_test, jax.random.fold_in(eval_key, epoch), config.batch_size)
        record = _epoch_record(epoch + 1, int(state.step), sums, n, terms, seconds)
        history.append(record)
        logging.info(
            "epoch %d/%d step %d: train loss %.2f (recon %.2f, kl %.3f)%s, %.0f ex/s",
            epoch + 1,
            config.epochs,
            record.step,
            record.train_loss,
            record.train_recon,
            record.train_kl,
            f", test ELBO {record.eval_elbo:.2f}" if x_test is not None else "",
            record.train_examples_per_s,
        )
        if workdir is not None:
            checkpoints.save_checkpoint(ckpt, state, config, epoch + 1, loop_key, history)
            files.atomic_write_text(
                os.path.join(workdir, "metrics.jsonl"),
                "".join(json.dumps(r.to_json()) + "\n" for r in history),
            )
        if on_epoch is not None:
            on_epoch(history)
    return state, history
