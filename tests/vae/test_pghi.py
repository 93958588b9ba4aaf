"""Tests for drill_jax.vae.pghi: phase from the magnitude alone, on known signals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from drill_jax.vae import griffin_lim, pghi, spectral_loss

N_FFT, HOP, T = 256, 32, 1999


def _damped_chirp() -> np.ndarray:
    """A decaying chirp starting at sample 480: [T] float32."""
    t = np.arange(T) / 96000.0
    x = np.exp(-np.maximum(t - 0.005, 0) / 0.004) * (t >= 0.005)
    return (x * np.sin(2 * np.pi * (1500.0 + 2e5 * t) * t)).astype(np.float32)


def _clicks() -> np.ndarray:
    """One-sample clicks every 400 samples from sample 300: [T] float32."""
    x = np.zeros(T, np.float32)
    x[300::400] = 1.0
    return x


@pytest.fixture(scope="module", name="signals")
def _signals():
    x = jnp.asarray(np.stack([_damped_chirp(), _clicks()]))
    return x, jnp.abs(spectral_loss.stft(x, N_FFT, HOP))


def _spec(iterations: int, init: str) -> griffin_lim.Spectrogram:
    return griffin_lim.Spectrogram(N_FFT, HOP, gl_iterations=iterations, gl_init=init)


def _convergence(y, mag) -> np.ndarray:
    return np.asarray(griffin_lim.spectral_convergence(y, mag, N_FFT, HOP))


def test_pghi_beats_griffin_lim_at_the_same_iterations(signals):
    _, mag = signals
    key = jax.random.key(0)
    for iterations in (0, 16):
        ours = _convergence(griffin_lim.griffin_lim(mag, _spec(iterations, "pghi"), T, key), mag)
        gl = _convergence(griffin_lim.griffin_lim(mag, _spec(iterations, "random"), T, key), mag)
        assert np.all(ours < 0.5 * gl), (iterations, ours, gl)
    assert np.all(_convergence(griffin_lim.griffin_lim(mag, _spec(0, "pghi"), T, key), mag) < 0.1)


def test_a_click_stays_a_click(signals):
    _, mag = signals
    key = jax.random.key(0)
    ours = np.asarray(griffin_lim.griffin_lim(mag, _spec(16, "pghi"), T, key))[1]
    again = np.asarray(griffin_lim.griffin_lim(mag, _spec(16, "pghi"), T, key))[1]
    np.testing.assert_array_equal(again, ours)  # same key, same sound
    gl = np.asarray(griffin_lim.griffin_lim(mag, _spec(16, "random"), T, key))[1]
    kurt = scipy.stats.kurtosis
    assert kurt(ours) > max(0.3 * kurt(_clicks()), 2 * kurt(gl))
    # the clicks come back at their places (a shift of the whole signal would keep the magnitude)
    peaks = np.sort(np.argsort(-np.abs(ours))[:5])
    np.testing.assert_allclose(peaks, np.arange(300, T, 400), atol=2)


def test_gradients_of_an_impulse_and_a_tone():
    # An impulse at the centre of frame n has no time gradient beyond the bin's own advance
    # and a frequency gradient that grows with its distance from the frame's centre.
    x = np.zeros((1, T), np.float32)
    x[0, 31 * HOP] = 1.0
    mag = np.asarray(jnp.abs(spectral_loss.stft(jnp.asarray(x), N_FFT, HOP)))[0]
    tgrad, fgrad = pghi.gradients(np.log(mag + 1e-12), N_FFT, HOP)
    centre = 31  # the frame whose window is centred on the impulse
    np.testing.assert_allclose(fgrad[centre, 10:100], 0.0, atol=1e-3)
    np.testing.assert_allclose(tgrad[centre, 10:100], 2 * np.pi * HOP * np.arange(10, 100) / N_FFT)
    # one hop later the impulse sits HOP samples before the window's centre: slope 2 pi HOP / N
    np.testing.assert_allclose(fgrad[centre + 1, 10:100], 2 * np.pi * HOP / N_FFT, rtol=0.1)


def test_phases_below_the_tolerance_are_the_given_noise(signals):
    _, mag = signals
    mag = np.asarray(mag)
    noise = np.random.default_rng(0).uniform(0, 2 * np.pi, mag.shape)
    out = pghi.phasors(mag, N_FFT, HOP, 1e-3, noise)
    quiet = mag < 1e-3 * mag.max(axis=(1, 2), keepdims=True)
    assert quiet.any()
    np.testing.assert_allclose(out[quiet], np.exp(1j * noise[quiet]), atol=1e-9)
    np.testing.assert_allclose(np.abs(out), 1.0, atol=1e-9)
