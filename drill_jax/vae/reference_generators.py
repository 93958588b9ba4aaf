"""Reference generators for the realism scoreboard: nothing is learned, so they give it a
floor and a ceiling that a learned generator is measured against.

* 'interp': the smoothed log-magnitude spectra of two training sounds of a class are
  interpolated with a random weight, given random phases, and multiplied by the same
  interpolation of their amplitude envelopes; the level is the interpolated level.
* 'phase_copy': a training sound's exact magnitude spectrum with random phases (a copy in
  spectrum, new in time: an upper bound on what a spectrum-only generator can reach).
* 'shaped_noise': white noise shaped by the class's mean power spectrum (no time
  structure, no variation between sounds: a floor).

Pure functions of explicit keys; clips are [N, T] float32 waveforms. Each generator is a
module of ``drill_jax.vae.models`` (``interp``, ``phase_copy``, ``shaped_noise``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_TINY = 1e-12


def random_phases(key: jax.Array, n: int, t: int) -> jax.Array:
    """exp(i phi) [n, t // 2 + 1] with phi ~ U(0, 2 pi); the DC (and, for even t, the
    Nyquist) bin gets a random sign instead, so irfft of |X| e^{i phi} is exact."""
    k = t // 2 + 1
    phase = jnp.exp(2j * jnp.pi * jax.random.uniform(key, (n, k)))
    real_bins = [0] + ([k - 1] if t % 2 == 0 else [])
    sign = jnp.where(jnp.real(phase[:, real_bins]) >= 0, 1.0, -1.0)
    return phase.at[:, real_bins].set(sign)


def random_phase_copy(key: jax.Array, x: jax.Array) -> jax.Array:
    """Each clip with its own magnitude spectrum and random phases. [N, T] -> [N, T]."""
    n, t = x.shape
    mag = jnp.abs(jnp.fft.rfft(x, axis=-1))
    return jnp.fft.irfft(mag * random_phases(key, n, t), n=t, axis=-1)


def moving_average(v: jax.Array, width: int) -> jax.Array:
    """Centred moving average over the last axis ('same' length, edges averaged over the
    samples that exist), by cumulative sums. [..., L] -> [..., L]."""
    if width <= 1:
        return v
    n = v.shape[-1]
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) - width // 2 + width, 0, n)
    c = jnp.concatenate([jnp.zeros(v.shape[:-1] + (1,), v.dtype), jnp.cumsum(v, axis=-1)], -1)
    count = (hi - lo).astype(np.float32).reshape((1,) * (v.ndim - 1) + (n,))
    return (c[..., hi] - c[..., lo]) / count


def smoothed_log_magnitude(x: jax.Array, bins: int) -> jax.Array:
    """log of the rfft power averaged over ``bins`` neighbouring bins, halved (log
    amplitude). [N, T] -> [N, T // 2 + 1]."""
    power = jnp.square(jnp.abs(jnp.fft.rfft(x, axis=-1)))
    # (cumulative-sum differences can dip below 0 by rounding: clamp before the log)
    return 0.5 * jnp.log(jnp.maximum(moving_average(power, bins), 0.0) + _TINY)


def amplitude_envelope(x: jax.Array, samples: int) -> jax.Array:
    """sqrt of the moving mean of x^2 over ``samples`` samples. [N, T] -> [N, T]."""
    return jnp.sqrt(jnp.maximum(moving_average(jnp.square(x), samples), 0.0) + _TINY)


def _rms(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + _TINY)


def interpolate_pairs(
    key: jax.Array, xa: jax.Array, xb: jax.Array, bins: int = 8, env_samples: int = 64
) -> jax.Array:
    """Spectral-and-envelope interpolation of pairs of clips (module docstring).

    xa, xb: [N, T]; bins: spectral smoothing (rfft bins); env_samples: envelope smoothing.
    Weight w ~ U(0, 1) per pair; level = exp(w log rms_a + (1 - w) log rms_b). -> [N, T].
    """
    n, t = xa.shape
    k_w, k_phase = jax.random.split(key)
    w = jax.random.uniform(k_w, (n, 1))
    log_mag = w * smoothed_log_magnitude(xa, bins) + (1 - w) * smoothed_log_magnitude(xb, bins)
    carrier = jnp.fft.irfft(jnp.exp(log_mag) * random_phases(k_phase, n, t), n=t, axis=-1)
    env = w * amplitude_envelope(xa, env_samples) + (1 - w) * amplitude_envelope(xb, env_samples)
    y = carrier / _rms(carrier) * env / _rms(env)
    level = jnp.exp(w * jnp.log(_rms(xa)) + (1 - w) * jnp.log(_rms(xb)))
    return y / _rms(y) * level


def mean_power_spectrum(x: jax.Array) -> jax.Array:
    """The class's mean rfft power |X_k|^2 over clips. [N, T] -> [T // 2 + 1]."""
    return jnp.mean(jnp.square(jnp.abs(jnp.fft.rfft(x, axis=-1))), axis=0)


def shaped_noise(key: jax.Array, mean_power: jax.Array, n: int, t: int) -> jax.Array:
    """n clips of white noise with expected rfft power ``mean_power`` [t // 2 + 1], so their
    expected mean square equals the class's mean square (Parseval). -> [n, t]."""
    noise = jax.random.normal(key, (n, t))
    return jnp.fft.irfft(
        jnp.fft.rfft(noise, axis=-1) * jnp.sqrt(mean_power / t)[None, :], n=t, axis=-1
    )
