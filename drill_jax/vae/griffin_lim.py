"""The least-squares inverse of the complex STFT (``spectral_loss.stft``) and (fast)
Griffin-Lim phase recovery in JAX.

The framing is ``spectral_loss``'s (periodic Hann window, n_fft / 2 zeros padded at both
ends), so a magnitude made here is the one the multi-resolution STFT loss compares.

Griffin-Lim (Griffin & Lim 1984) finds a signal whose STFT magnitude is close to a given
one by alternating projections: keep the phase of STFT(ISTFT(S)), replace its magnitude.
The fast variant (Perraudin, Balazs & Sondergaard 2013, librosa's ``momentum``) adds an
inertia term that converges in a few dozen iterations instead of hundreds. It starts from
random phases, each frame's minimum phase, or the phases Phase Gradient Heap Integration
reads off the magnitude (``pghi``; "PGHI + fGLA" when iterations follow).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import pghi, spectral_loss

_TINY = 1e-12
INITS = ("random", "min_phase", "pghi")  # Griffin-Lim's initial phases (``griffin_lim``)


@dataclasses.dataclass(frozen=True)
class Spectrogram:
    """A log-magnitude STFT and its way back to sound, shared by the STFT generators.

    Attributes:
      n_fft: STFT window and FFT size (samples).
      hop: STFT hop (samples).
      floor: log(|STFT| + floor) keeps silence finite (waveform units times window sums).
      gl_iterations: Griffin-Lim iterations of the way back (0: the initial phases alone).
      gl_momentum: fast Griffin-Lim's inertia (0 = the classic algorithm).
      gl_init: Griffin-Lim's initial phases: 'random' (uniform), 'min_phase' (each frame's
        minimum-phase spectrum: an impulse followed by its decay) or 'pghi' (Phase Gradient
        Heap Integration of the magnitude, ``pghi``).
      pghi_tol: PGHI's relative tolerance: coefficients below it times the largest of their
        STFT take random phases.
    """

    n_fft: int = 256
    hop: int = 32
    floor: float = 1e-5
    gl_iterations: int = 64
    gl_momentum: float = 0.99
    gl_init: str = "random"
    pghi_tol: float = 1e-5

    def __post_init__(self):
        if self.gl_init not in INITS:
            raise ValueError(f"gl_init must be one of {INITS}, got {self.gl_init!r}")
        if min(self.n_fft, self.hop) < 1 or self.hop > self.n_fft or self.gl_iterations < 0:
            raise ValueError(
                f"need n_fft >= hop >= 1 and gl_iterations >= 0, got {self.n_fft}, "
                f"{self.hop}, {self.gl_iterations}"
            )
        if not self.floor > 0 or not 0 <= self.gl_momentum < 1 or not 0 < self.pghi_tol < 1:
            raise ValueError(
                f"need floor > 0, 0 <= gl_momentum < 1 and 0 < pghi_tol < 1, got "
                f"{self.floor}, {self.gl_momentum}, {self.pghi_tol}"
            )


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


def min_phase(magnitude: jax.Array, n_fft: int) -> jax.Array:
    """Unit phasors [..., K] of the minimum-phase spectrum with magnitude [..., K]
    (K = n_fft // 2 + 1): the phase is the Hilbert transform of the log magnitude, computed
    by folding the real cepstrum onto positive quefrencies."""
    cepstrum = jnp.fft.irfft(jnp.log(jnp.maximum(magnitude, _TINY)), n=n_fft, axis=-1)
    fold = jnp.zeros(n_fft).at[0].set(1.0).at[1 : (n_fft + 1) // 2].set(2.0)
    if n_fft % 2 == 0:
        fold = fold.at[n_fft // 2].set(1.0)
    fold = fold.reshape((1,) * (cepstrum.ndim - 1) + (n_fft,))
    return jnp.exp(1j * jnp.imag(jnp.fft.rfft(cepstrum * fold, axis=-1)))


def initial_phasors(magnitude: jax.Array, spec: Spectrogram, key: jax.Array) -> jax.Array:
    """Griffin-Lim's starting unit phasors [B, F, K] for magnitudes [B, F, K] by
    ``spec.gl_init``: uniformly random ones from ``key`` (same key, same phases), each
    frame's ``min_phase`` (key unused), or ``pghi.phasors`` (key: the random phases of the
    coefficients below ``spec.pghi_tol``)."""
    if spec.gl_init == "min_phase":
        return min_phase(magnitude, spec.n_fft)
    noise = 2.0 * jnp.pi * jax.random.uniform(key, magnitude.shape)
    if spec.gl_init == "random":
        return jnp.exp(1j * noise)
    phasors = pghi.phasors(np.asarray(magnitude), spec.n_fft, spec.hop, spec.pghi_tol, noise)
    return jnp.asarray(phasors, jnp.complex64)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _refine(magnitude: jax.Array, angles: jax.Array, spec: Spectrogram, length: int):
    """``spec.gl_iterations`` fast Griffin-Lim iterations from unit phasors ``angles``
    [B, F, K] -> the signal [B, length]."""
    n_fft, hop = spec.n_fft, spec.hop
    coef = spec.gl_momentum / (1.0 + spec.gl_momentum)

    def body(_, carry):
        angles, previous = carry
        rebuilt = spectral_loss.stft(istft(magnitude * angles, n_fft, hop, length), n_fft, hop)
        step = rebuilt - coef * previous
        return step / (jnp.abs(step) + _TINY), rebuilt

    carry = (angles, jnp.zeros_like(angles))
    angles, _ = jax.lax.fori_loop(0, spec.gl_iterations, body, carry)
    return istft(magnitude * angles, n_fft, hop, length)


def griffin_lim(
    magnitude: jax.Array, spec: Spectrogram, length: int, key: jax.Array
) -> jax.Array:
    """A signal [B, length] whose ``stft`` magnitude approximates ``magnitude``
    [B, F, n_fft // 2 + 1] of ``spec``'s STFT: ``spec.gl_iterations`` iterations of fast
    Griffin-Lim with momentum ``spec.gl_momentum`` (0: the classic algorithm) from
    ``initial_phasors`` (``key``: same key, same signal)."""
    magnitude = jnp.asarray(magnitude, jnp.float32)
    return _refine(magnitude, initial_phasors(magnitude, spec, key), spec, length)


def spectral_convergence(y: jax.Array, magnitude: jax.Array, n_fft: int, hop: int) -> jax.Array:
    """||abs(stft(y)) - magnitude||_F / ||magnitude||_F per signal: how well y [B, T] has
    the target magnitude [B, F, K] (0 = exactly). -> [B]."""
    spectrum = spectral_loss.stft_magnitude(y, n_fft, hop)
    return spectral_loss.spectral_convergence(spectrum, magnitude)


@functools.partial(jax.jit, static_argnums=1)
def log_magnitude(x: jax.Array, spec: Spectrogram) -> jax.Array:
    """log(|stft(x)| + floor) of clips x [B, T] -> [B, F, n_fft // 2 + 1] (natural log of
    waveform units times window sums; ``floor`` in the same units keeps silence finite)."""
    return jnp.log(spectral_loss.stft_magnitude(x, spec.n_fft, spec.hop) + spec.floor)


def from_log_magnitude(
    log_mag: jax.Array, spec: Spectrogram, length: int, key: jax.Array
) -> jax.Array:
    """Sounds [B, length] in [-1, 1] with the magnitude exp(log_mag) - floor (clamped at 0)
    of ``log_magnitude`` [B, F, K], phases by ``griffin_lim`` with ``spec``'s settings."""
    magnitude = jnp.maximum(jnp.exp(log_mag) - spec.floor, 0.0)
    return jnp.clip(griffin_lim(magnitude, spec, length, key), -1.0, 1.0)
