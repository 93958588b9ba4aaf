"""A DDSP-style noise-shaping VAE: the decoder predicts how to filter white noise, not samples.

Encoder: log-magnitude STFT of the clip (frame 2 hop, hop ``hop``) -> MLP -> (mean, logvar).
Decoder: z -> MLP -> two log-amplitude heads,
  * a fine filter [n_fine] (one zero-phase magnitude response over the whole clip,
    interpolated linearly onto the clip's rfft bins): the spectral envelope's detail;
  * a time-varying band gain [n_frames, n_bands] (bands interpolated linearly onto the
    STFT bins): the bursts and how their spectrum changes over time.
White noise (from an explicit key) is filtered by the fine filter (FFT over the whole clip),
then its STFT (sqrt-Hann analysis and synthesis, 50 % overlap: perfect reconstruction when
the gains are 1) is multiplied by the band gains and overlap-added back.

The phase is never predicted (it is the noise's), which is why such a decoder, trained with
a spectral loss, does not collapse to the near-silent mean a per-sample likelihood rewards.
Only ``NoiseShapingVAE`` is a Flax module; the DSP is in pure functions.
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import losses

# Designs (arch name -> NoiseShapingVAE fields); each is a --arch of trainer.VAEConfig.
VARIANTS = {
    "noise": {},  # first pass: 33 frames (hop 64) x 16 bands
    "noise_hop32": {"hop": 32},  # a finer time-varying gain: 64 frames
    "noise_hop16": {"hop": 16},  # finer still: 127 frames of 32 samples
    "noise_burst": {"hop": 32, "n_bursts": 4},  # + decaying noise bursts (transients)
    # hop 32 x 16 bands, after a coarser time-varying gain (hop 128: 17 frames x 64 bands of
    # ~750 Hz), so the low frequencies get their own envelope over time
    "noise_multi": {"hop": 32, "coarse_hop": 128, "coarse_bands": 64},
}
ARCHS = tuple(VARIANTS)
_LOG_FLOOR = 1e-4


def n_frames_for(length: int, hop: int) -> int:
    """Frames covering a [length] clip with frame 2 hop, hop ``hop`` and ``hop`` samples of
    padding at the start: length // hop + 2."""
    return length // hop + 2


def _sqrt_hann(n: int) -> np.ndarray:
    # Periodic Hann's square root: analysis x synthesis windows sum to 1 at hop n / 2.
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def _frames(length: int, hop: int) -> tuple[np.ndarray, int]:
    n = n_frames_for(length, hop)
    idx = hop * np.arange(n)[:, None] + np.arange(2 * hop)[None, :]  # [F, 2 hop]
    padded = hop * (n - 1) + 2 * hop
    return idx, padded


def log_magnitude_frames(x: jax.Array, hop: int) -> jax.Array:
    """log(|STFT| + 1e-4) of x [B, T] (sqrt-Hann frames of 2 hop) -> [B, F, hop + 1]."""
    idx, padded = _frames(x.shape[-1], hop)
    xp = jnp.pad(x, ((0, 0), (hop, padded - hop - x.shape[-1])))
    spec = jnp.fft.rfft(xp[:, idx] * _sqrt_hann(2 * hop)[None, None, :], axis=-1)
    return jnp.log(jnp.abs(spec) + _LOG_FLOOR)


def interpolate_last(values: jax.Array, size: int) -> jax.Array:
    """Linear interpolation of [..., n] control points (evenly spaced, ends included) onto
    ``size`` evenly spaced points: [..., n] -> [..., size]."""
    n = values.shape[-1]
    if n == 1:
        return jnp.repeat(values, size, axis=-1)
    pos = np.linspace(0.0, n - 1.0, size)
    lo = np.clip(np.floor(pos).astype(np.int32), 0, n - 2)
    frac = (pos - lo).astype(np.float32).reshape((1,) * (values.ndim - 1) + (size,))
    return values[..., lo] * (1.0 - frac) + values[..., lo + 1] * frac


