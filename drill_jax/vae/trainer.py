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
import dataclasses
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
from drill_jax.vae import (
    checkpoints,
    losses,
    networks,
    noise_shaping,
    objectives,
    recipes,
    reference_generators,
)

SYNTH_MODES = ("prior", "posterior")
PRIORS = ("standard", "aggregate")
# Learned archs, reference generators (nothing learned), and the alias of the best one.
ARCHS = networks.ARCHS + noise_shaping.ARCHS + reference_generators.ARCHS + ("realistic",)
REALISTIC = recipes.REALISTIC  # what --arch=realistic stands for (``recipes``)
CHECKPOINT = "checkpoint.msgpack"


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """One class VAE. Paper defaults (Tran et al. 2022, section IV-A) unless noted.

    Attributes:
      latent_dim: size of z (paper: 2, so the latent space is a plane).
      epochs, batch_size: paper: 20 and 8.
      learning_rate, b1, b2, eps: Adam (authors: 3e-4, 0.9, 0.999, 1e-8).
      seed: root of every random choice of a run (``train_and_synthesize``).
      arch: 'conv' (1-D convolutions over time) or 'reference' (the authors' layout).
      recon: 'bce' (Bernoulli on [0, 1]-mapped samples, paper) or 'mse' (Gaussian with
        std ``mse_sigma`` in waveform units).
      kl: 'analytic' (closed form) or 'mc' (the paper's single-sample estimate).
      input_length: samples per clip (paper: the first 1999); shorter clips are
        zero-padded.
      enc_features, dec_features: channel widths of the four stages. Default: half the
        authors' (64,128,128,256 / 512,256,128,64), which cost ~4x the CPU time per step.
      strides: the encoder's downsampling factors; the decoder uses them reversed.
      kernel_size, block_kernel_size: strided (transposed) convolution and residual-
        block kernels, 'conv' only.
      negative_slope: LeakyReLU slope (authors: 0.4).
      bn_momentum: decoder batch-norm running-average momentum.
      num_synth: sounds synthesized per class (paper: 48).
      synth_mode: 'posterior' (decode z ~ q(z|x) of source sounds, as the authors) or
        'prior' (z ~ N(0, I)).
      synth_from_test: take posterior sources from the TEST list (the authors' choice;
        it leaks test sounds into an augmented set). Default: training list only.
      prior: 'standard' (z ~ N(0, I)) or 'aggregate' (z ~ a Gaussian fitted to the
        training sounds' posterior means, plus their mean posterior variance) for
        synth_mode='prior'.
      stft_sizes, sc_weight: FFT sizes and spectral-convergence weight of recon='stft'.
      kl_weight, kl_warmup_steps, free_bits: KL weight, its linear warm-up (steps) and
        free bits (nats per latent dimension); 1, 0, 0 = the plain ELBO.
      calibrate_level: a noise-shaping generator's sounds are scaled by the median RMS
        ratio of the class's training sounds to their posterior decodings (fitted on the
        training sounds only; ``generators.level_gain``).
    """

    latent_dim: int = 2
    epochs: int = 20
    batch_size: int = 8
    learning_rate: float = 3e-4
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    seed: int = 0
    arch: str = "conv"
    recon: str = "bce"
    kl: str = "analytic"
    mse_sigma: float = 0.1
    input_length: int = 1999
    enc_features: tuple = (32, 64, 64, 128)
    dec_features: tuple = (256, 128, 64, 32)
    strides: tuple = (4, 4, 4, 4)
    kernel_size: int = 8
    block_kernel_size: int = 3
    negative_slope: float = 0.4
    bn_momentum: float = 0.9
    num_synth: int = 48
    synth_mode: str = "posterior"
    synth_from_test: bool = False
    prior: str = "standard"
    stft_sizes: tuple = (64, 128, 256, 512, 1024)
    sc_weight: float = 1.0
    kl_weight: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    calibrate_level: bool = False

    def __post_init__(self):
        if self.arch == "realistic":
            for name, value in REALISTIC.items():
                if name == "arch" or getattr(self, name) == _DEFAULTS[name]:
                    object.__setattr__(self, name, value)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.recon not in objectives.RECONS:
            raise ValueError(f"recon must be one of {objectives.RECONS}, got {self.recon!r}")
        if self.arch in noise_shaping.ARCHS and not self.recon.startswith("stft"):
            raise ValueError(
                f"arch {self.arch!r} decodes shaped noise: it needs recon='stft' or 'stft_band'"
            )
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {self.prior!r}")
        if min(self.kl_weight, self.sc_weight, self.free_bits, self.kl_warmup_steps) < 0:
            raise ValueError("kl_weight, sc_weight, free_bits, kl_warmup_steps must be >= 0")
        object.__setattr__(self, "stft_sizes", tuple(int(v) for v in self.stft_sizes))
        if self.kl not in losses.KLS:
            raise ValueError(f"kl must be one of {losses.KLS}, got {self.kl!r}")
        if self.synth_mode not in SYNTH_MODES:
            raise ValueError(f"synth_mode must be one of {SYNTH_MODES}, got {self.synth_mode!r}")
        for name in ("latent_dim", "batch_size", "input_length", "num_synth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not self.learning_rate > 0 or not self.mse_sigma > 0:
            raise ValueError("learning_rate and mse_sigma must be positive")
        for name in ("enc_features", "dec_features", "strides"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if not len(self.enc_features) == len(self.dec_features) == len(self.strides):
            raise ValueError("enc_features, dec_features and strides need one entry per stage")


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(VAEConfig)}
LossSpec = objectives.LossSpec


def loss_spec(config: VAEConfig) -> LossSpec:
    """The static loss settings of a config."""
    return LossSpec(
        config.recon,
        config.kl,
        config.mse_sigma,
        "waveform" if config.arch in noise_shaping.ARCHS else "logits",
        config.stft_sizes,
        config.sc_weight,
        config.kl_weight,
        config.kl_warmup_steps,
        config.free_bits,
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
    """The flax module a config describes (one shared instance per set of model fields)."""
    if config.arch in reference_generators.ARCHS:
        raise ValueError(f"arch {config.arch!r} is a reference generator: nothing to train")
    if config.arch in noise_shaping.ARCHS:
        return _noise_model(config.arch, config.latent_dim, config.input_length)
    return _model(
        config.latent_dim,
        config.arch,
        config.input_length,
        config.enc_features,
        config.dec_features,
        config.strides,
        config.kernel_size,
        config.block_kernel_size,
        config.negative_slope,
        config.bn_momentum,
    )


@functools.lru_cache(maxsize=None)
def _model(
    latent_dim,
    arch,
    input_length,
    enc_features,
    dec_features,
    strides,
    kernel_size,
    block_kernel_size,
    negative_slope,
    bn_momentum,
) -> networks.VAE:
    # Cached: bound methods (apply_fn) compare by instance identity.
    return networks.VAE(
        latent_dim=latent_dim,
        arch=arch,
        input_length=input_length,
        enc_features=enc_features,
        dec_features=dec_features,
        enc_strides=strides,
        dec_strides=tuple(reversed(strides)),
        kernel_size=kernel_size,
        block_kernel_size=block_kernel_size,
        negative_slope=negative_slope,
        bn_momentum=bn_momentum,
    )


@functools.lru_cache(maxsize=None)
def _noise_model(arch, latent_dim, input_length) -> noise_shaping.NoiseShapingVAE:
    return noise_shaping.NoiseShapingVAE(
        latent_dim=latent_dim, input_length=input_length, **noise_shaping.VARIANTS[arch]
    )


def make_optimizer(config: VAEConfig) -> optax.GradientTransformation:
    """Adam with the config's hyper-parameters (one shared instance per setting)."""
    return _adam(config.learning_rate, config.b1, config.b2, config.eps)


@functools.lru_cache(maxsize=None)
def _adam(learning_rate, b1, b2, eps) -> optax.GradientTransformation:
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


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


@jax.jit
def train_step(state: TrainState, batch: dict, key: jax.Array) -> tuple[TrainState, dict]:
    """One Adam step on the weighted loss (``objectives.terms``: the ELBO by default).

    Args:
      state: current state.
      batch: {'x': [B, T] clips in [-1, 1], 'weight': [B] 1.0 real / 0.0 padding}.
      key: the run's loop key; the step's key is fold_in(key, state.step).

    Returns:
      (new state, {'loss', 'recon', 'kl', 'elbo', 'grad_norm'}), per-sound means (nats)
      over the real rows.
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

    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
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


def check_clips(x, config: VAEConfig, what: str) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != config.input_length:
        raise ValueError(f"{what} must be [N >= 1, {config.input_length}], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains non-finite samples")
    return x


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
      waveforms_train: [N, T] float32 clips in [-1, 1] (T = config.input_length).
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
        idx, weight = training.masked_batches(order, config.batch_size)
        sums = collections.defaultdict(float)
        start = time.perf_counter()
        for rows, w in zip(idx, weight):
            state, metrics = train_step(state, {"x": x_train[rows], "weight": w}, loop_key)
            metrics = jax.device_get(metrics)
            if not np.isfinite(metrics["loss"]):
                raise FloatingPointError(
                    f"non-finite loss {metrics['loss']} at step {int(state.step)} "
                    f"(epoch {epoch + 1}): {metrics}"
                )
            for name, value in metrics.items():
                sums[name] += float(value) * float(w.sum())
        seconds = time.perf_counter() - start
        terms = {}
        if x_test is not None:
            terms = evaluate(state, x_test, jax.random.fold_in(eval_key, epoch), config.batch_size)
        record = training.EpochRecord(
            epoch=epoch + 1,
            step=int(state.step),
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
