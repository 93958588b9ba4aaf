"""The least-squares inverse of the complex STFT (``spectral_loss.stft``) and (fast)
Griffin-Lim phase recovery in JAX.

The framing is ``spectral_loss``'s (periodic Hann window, n_fft / 2 zeros padded at both
ends), so a magnitude made here is the one the multi-resolution STFT loss compares.

Griffin-Lim (Griffin & Lim 1984) finds a signal whose STFT magnitude is close to a given
one by alternating projections: keep the phase of STFT(ISTFT(S)), replace its magnitude.
The fast variant (Perraudin, Balazs & Sondergaard 2013, librosa's ``momentum``) adds an
inertia term that converges in a few dozen iterations instead of hundreds.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from drill_jax.vae import spectral_loss

_TINY = 1e-12


def istft(spec: jax.Array, n_fft: int, hop: int, length: int) -> jax.Array:
    """The least-squares inverse of ``spectral_loss.stft`` (weighted overlap-add):
    x = sum_f w * frame_f / sum_f w^2, cropped to ``length`` samples.

    spec: [B, F, n_fft // 2 + 1] with F = the frame count of a ``length``-sample signal.
    Returns [B, length]; istft(stft(x)) == x up to rounding.
    """
    idx = spectral_loss.frame_index(length, n_fft, hop)
    if spec.shape[-2] != idx.shape[0]:
        raise ValueError(f"{spec.shape[-2]} frames do not fit a {length}-sample signal")
    window = spectral_loss.hann(n_fft)
    frames = jnp.fft.irfft(spec, n=n_fft, axis=-1) * window[None, None, :]  # [B, F, n_fft]
    padded = length + 2 * (n_fft // 2)
    num = jnp.zeros((spec.shape[0], padded), frames.dtype).at[:, idx].add(frames)
    den = jnp.zeros((padded,), frames.dtype).at[idx].add(jnp.broadcast_to(window**2, idx.shape))
    pad = n_fft // 2
    return (num / jnp.maximum(den, _TINY)[None, :])[:, pad : pad + length]


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 5))
def griffin_lim(
    magnitude: jax.Array,
    n_fft: int,
    hop: int,
    length: int,
    key: jax.Array,
    iterations: int = 64,
    momentum: float = 0.99,
) -> jax.Array:
    """A signal [B, length] whose ``stft`` magnitude approximates ``magnitude``
    [B, F, n_fft // 2 + 1], by fast Griffin-Lim from uniformly random initial phases
    (``key``; same key, same signal). momentum 0 is the classic algorithm."""
    angles = jnp.exp(2j * jnp.pi * jax.random.uniform(key, magnitude.shape))
    coef = momentum / (1.0 + momentum)

    def body(_, carry):
        angles, previous = carry
        rebuilt = spectral_loss.stft(istft(magnitude * angles, n_fft, hop, length), n_fft, hop)
        step = rebuilt - coef * previous
        return step / (jnp.abs(step) + _TINY), rebuilt

    angles, _ = jax.lax.fori_loop(0, iterations, body, (angles, jnp.zeros_like(angles)))
    return istft(magnitude * angles, n_fft, hop, length)


def spectral_convergence(y: jax.Array, magnitude: jax.Array, n_fft: int, hop: int) -> jax.Array:
    """||abs(stft(y)) - magnitude||_F / ||magnitude||_F per signal: how well y [B, T] has
    the target magnitude [B, F, K] (0 = exactly). -> [B]."""
    spectrum = spectral_loss.stft_magnitude(y, n_fft, hop)
    return spectral_loss.spectral_convergence(spectrum, magnitude)


def log_magnitude(x: jax.Array, n_fft: int, hop: int, floor: float) -> jax.Array:
    """log(|stft(x)| + floor) of clips x [B, T] -> [B, F, n_fft // 2 + 1] (natural log of
    waveform units times window sums; ``floor`` in the same units keeps silence finite)."""
    return jnp.log(spectral_loss.stft_magnitude(x, n_fft, hop) + floor)


def from_log_magnitude(
    log_mag: jax.Array, n_fft: int, hop: int, length: int, floor: float, key: jax.Array
) -> jax.Array:
    """Sounds [B, length] in [-1, 1] with the magnitude exp(log_mag) - floor (clamped at 0)
    of ``log_magnitude`` [B, F, K], phases by 64 iterations of fast ``griffin_lim``."""
    magnitude = jnp.maximum(jnp.exp(log_mag) - floor, 0.0)
    return jnp.clip(griffin_lim(magnitude, n_fft, hop, length, key), -1.0, 1.0)