def shape_noise(
    noise: jax.Array, fine_log_gain: jax.Array, band_log_gain: jax.Array, hop: int
) -> jax.Array:
    """Filters white noise with a fine filter, then a time-varying band gain.

    Args:
      noise: [B, T] (e.g. standard normal).
      fine_log_gain: [B, n_fine] natural-log amplitude gains, evenly spaced from 0 Hz to
        Nyquist (interpolated onto the T // 2 + 1 rfft bins; zero phase).
      band_log_gain: [B, F, n_bands] log gains per frame (F = ``n_frames_for(T, hop)``)
        and band (interpolated onto the hop + 1 STFT bins).
      hop: STFT hop (frame = 2 hop).

    Returns [B, T]. With both gains 0 it returns ``noise`` (up to float rounding); with a
    band gain constant over bands, frame f's samples are scaled by about exp(gain[f]).
    """
    t = noise.shape[-1]
    fine = jnp.exp(interpolate_last(fine_log_gain, t // 2 + 1))
    y = jnp.fft.irfft(jnp.fft.rfft(noise, axis=-1) * fine, n=t, axis=-1)
    return band_filter(y, band_log_gain, hop)


def band_filter(y: jax.Array, band_log_gain: jax.Array, hop: int) -> jax.Array:
    """y [B, T] through a time-varying band gain [B, F, n_bands] (F = ``n_frames_for(T,
    hop)``; bands interpolated onto the hop + 1 STFT bins; sqrt-Hann frames of 2 hop, 50 %
    overlap, so all-zero log gains give y back). -> [B, T]."""
    b, t = y.shape
    idx, padded = _frames(t, hop)
    if band_log_gain.shape[1] != idx.shape[0]:
        raise ValueError(f"band_log_gain needs {idx.shape[0]} frames, got {band_log_gain.shape}")
    win = _sqrt_hann(2 * hop)[None, None, :]
    yp = jnp.pad(y, ((0, 0), (hop, padded - hop - t)))
    spec = jnp.fft.rfft(yp[:, idx] * win, axis=-1)  # [B, F, hop + 1]
    spec = spec * jnp.exp(interpolate_last(band_log_gain, hop + 1))
    frames = jnp.fft.irfft(spec, n=2 * hop, axis=-1) * win  # [B, F, 2 hop]
    out = jnp.zeros((b, padded), frames.dtype).at[:, idx].add(frames)
    return out[:, hop : hop + t]


def burst_envelope(
    onset: jax.Array, log_amp: jax.Array, decay: jax.Array, length: int
) -> jax.Array:
    """Sum of K decaying bursts: sum_k exp(log_amp_k) s(t - onset_k) exp(-max(t - onset_k, 0)
    / decay_k), with s a sigmoid onset 1 sample wide. onset, decay in samples; [B, K] each
    -> [B, length]."""
    t = jnp.arange(length, dtype=jnp.float32)[None, None, :]
    dt = t - onset[..., None]
    env = jax.nn.sigmoid(dt) * jnp.exp(-jnp.maximum(dt, 0.0) / decay[..., None])
    return jnp.sum(jnp.exp(log_amp)[..., None] * env, axis=1)


class NoiseShapingVAE(nn.Module):
    """VAE whose decoder shapes white noise (module docstring). x [B, T] -> waveform [B, T].

    Attributes:
      latent_dim: size of z.
      input_length: samples per clip T.
      hop: STFT hop of the encoder's input and the decoder's band gains (frame 2 hop).
      n_bands: bands of the time-varying gain.
      n_fine: control points of the fine filter.
      hidden: width of the encoder's and decoder's two hidden layers.
      init_log_gain: initial overall log-amplitude (-3: RMS ~0.05, the quiet end of the
        drill sounds), so training starts at a plausible level.
      coarse_hop, coarse_bands: a second time-varying band gain on longer frames (hop
        coarse_hop, so finer in frequency), applied before the main one (0 = none).
      n_bursts: transient component: K decaying bursts (predicted onset, amplitude and
        decay; ``burst_envelope``) multiplying a second noise, filtered by its own predicted
        n_bands spectral shape, added to the shaped noise (0 = none).
    """

    latent_dim: int = 8
    input_length: int = 1999
    hop: int = 64
    n_bands: int = 16
    n_fine: int = 1000
    hidden: int = 256
    init_log_gain: float = -3.0
    n_bursts: int = 0
    coarse_hop: int = 0
    coarse_bands: int = 64

    def setup(self):
        if self.latent_dim < 1 or self.input_length < 4 * self.hop:
            raise ValueError(
                f"need latent_dim >= 1 and input_length >= 4 hop, got {self.latent_dim}, "
                f"{self.input_length}, hop {self.hop}"
            )
        self.n_frames = n_frames_for(self.input_length, self.hop)
        self.enc1 = nn.Dense(self.hidden, name="enc1")
        self.enc2 = nn.Dense(self.hidden, name="enc2")
        self.to_stats = nn.Dense(2 * self.latent_dim, name="to_stats")
        self.dec1 = nn.Dense(self.hidden, name="dec1")
        self.dec2 = nn.Dense(self.hidden, name="dec2")
        self.to_fine = nn.Dense(
            self.n_fine, kernel_init=nn.initializers.zeros_init(), name="to_fine"
        )
        self.to_bands = nn.Dense(
            self.n_frames * self.n_bands,
            kernel_init=nn.initializers.variance_scaling(0.01, "fan_in", "normal"),
            bias_init=nn.initializers.constant(self.init_log_gain),
            name="to_bands",
        )
        if self.coarse_hop > 0:
            self.to_coarse = nn.Dense(
                n_frames_for(self.input_length, self.coarse_hop) * self.coarse_bands,
                kernel_init=nn.initializers.variance_scaling(0.01, "fan_in", "normal"),
                name="to_coarse",
            )
        if self.n_bursts > 0:
            # per burst: onset, log amplitude, log decay; then the bursts' spectral shape
            self.to_bursts = nn.Dense(
                3 * self.n_bursts + self.n_bands,
                kernel_init=nn.initializers.variance_scaling(0.01, "fan_in", "normal"),
                name="to_bursts",
            )

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x [B, T] -> (mean, logvar), each [B, Z]."""
        if x.ndim != 2 or x.shape[1] != self.input_length:
            raise ValueError(f"expected clips [B, {self.input_length}], got shape {x.shape}")
        h = (log_magnitude_frames(x, self.hop) + 4.0) / 4.0  # [B, F, hop + 1], ~unit scale
        h = h.reshape((x.shape[0], -1))
        h = nn.leaky_relu(self.enc1(h), 0.2)
        h = nn.leaky_relu(self.enc2(h), 0.2)
        mean, logvar = jnp.split(self.to_stats(h), 2, axis=-1)
        return mean, logvar

    def gains(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        """z [B, Z] -> (fine log gain [B, n_fine], band log gain [B, F, n_bands])."""
        h = nn.leaky_relu(self.dec1(z), 0.2)
        h = nn.leaky_relu(self.dec2(h), 0.2)
        bands = self.to_bands(h).reshape((z.shape[0], self.n_frames, self.n_bands))
        # Bounded log gains: a diverging step cannot overflow exp (e^5 ~ 150x, e^-15 ~ 0).
        return jnp.clip(self.to_fine(h), -10.0, 10.0), jnp.clip(bands, -15.0, 5.0)

    def bursts(self, z: jax.Array):
        """z [B, Z] -> (onset [B, K] samples, log amplitude [B, K], decay [B, K] samples,
        burst spectral log gain [B, n_bands])."""
        h = nn.leaky_relu(self.dec2(nn.leaky_relu(self.dec1(z), 0.2)), 0.2)
        out = self.to_bursts(h)
        k, t = self.n_bursts, self.input_length
        # onsets start spread over the clip; amplitudes start small (e^-5); decay ~ 64 samples
        spread = jnp.asarray(np.linspace(-2.0, 2.0, k), jnp.float32)
        onset = jax.nn.sigmoid(out[:, :k] + spread[None, :]) * t
        log_amp = jnp.clip(out[:, k : 2 * k] - 5.0, -15.0, 3.0)
        decay = 64.0 * jnp.exp(jnp.clip(out[:, 2 * k : 3 * k], -4.0, 3.0))
        return onset, log_amp, decay, jnp.clip(out[:, 3 * k :], -10.0, 10.0)

    def decode(
        self, z: jax.Array, key: jax.Array, train: bool = False, mask: Optional[jax.Array] = None
    ) -> jax.Array:
        """z [B, Z], noise key -> waveform [B, T] (train / mask unused: no batch norm)."""
        del train, mask
        fine, bands = self.gains(z)
        if self.n_bursts > 0:
            key, burst_key = jax.random.split(key)
        noise = jax.random.normal(key, (z.shape[0], self.input_length), jnp.float32)
        if self.coarse_hop > 0:
            h = nn.leaky_relu(self.dec2(nn.leaky_relu(self.dec1(z), 0.2)), 0.2)
            coarse = self.to_coarse(h).reshape((z.shape[0], -1, self.coarse_bands))
            noise = band_filter(noise, jnp.clip(coarse, -15.0, 5.0), self.coarse_hop)
        out = shape_noise(noise, fine, bands, self.hop)
        if self.n_bursts == 0:
            return out
        onset, log_amp, decay, shape = self.bursts(z)
        noise = jax.random.normal(burst_key, noise.shape, jnp.float32)
        filt = jnp.exp(interpolate_last(shape, self.input_length // 2 + 1))
        carrier = jnp.fft.irfft(jnp.fft.rfft(noise, axis=-1) * filt, n=self.input_length, axis=-1)
        return out + carrier * burst_envelope(onset, log_amp, decay, self.input_length)

    def __call__(
        self, x: jax.Array, key: jax.Array, train: bool = False, mask: Optional[jax.Array] = None
    ):
        """x [B, T], key -> (waveform [B, T], z [B, Z], mean [B, Z], logvar [B, Z])."""
        z_key, noise_key = jax.random.split(key)
        mean, logvar = self.encode(x)
        z = losses.reparameterize(z_key, mean, logvar)
        return self.decode(z, noise_key, train, mask), z, mean, logvar
