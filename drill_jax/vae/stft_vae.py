"""A VAE on the log-magnitude STFT at a short window, with Griffin-Lim phases.

Each training clip becomes v = log(|STFT| + floor) (window ``n_fft``, hop ``hop``;
``griffin_lim.log_magnitude``), flattened and standardised per value with the training
set's mean and standard deviation (u = (v - m) / s, D = F * K values). An MLP encoder gives
q(z|u) = N(mean, diag(exp(logvar))); an MLP decoder gives the mean u_hat of a Gaussian
p(u|z) = N(u_hat, diag(sigma^2)) whose per-value log sigma [D] is learned with it (a
heteroscedastic decoder: it learns how much detail z does not explain). Loss per clip:
-log p(u|z) + kl_weight KL(q || N(0, I)), in nats.

A sound: z (posterior around a source clip, or the aggregate posterior of the training
clips for prior samples), u = u_hat + residual_scale sigma eps, v = m + s u, and
``griffin_lim.from_log_magnitude`` of v. This is the nonlinear counterpart of
``pca_reference`` (which it equals for a linear decoder and kl_weight -> 0).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import training
from drill_jax.vae import fit_loop, griffin_lim, losses


@dataclasses.dataclass(frozen=True)
class Config(fit_loop.LoopConfig):
    """The STFT VAE and its training (module docstring). Units: samples; nats."""

    spectrogram: griffin_lim.Spectrogram = griffin_lim.Spectrogram()
    hidden: int = 256
    residual_scale: float = 1.0
    train: training.Schedule = training.Schedule(epochs=300, batch_size=16)

    def __post_init__(self):
        super().__post_init__()
        fit_loop.check_sizes(self, ("hidden",))
        if self.residual_scale < 0:
            raise ValueError(f"residual_scale must be >= 0, got {self.residual_scale}")


class Model(NamedTuple):
    """A fitted STFT VAE: the training state, the standardisation mean and std [D], and
    the frame count F of a clip (D = F * (n_fft // 2 + 1))."""

    state: fit_loop.State
    mean: np.ndarray
    std: np.ndarray
    frames: int


class SpectrogramVAE(nn.Module):
    """MLP encoder and decoder over standardised log-magnitude vectors u [B, D]."""

    config: Config
    dim: int

    def setup(self):
        c = self.config
        self.enc1 = nn.Dense(c.hidden, name="enc1")
        self.to_stats = nn.Dense(2 * c.latent_dim, name="to_stats")
        self.dec1 = nn.Dense(c.hidden, name="dec1")
        self.to_mean = nn.Dense(self.dim, name="to_mean")
        self.log_sigma = self.param("log_sigma", nn.initializers.zeros_init(), (self.dim,))

    def encode(self, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        """u [B, D] -> (mean, logvar), each [B, Z]."""
        mean, logvar = jnp.split(self.to_stats(nn.gelu(self.enc1(u))), 2, axis=-1)
        return mean, jnp.clip(logvar, -12.0, 6.0)

    def decode(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        """z [B, Z] -> (u_hat [B, D], log sigma [D])."""
        return self.to_mean(nn.gelu(self.dec1(z))), jnp.clip(self.log_sigma, -5.0, 3.0)

    def __call__(self, u: jax.Array, key: jax.Array):
        """u [B, D], key -> (u_hat [B, D], log sigma [D], mean, logvar [B, Z])."""
        mean, logvar = self.encode(u)
        return self.decode(losses.reparameterize(key, mean, logvar)) + (mean, logvar)


@functools.lru_cache(maxsize=16)
def _model(config: Config, dim: int) -> SpectrogramVAE:
    # One instance per (config, D), so jitted functions see one static apply_fn.
    return SpectrogramVAE(config, dim)


def gaussian_nll(u_hat: jax.Array, log_sigma: jax.Array, u: jax.Array) -> jax.Array:
    """-log N(u; u_hat, diag(exp(2 log_sigma))) summed over values: [B, D], [D], [B, D]
    -> [B] nats."""
    z = (u - u_hat) * jnp.exp(-log_sigma)[None, :]
    return jnp.sum(0.5 * jnp.square(z) + log_sigma[None, :] + 0.5 * math.log(2 * math.pi), -1)


@jax.jit
def train_step(state: fit_loop.State, batch: dict, key: jax.Array):
    """One Adam step. batch: {'u' [B, D] standardised log magnitudes, 'weight' [B]}; the
    step's key is fold_in(key, state.step). -> (state, {'loss', 'recon', 'kl'} means)."""
    step_key = jax.random.fold_in(key, state.step)

    def loss_fn(params):
        u_hat, log_sigma, mean, logvar = state.apply_fn({"params": params}, batch["u"], step_key)
        recon = gaussian_nll(u_hat, log_sigma, batch["u"])
        kl = losses.analytic_kl(mean, logvar)
        terms = {"recon": recon, "kl": kl, "loss": recon + state.config.kl_weight * kl}
        metrics = {k: fit_loop.weighted_mean(v, batch["weight"]) for k, v in terms.items()}
        return metrics["loss"], metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), metrics


def _vectors(config: Config, clips: np.ndarray) -> np.ndarray:
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[1] != config.input_length:
        raise ValueError(f"need clips [N, {config.input_length}], got {clips.shape}")
    lm = griffin_lim.log_magnitude(jnp.asarray(clips), config.spectrogram)
    return np.asarray(lm).reshape(clips.shape[0], -1)


def fit(
    config: Config,
    clips: np.ndarray,
    key: jax.Array,
    options: fit_loop.Options = fit_loop.Options(),
) -> tuple[Model, list]:
    """Trains the STFT VAE on one class's clips [N, T] (N >= 2), checkpointed and resumed as
    ``options`` says (``fit_loop.run``). -> (model, history)."""
    v = _vectors(config, clips)
    if v.shape[0] < 2:
        raise ValueError(f"need at least 2 training clips, got {v.shape[0]}")
    mean, std = v.mean(axis=0), v.std(axis=0) + 1e-3
    init_key, run_key = jax.random.split(key)
    model = _model(config, v.shape[1])
    params = model.init(init_key, jnp.zeros((1, v.shape[1])), jax.random.key(0))["params"]
    state = fit_loop.new_state(model.apply, params, config)
    data = {"u": ((v - mean) / std).astype(np.float32)}
    state, history = fit_loop.run(train_step, state, data, run_key, options)
    return Model(state, mean, std, v.shape[1] // (config.spectrogram.n_fft // 2 + 1)), history


@jax.jit
def _encode(state, u):
    return state.apply_fn({"params": state.params}, u, method="encode")


@jax.jit
def _decode(state, z):
    return state.apply_fn({"params": state.params}, z, method="decode")


def encode(config: Config, model: Model, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar) [N, Z] of clips [N, T]."""
    u = (_vectors(config, clips) - model.mean) / model.std
    return tuple(np.asarray(a) for a in _encode(model.state, jnp.asarray(u, jnp.float32)))


def decode(config: Config, model: Model, z: np.ndarray, key: jax.Array) -> np.ndarray:
    """Sounds [N, T] float32 in [-1, 1] of latents z [N, Z] (module docstring; ``key``
    draws the residual and the initial phases)."""
    residual_key, phase_key = jax.random.split(key)
    u_hat, log_sigma = _decode(model.state, jnp.asarray(z, jnp.float32))
    eps = jax.random.normal(residual_key, u_hat.shape)
    u = u_hat + config.residual_scale * jnp.exp(log_sigma)[None, :] * eps
    mean, std = jnp.asarray(model.mean, jnp.float32), jnp.asarray(model.std, jnp.float32)
    v = mean[None, :] + std[None, :] * u
    log_mag = v.reshape((z.shape[0], model.frames, -1))
    sounds = griffin_lim.from_log_magnitude(
        log_mag, config.spectrogram, config.input_length, phase_key
    )
    return np.asarray(sounds, np.float32)
