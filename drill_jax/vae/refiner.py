"""Adversarial fine-tuning of a generator's sounds: a refiner trained against a critic.

A fitted generator's draws x [T] (e.g. the log-magnitude PCA's, whose kernel draws smear
the drill sounds' transients) pass through a refiner y = x + r(x), a stack of dilated 1-D
convolutions over the waveform whose last layer starts at zero (so y = x before training).
Its receptive field (``receptive_field``: 1 + (kernel - 1) 2^layers samples, 129 by
default, 1.3 ms at 96 kHz) is far shorter than a sound: it can sharpen or soften what is in
a draw but cannot store a training sound, so it cannot make a draw a copy
(SimGAN's refiner, Shrivastava et al. 2017, on waveforms).

Training, on one class's real sounds R [N, T] and a fixed pool of draws X [M, T] (both
[-1, 1], 1999 samples for the drill sounds), alternating per step (``train_step``):

* the critic D sees log-Mel images of a sound at several windows W (``windows``, hop W / 2,
  ``n_mels`` bands over the whole band, log of power, standardised per band and window by the
  real sounds' mean and std) and gives one logit per frame (a 1-D convolution over frames,
  bands as channels), averaged per window and summed over windows; loss: the non-saturating
  GAN loss softplus(-D(real)) + softplus(D(refined)), plus ``r1_weight`` / 2 E ||grad
  D(real)||^2, the gradient with respect to the critic's input images (R1, Mescheder et al.
  2018), which keeps a critic trained on ~30 sounds from separating them by their
  particulars alone;
* the refiner: softplus(-D(y)) + ``self_weight`` L(y, x), L the multi-resolution
  log-magnitude STFT L1 (``spectral_loss``, resolutions ``windows``): the refined sound keeps
  the draw's spectrum over time wherever the critic does not object.

The critic's standardisation and its windows are the realism test's multi-frame sets
(``similarity.realism``): the refiner is fine-tuned against the kind of classifier that
tests it. Everything is keyed: the same key, the same refiner (on CPU).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from drill_jax.features import mel as mel_lib
from drill_jax.vae import spectral_loss

EPS = 1e-10  # power floor of the critic's log-Mel


@dataclasses.dataclass(frozen=True)
class RefinerConfig:
    """Refiner and critic (module docstring). Units: samples, Hz; weights dimensionless.

    Attributes:
      steps: alternating critic / refiner updates (0: no refiner, y = x).
      batch_size: real sounds and draws per step (each drawn with replacement).
      channels, layers, kernel: the refiner's width, its dilated layers (dilation 2^i) and
        their kernel size.
      critic_channels: width of the critic's convolution over frames.
      learning_rate: Adam, both networks.
      self_weight: weight of the multi-resolution log-STFT L1 between y and x.
      r1_weight: weight of the critic's R1 gradient penalty on real sounds.
      windows: the critic's log-Mel windows (hop = half) and the L1's STFT sizes.
      n_mels: the critic's Mel bands (0 .. sample_rate / 2).
      sample_rate: of the sounds.
    """

    steps: int = 300
    batch_size: int = 16
    channels: int = 16
    layers: int = 4
    kernel: int = 9
    critic_channels: int = 32
    learning_rate: float = 1e-3
    self_weight: float = 1.0
    r1_weight: float = 1.0
    windows: tuple = (128, 256, 512)
    n_mels: int = 32
    sample_rate: int = 96000

    def __post_init__(self):
        for name in ("batch_size", "channels", "layers", "kernel", "critic_channels", "n_mels"):
            if getattr(self, name) < 1:
                raise ValueError(f"refiner {name}: must be >= 1, got {getattr(self, name)}")
        if self.steps < 0:
            raise ValueError(f"refiner steps: must be >= 0, got {self.steps}")
        if not (self.learning_rate > 0 and self.self_weight >= 0 and self.r1_weight >= 0):
            raise ValueError("refiner learning_rate must be > 0, self_weight and r1_weight >= 0")
        if not self.windows or any(int(w) < 4 for w in self.windows):
            raise ValueError(f"refiner windows: need windows >= 4 samples, got {self.windows}")
        if self.sample_rate < 1:
            raise ValueError(f"refiner sample_rate: must be >= 1, got {self.sample_rate}")


def receptive_field(config: RefinerConfig) -> int:
    """Samples of input that one refined sample depends on: 1 + (kernel - 1) 2^layers (the
    dilated layers' (kernel - 1)(2^layers - 1) and the output layer's kernel - 1)."""
    return 1 + (config.kernel - 1) * 2**config.layers


class Refiner(nn.Module):
    """y = x + r(x): x [B, T] -> [B, T]; r a stack of dilated 1-D convolutions (LeakyReLU),
    its last (1-channel) layer initialised to zero."""

    channels: int
    layers: int
    kernel: int

    @nn.compact
    def __call__(self, x):
        h = x[..., None]
        for i in range(self.layers):
            h = nn.Conv(self.channels, (self.kernel,), kernel_dilation=(2**i,), padding="SAME")(h)
            h = nn.leaky_relu(h, 0.2)
        r = nn.Conv(1, (self.kernel,), padding="SAME", kernel_init=nn.initializers.zeros)(h)
        return x + r[..., 0]


class Critic(nn.Module):
    """Standardised log-Mel images {window: [B, F_w, n_mels]} -> [B] logits: per window a
    1-D convolution over frames (LeakyReLU), a per-frame logit, averaged over frames; summed
    over windows."""

    channels: int

    @nn.compact
    def __call__(self, images):
        total = 0.0
        for name in sorted(images):
            h = nn.Conv(self.channels, (3,), padding="SAME", name=f"conv_{name}")(images[name])
            h = nn.leaky_relu(h, 0.2)
            total = total + nn.Dense(1, name=f"logit_{name}")(h)[..., 0].mean(axis=-1)
        return total


def _mel_matrix(window: int, n_mels: int, sample_rate: int) -> np.ndarray:
    """[window // 2 + 1, n_mels] float32 Mel filter bank (``mel.mel_filterbank``, cached)."""
    cfg = mel_lib.MelConfig(
        sample_rate=sample_rate, win_length=window, overlap=0, n_fft=window, n_mels=n_mels
    )
    return mel_lib.mel_filterbank(cfg).astype(np.float32)


def log_mel_images(config: RefinerConfig, x: jax.Array) -> dict:
    """{window: [B, F_w, n_mels]} natural-log Mel power of sounds x [B, T] (Hann, hop W / 2,
    centred zero padding)."""
    out = {}
    for w in config.windows:
        power = jnp.square(spectral_loss.stft_magnitude(x, int(w), int(w) // 2))
        fb = _mel_matrix(int(w), config.n_mels, config.sample_rate)
        out[str(w)] = jnp.log(power @ fb + EPS)
    return out


def image_norms(config: RefinerConfig, real: np.ndarray) -> dict:
    """{window: (mean [1, 1, n_mels], std [1, 1, n_mels])} of the real sounds' log-Mel
    frames (sounds [N, T])."""
    images = log_mel_images(config, jnp.asarray(real, jnp.float32))
    return {
        k: (v.mean(axis=(0, 1), keepdims=True), v.std(axis=(0, 1), keepdims=True) + 1e-3)
        for k, v in images.items()
    }


def standardised(config: RefinerConfig, norms: dict, x: jax.Array) -> dict:
    """``log_mel_images`` of x [B, T], each standardised by ``norms``."""
    return {k: (v - norms[k][0]) / norms[k][1] for k, v in log_mel_images(config, x).items()}


def spectral_l1(config: RefinerConfig, y: jax.Array, x: jax.Array) -> jax.Array:
    """Mean over ``windows`` of the mean |log(|STFT y| + eps) - log(|STFT x| + eps)| (hop
    W / 4), y, x [B, T] -> scalar."""
    terms = []
    for w in config.windows:
        sy = spectral_loss.stft_magnitude(y, int(w), int(w) // 4)
        sx = spectral_loss.stft_magnitude(x, int(w), int(w) // 4)
        terms.append(
            jnp.mean(jnp.abs(jnp.log(sy + spectral_loss.EPS) - jnp.log(sx + spectral_loss.EPS)))
        )
    return jnp.mean(jnp.stack(terms))


class State(NamedTuple):
    """Both networks' parameters and optimiser states."""

    refiner: dict
    critic: dict
    refiner_opt: optax.OptState
    critic_opt: optax.OptState


def networks(config: RefinerConfig) -> tuple[Refiner, Critic]:
    """The two flax modules of ``config``."""
    return Refiner(config.channels, config.layers, config.kernel), Critic(config.critic_channels)


def optimizer(config: RefinerConfig) -> optax.GradientTransformation:
    """Adam at ``learning_rate`` (beta 0.5 / 0.9, as GANs usually train), both networks."""
    return optax.adam(config.learning_rate, b1=0.5, b2=0.9)


def init_state(config: RefinerConfig, length: int, norms: dict, key: jax.Array) -> State:
    """A fresh State for sounds of ``length`` samples (the refiner the identity)."""
    refiner, critic = networks(config)
    r_key, c_key = jax.random.split(key)
    x = jnp.zeros((1, length), jnp.float32)
    r_params = refiner.init(r_key, x)
    c_params = critic.init(c_key, standardised(config, norms, x))
    opt = optimizer(config)
    return State(r_params, c_params, opt.init(r_params), opt.init(c_params))


def make_train_step(config: RefinerConfig, norms: dict):
    """The jitted ``train_step(state, batch, key) -> (state, metrics)``: one critic update,
    then one refiner update (module docstring); batch {'real': [B, T], 'draws': [B, T]};
    ``key`` is unused (kept for the house signature: every random choice is in the batch)."""
    refiner, critic = networks(config)
    opt = optimizer(config)

    def logits(c_params, x):
        return critic.apply(c_params, standardised(config, norms, x))

    def critic_loss(c_params, real, fake):
        # One pass over the real images gives their logits and (R1) their input gradients.
        real_logit, pullback = jax.vjp(
            lambda im: critic.apply(c_params, im), standardised(config, norms, real)
        )
        (grad,), fake_logit = pullback(jnp.ones_like(real_logit)), logits(c_params, fake)
        r1 = sum(jnp.mean(jnp.sum(jnp.square(g), axis=(1, 2))) for g in grad.values())
        loss = jnp.mean(jax.nn.softplus(-real_logit) + jax.nn.softplus(fake_logit))
        return loss + 0.5 * config.r1_weight * r1, (real_logit, fake_logit)

    def refiner_loss(r_params, c_params, draws):
        y = refiner.apply(r_params, draws)
        adv = jnp.mean(jax.nn.softplus(-logits(c_params, y)))
        keep = spectral_l1(config, y, draws)
        return adv + config.self_weight * keep, (adv, keep)

    @jax.jit
    def train_step(state: State, batch: dict, key: jax.Array):
        del key
        fake = refiner.apply(state.refiner, batch["draws"])
        (c_loss, (rl, fl)), c_grad = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic, batch["real"], jax.lax.stop_gradient(fake)
        )
        c_upd, c_opt = opt.update(c_grad, state.critic_opt)
        critic_params = optax.apply_updates(state.critic, c_upd)
        (r_loss, (adv, keep)), r_grad = jax.value_and_grad(refiner_loss, has_aux=True)(
            state.refiner, critic_params, batch["draws"]
        )
        r_upd, r_opt = opt.update(r_grad, state.refiner_opt)
        new = State(optax.apply_updates(state.refiner, r_upd), critic_params, r_opt, c_opt)
        accuracy = 0.5 * (jnp.mean(rl > 0) + jnp.mean(fl < 0))
        return new, {
            "critic_loss": c_loss,
            "refiner_loss": r_loss,
            "adversarial": adv,
            "self": keep,
            "critic_accuracy": accuracy,
        }

    return train_step


def _check_sounds(x, what: str) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 4:
        raise ValueError(f"refiner: {what} must be [N >= 1, T >= 4] sounds, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"refiner: {what} contain non-finite samples")
    return x


def fit(config: RefinerConfig, real, draws, key: jax.Array) -> tuple[dict, list]:
    """Trains a refiner on one class's real sounds [N, T] and a pool of draws [M, T] of the
    same length. Returns (refiner parameters, history: one dict of float metrics per step).
    Each step's rows are drawn with replacement from ``fold_in(key, step)``."""
    real, draws = _check_sounds(real, "real sounds"), _check_sounds(draws, "draws")
    if real.shape[1] != draws.shape[1]:
        raise ValueError(
            f"refiner: real sounds have {real.shape[1]} samples, draws {draws.shape[1]}"
        )
    norms = image_norms(config, real)
    init_key, batch_key = jax.random.split(key)
    state = init_state(config, real.shape[1], norms, init_key)
    step = make_train_step(config, norms)
    history = []
    for i in range(config.steps):
        k_real, k_draw = jax.random.split(jax.random.fold_in(batch_key, i))
        rows_real = jax.random.randint(k_real, (config.batch_size,), 0, len(real))
        rows_draw = jax.random.randint(k_draw, (config.batch_size,), 0, len(draws))
        batch = {"real": real[np.asarray(rows_real)], "draws": draws[np.asarray(rows_draw)]}
        state, metrics = step(state, batch, k_real)
        history.append({k: float(v) for k, v in metrics.items()})
    return state.refiner, history


def refine(config: RefinerConfig, params: dict, sounds, chunk: int = 64) -> np.ndarray:
    """Refined sounds [N, T] float32, clipped to [-1, 1], of sounds [N, T]."""
    sounds = _check_sounds(sounds, "sounds")
    refiner = networks(config)[0]
    apply = jax.jit(refiner.apply)
    out = [np.asarray(apply(params, sounds[i : i + chunk])) for i in range(0, len(sounds), chunk)]
    return np.clip(np.concatenate(out), -1.0, 1.0).astype(np.float32)
