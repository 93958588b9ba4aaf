"""Tests for drill_jax.vae.griffin_lim: exact inverse, librosa parity, phase recovery."""

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from drill_jax.vae import griffin_lim, spectral_loss

N_FFT, HOP, T = 256, 32, 1999


def _damped_chirp():
    """A decaying chirp with a click: [1, T] float32, the kind of sound the drill makes."""
    t = np.arange(T) / 96000.0
    x = np.exp(-np.maximum(t - 0.005, 0) / 0.004) * (t >= 0.005)
    x = x * np.sin(2 * np.pi * (1500.0 + 2e5 * t) * t)
    x[480] += 0.8
    return x[None, :].astype(np.float32)


def test_stft_matches_librosa():
    x = _damped_chirp()
    ours = np.asarray(spectral_loss.stft(jnp.asarray(x), N_FFT, HOP))[0]
    ref = librosa.stft(x[0], n_fft=N_FFT, hop_length=HOP, window="hann", pad_mode="constant")
    np.testing.assert_allclose(np.abs(ours), np.abs(ref.T), atol=1e-4)


@pytest.mark.parametrize("length", [T, 300])
def test_istft_inverts_stft(length):
    x = np.random.default_rng(0).normal(size=(2, length)).astype(np.float32)
    y = griffin_lim.istft(spectral_loss.stft(jnp.asarray(x), N_FFT, HOP), N_FFT, HOP, length)
    np.testing.assert_allclose(np.asarray(y), x, atol=1e-4)


def test_istft_rejects_wrong_frame_count():
    spec = spectral_loss.stft(jnp.zeros((1, T)), N_FFT, HOP)
    with pytest.raises(ValueError, match="frames"):
        griffin_lim.istft(spec, N_FFT, HOP, T + 100)


def _spec(iterations: int, init: str = "random") -> griffin_lim.Spectrogram:
    return griffin_lim.Spectrogram(N_FFT, HOP, gl_iterations=iterations, gl_init=init)


def _convergence(y, mag) -> float:
    return float(griffin_lim.spectral_convergence(y, mag, N_FFT, HOP)[0])


def test_griffin_lim_recovers_a_known_signal():
    x = jnp.asarray(_damped_chirp())
    mag = jnp.abs(spectral_loss.stft(x, N_FFT, HOP))
    key = jax.random.key(0)
    random_phase = griffin_lim.griffin_lim(mag, _spec(0), T, key)
    y = griffin_lim.griffin_lim(mag, _spec(100), T, key)
    assert _convergence(random_phase, mag) > 0.3
    assert _convergence(y, mag) < 0.1
    again = griffin_lim.griffin_lim(mag, _spec(100), T, key)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(y))


@pytest.mark.parametrize("h", [[1.0, 0.6, 0.2], [1.0, -0.5], list(0.8 ** np.arange(40))])
def test_min_phase_of_a_minimum_phase_sequence_is_its_own_phase(h):
    # Zeros inside the unit circle: minimum phase; the reversed sequence is maximum phase.
    n = 64
    spectrum = np.fft.rfft(h, n)
    phasors = np.asarray(griffin_lim.min_phase(jnp.asarray(np.abs(spectrum)), n))
    np.testing.assert_allclose(phasors, spectrum / np.abs(spectrum), atol=1e-3)
    reversed_phase = np.fft.rfft(h[::-1], n)
    assert not np.allclose(phasors, reversed_phase / np.abs(reversed_phase), atol=0.1)


def test_min_phase_start_recovers_a_known_signal_and_ignores_the_key():
    x = jnp.asarray(_damped_chirp())
    mag = jnp.abs(spectral_loss.stft(x, N_FFT, HOP))
    a = griffin_lim.griffin_lim(mag, _spec(100, "min_phase"), T, jax.random.key(0))
    b = griffin_lim.griffin_lim(mag, _spec(100, "min_phase"), T, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert _convergence(a, mag) < 0.1


@pytest.mark.parametrize(
    "field, value, message",
    [("gl_init", "zero", "gl_init"), ("pghi_tol", 0.0, "pghi_tol"), ("gl_iterations", -1, ">= 0")],
)
def test_spectrogram_rejects_bad_settings(field, value, message):
    with pytest.raises(ValueError, match=message):
        griffin_lim.Spectrogram(**{field: value})
