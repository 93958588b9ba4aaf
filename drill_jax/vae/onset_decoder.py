"""An onset-anchored VAE: the decoder predicts what a drill sound is made of, not samples.

A drill clip is triggered: quiet background, an onset (an impact: a few clicks and a damped
resonance), then its decay. The decoder turns z into explicit parameters and a waveform:

* onset t0 (samples, continuous);
* K damped sinusoids starting at t0 with a common attack a: sum_k (1 - exp(-(tau + 1) / a))
  exp(-tau / d_k) (A_k sin(2 pi f_k tau / sr) +
  B_k cos(2 pi f_k tau / sr)) for tau = t - t0 >= 0 (amplitude sqrt(A^2 + B^2), phase
  atan2(B, A), decay d_k samples); frequencies start log-spaced over ``freq_range_hz`` and
  move at most half a spacing, so the sinusoids act as a learned resonant filter bank;
* an impulse at t0 through a predicted short FIR (``fir_taps`` taps): the click;
* a noise residual (background and decay noise): white noise through a predicted fine
  filter and time-varying band gain (``noise_shaping.shape_noise``).
Sinusoids and FIR are built at tau = 0, 1, ... and delayed by t0 through a linear phase
ramp (zero-padded to 2 T, so nothing wraps): t0 is differentiable.

Encoder: log-magnitude STFT (``griffin_lim.log_magnitude``) -> MLP -> (mean, logvar).
Training renders each clip at its measured onset (``teacher_onset``; the onset head learns
from the onset term alone, so the STFT loss cannot move a sound's onset out of the clip to
avoid a phase mismatch); sampling renders at the predicted onset.
Loss per sound: multi-resolution STFT + log band power (``spectral_loss``), plus an onset
term huber((t0 - onset(x)) / onset_tolerance) against the clip's measured onset
(``onset_time``), plus kl_weight * KL. Prior samples come from the aggregate posterior of
the training clips (``latents.aggregate_prior``).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from drill_jax import training
from drill_jax.vae import fit_loop, griffin_lim, losses, noise_shaping, spectral_loss


@dataclasses.dataclass(frozen=True)
class Config(fit_loop.LoopConfig):
    """The onset-anchored VAE and its training (module docstring). Units: samples, Hz."""

    kl_weight: float = 0.01
    train: training.Schedule = training.Schedule(epochs=200, batch_size=16)
    sample_rate: int = 96000
    n_sines: int = 24
    freq_range_hz: tuple = (200.0, 30000.0)
    fir_taps: int = 64
    noise_hop: int = 64
    noise_bands: int = 16
    noise_fine: int = 64
    hidden: int = 256
    fft_sizes: tuple = (64, 128, 256, 512, 1024)
    band_bins: int = 8
    sc_weight: float = 0.0
    teacher_onset: bool = True
    onset_weight: float = 1.0
    onset_tolerance: float = 32.0

    def __post_init__(self):
        super().__post_init__()
        fit_loop.check_sizes(self, ("n_sines", "fir_taps"))
        low, high = self.freq_range_hz
        if not 0 < low < high < self.sample_rate / 2:
            raise ValueError(f"freq_range_hz must lie inside (0, sample_rate / 2), got {low, high}")
        object.__setattr__(self, "freq_range_hz", (float(low), float(high)))
        object.__setattr__(self, "fft_sizes", tuple(int(n) for n in self.fft_sizes))


def onset_time(x: np.ndarray, window: int = 128) -> np.ndarray:
    """Onset of each clip x [N, T]: the sample t that maximises the log ratio of the mean
    square over [t, t + window) to that over [t - window, t). -> [N] float32 samples."""
    x = np.asarray(x, np.float64)
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x**2, axis=-1)], axis=-1)
    t = np.arange(window, x.shape[1] - window + 1)
    after, before = c[:, t + window] - c[:, t], c[:, t] - c[:, t - window]
    floor = 1e-12 + 1e-6 * c[:, -1:] / x.shape[1]
    return (t[np.argmax(np.log(after + floor) - np.log(before + floor), axis=-1)]).astype(
        np.float32
    )


def damped_sinusoids(
    freq, decay, a_sin, a_cos, attack, length: int, sample_rate: int
) -> jax.Array:
    """sum_k (1 - exp(-(tau + 1) / attack)) exp(-tau / decay_k) (a_sin_k sin(w_k tau) + a_cos_k
    cos(w_k tau)), w_k = 2 pi freq_k / sample_rate, tau = 0 .. length - 1 samples.
    freq (Hz), decay (samples), a_sin, a_cos: [B, K] each; attack [B] samples (0 = a step)
    -> [B, length]."""
    tau = jnp.arange(length, dtype=jnp.float32)[None, None, :]
    phase = 2.0 * jnp.pi * (freq / sample_rate)[..., None] * tau
    rise = 1.0 - jnp.exp(-(tau + 1.0) / jnp.maximum(attack, 1e-3)[:, None, None])
    env = rise * jnp.exp(-tau / decay[..., None])
    wave = a_sin[..., None] * jnp.sin(phase) + a_cos[..., None] * jnp.cos(phase)
    return jnp.sum(env * wave, axis=1)


def delay(x: jax.Array, t0: jax.Array) -> jax.Array:
    """x [B, T] delayed by t0 [B] samples (fractional; band-limited: a linear phase ramp on
    the rfft of x zero-padded to 2 T, so nothing wraps around), cropped to T. -> [B, T]."""
    t = x.shape[-1]
    spec = jnp.fft.rfft(x, n=2 * t, axis=-1)
    k = jnp.arange(t + 1, dtype=jnp.float32)[None, :]
    ramp = jnp.exp(-2j * jnp.pi * k * t0[:, None] / (2 * t))
    return jnp.fft.irfft(spec * ramp, n=2 * t, axis=-1)[:, :t]


def render(params: dict, noise: jax.Array, config: Config) -> jax.Array:
    """The waveform [B, T] of explicit parameters (module docstring): params = {'onset' [B]
    samples, 'attack' [B] samples, 'freq' [B, K] Hz, 'decay' [B, K] samples, 'a_sin',
    'a_cos' [B, K], 'fir' [B, fir_taps], 'noise_fine' [B, noise_fine], 'noise_bands'
    [B, F, noise_bands] (log gains of ``noise_shaping.shape_noise``)}; noise: white noise
    [B, T]."""
    t = config.input_length
    tone = damped_sinusoids(
        params["freq"],
        params["decay"],
        params["a_sin"],
        params["a_cos"],
        params["attack"],
        t,
        config.sample_rate,
    )
    click = jnp.pad(params["fir"], ((0, 0), (0, t - params["fir"].shape[-1])))
    residual = noise_shaping.shape_noise(
        noise, params["noise_fine"], params["noise_bands"], config.noise_hop
    )
    return delay(tone + click, params["onset"]) + residual


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


class OnsetVAE(nn.Module):
    """Encoder MLP and parameter decoder (module docstring). x [B, T] -> waveform [B, T]."""

    config: Config

    def setup(self):
        c = self.config
        self.n_frames = noise_shaping.n_frames_for(c.input_length, c.noise_hop)
        self.enc_norm = nn.LayerNorm(name="enc_norm")
        self.enc1 = nn.Dense(c.hidden, name="enc1")
        self.enc2 = nn.Dense(c.hidden, name="enc2")
        self.to_stats = nn.Dense(2 * c.latent_dim, name="to_stats")
        self.dec1 = nn.Dense(c.hidden, name="dec1")
        self.dec2 = nn.Dense(c.hidden, name="dec2")
        small = nn.initializers.variance_scaling(0.01, "fan_in", "normal")
        self.to_onset = nn.Dense(2, kernel_init=small, name="to_onset")
        self.to_sines = nn.Dense(4 * c.n_sines, kernel_init=small, name="to_sines")
        self.to_fir = nn.Dense(c.fir_taps, kernel_init=small, name="to_fir")
        self.to_fine = nn.Dense(c.noise_fine, kernel_init=small, name="to_fine")
        self.to_bands = nn.Dense(
            self.n_frames * c.noise_bands,
            kernel_init=small,
            bias_init=nn.initializers.constant(-3.0),
            name="to_bands",
        )

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x [B, T] -> (mean, logvar), each [B, Z]."""
        h = griffin_lim.log_magnitude(x, griffin_lim.Spectrogram())  # [B, F, 129]
        h = nn.gelu(self.enc1(self.enc_norm(h.reshape((x.shape[0], -1)))))
        mean, logvar = jnp.split(self.to_stats(nn.gelu(self.enc2(h))), 2, axis=-1)
        return mean, jnp.clip(logvar, -12.0, 6.0)

    def parameters(self, z: jax.Array) -> dict:
        """z [B, Z] -> the parameters ``render`` takes."""
        c, b = self.config, z.shape[0]
        h = nn.gelu(self.dec2(nn.gelu(self.dec1(z))))
        timing = self.to_onset(h)
        onset = c.input_length * jax.nn.sigmoid(timing[:, 0] + _logit(0.35))
        f_raw, d_raw, a_sin, a_cos = jnp.split(self.to_sines(h), 4, axis=-1)
        centres = np.geomspace(*c.freq_range_hz, c.n_sines).astype(np.float32)
        half_step = 0.5 * np.log(c.freq_range_hz[1] / c.freq_range_hz[0]) / max(c.n_sines - 1, 1)
        bands = self.to_bands(h).reshape((b, self.n_frames, c.noise_bands))
        return {
            "onset": onset,
            "attack": 16.0 * jnp.exp(jnp.clip(timing[:, 1], -3.0, 3.0)),
            "freq": centres[None, :] * jnp.exp(half_step * jnp.tanh(f_raw)),
            "decay": 300.0 * jnp.exp(jnp.clip(d_raw, -4.0, 3.0)),
            "a_sin": 0.3 * a_sin,
            "a_cos": 0.3 * a_cos,
            "fir": 0.05 * self.to_fir(h),
            "noise_fine": jnp.clip(self.to_fine(h), -10.0, 10.0),
            "noise_bands": jnp.clip(bands, -15.0, 5.0),
        }

    def decode(
        self, z: jax.Array, key: jax.Array, onset: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """z [B, Z], noise key -> (waveform [B, T], predicted onset [B] samples); the
        waveform starts at ``onset`` [B] instead of the predicted one when it is given."""
        params = self.parameters(z)
        noise = jax.random.normal(key, (z.shape[0], self.config.input_length), jnp.float32)
        placed = params if onset is None else dict(params, onset=onset)
        return render(placed, noise, self.config), params["onset"]

    def __call__(self, x: jax.Array, key: jax.Array, onset: jax.Array | None = None):
        """x [B, T], key (, the onset to render at [B]) -> (waveform [B, T], predicted
        onset [B], z, mean, logvar [B, Z])."""
        z_key, noise_key = jax.random.split(key)
        mean, logvar = self.encode(x)
        z = losses.reparameterize(z_key, mean, logvar)
        return self.decode(z, noise_key, onset) + (z, mean, logvar)


@functools.lru_cache(maxsize=16)
def _model(config: Config) -> OnsetVAE:
    # One instance per config, so jitted functions see one static apply_fn.
    return OnsetVAE(config)


def create_state(config: Config, key: jax.Array) -> fit_loop.State:
    """Fresh parameters from ``key``, Adam state, step 0."""
    model = _model(config)
    x = jnp.zeros((1, config.input_length), jnp.float32)
    params = model.init(key, x, jax.random.key(0))["params"]
    return fit_loop.new_state(model.apply, params, config)


def loss_terms(config: Config, out, onset, x, x_onset, mean, logvar) -> dict:
    """Per-sound {'recon', 'onset', 'kl', 'loss'}, each [B] (module docstring): out, x
    [B, T]; onset, x_onset [B] samples; mean, logvar [B, Z]."""
    recon = spectral_loss.multi_resolution_stft_loss(
        out, x, config.fft_sizes, config.sc_weight, band_bins=config.band_bins
    )
    tol = config.onset_tolerance
    onset_term = optax.huber_loss(onset / tol, x_onset / tol)
    kl = losses.analytic_kl(mean, logvar)
    loss = recon + config.onset_weight * onset_term + config.kl_weight * kl
    return {"recon": recon, "onset": onset_term, "kl": kl, "loss": loss}


@jax.jit
def train_step(state: fit_loop.State, batch: dict, key: jax.Array):
    """One Adam step. batch: {'x' [B, T], 'onset' [B] (``onset_time`` of x), 'weight' [B]};
    the step's key is fold_in(key, state.step). -> (state, per-sound means of loss_terms)."""
    step_key = jax.random.fold_in(key, state.step)

    def loss_fn(params):
        forced = batch["onset"] if state.config.teacher_onset else None
        out, onset, _, mean, logvar = state.apply_fn(
            {"params": params}, batch["x"], step_key, forced
        )
        terms = loss_terms(state.config, out, onset, batch["x"], batch["onset"], mean, logvar)
        metrics = {k: fit_loop.weighted_mean(v, batch["weight"]) for k, v in terms.items()}
        return metrics["loss"], metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), metrics


def fit(
    config: Config,
    clips: np.ndarray,
    key: jax.Array,
    options: fit_loop.Options = fit_loop.Options(),
) -> tuple[fit_loop.State, list]:
    """Trains the onset VAE on one class's clips [N, T], checkpointed and resumed as
    ``options`` says (``fit_loop.run``). -> (state, history)."""
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[1] != config.input_length:
        raise ValueError(f"need clips [N, {config.input_length}], got {clips.shape}")
    init_key, run_key = jax.random.split(key)
    data = {"x": clips, "onset": onset_time(clips)}
    return fit_loop.run(train_step, create_state(config, init_key), data, run_key, options)


@jax.jit
def _encode(state, x):
    return state.apply_fn({"params": state.params}, x, method="encode")


@jax.jit
def _decode(state, z, key):
    return state.apply_fn({"params": state.params}, z, key, method="decode")[0]


def encode(state: fit_loop.State, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar) [N, Z] of clips x [N, T]."""
    return tuple(np.asarray(v) for v in _encode(state, jnp.asarray(x, jnp.float32)))


def decode(state: fit_loop.State, z: np.ndarray, key: jax.Array) -> np.ndarray:
    """Waveforms [N, T] float32 in [-1, 1] of latents z [N, Z] (noise from ``key``)."""
    out = _decode(state, jnp.asarray(z, jnp.float32), key)
    return np.clip(np.asarray(out, np.float32), -1.0, 1.0)
