"""Tests for drill_jax.vae.spectral_loss: a hand-computed value and zero for identical signals."""

import jax
import numpy as np
import pytest

from drill_jax.vae import spectral_loss

# One compile per set of FFT sizes (eagerly, every operation compiles on its own).
_loss = jax.jit(
    spectral_loss.multi_resolution_stft_loss, static_argnames=("fft_sizes", "sc_weight")
)


def _hand_stft_mag(x, n, hop):
    # Loops, no shared helpers: centred zero padding, periodic Hann, |DFT| by definition.
    xp = np.concatenate([np.zeros(n // 2), x, np.zeros(n // 2)])
    win = [0.5 - 0.5 * np.cos(2 * np.pi * t / n) for t in range(n)]
    rows = []
    for start in range(0, len(xp) - n + 1, hop):
        frame = [xp[start + t] * win[t] for t in range(n)]
        rows.append(
            [
                abs(sum(frame[t] * np.exp(-2j * np.pi * k * t / n) for t in range(n)))
                for k in range(n // 2 + 1)
            ]
        )
    return np.array(rows)


def test_multi_resolution_loss_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 24))
    y = 0.5 * x + 0.1 * rng.normal(size=(1, 24))
    expected = 0.0
    for n in (8, 16):
        sx, sy = _hand_stft_mag(x[0], n, n // 4), _hand_stft_mag(y[0], n, n // 4)
        sc = np.sqrt(np.sum((sy - sx) ** 2)) / (np.sqrt(np.sum(sx**2)) + 1e-5)
        lm = np.mean(np.abs(np.log(sy + 1e-5) - np.log(sx + 1e-5)))
        expected += 0.7 * sc + lm
    expected /= 2
    got = _loss(np.float32(y), np.float32(x), fft_sizes=(8, 16), sc_weight=0.7)
    assert got.shape == (1,)
    np.testing.assert_allclose(float(got[0]), expected, rtol=1e-4)


def test_zero_for_identical_signals_and_positive_otherwise():
    rng = np.random.default_rng(1)
    x = np.float32(rng.normal(size=(3, 200)))
    sizes = (16, 32, 64)
    same = _loss(x, x, fft_sizes=sizes)
    np.testing.assert_array_equal(np.asarray(same), np.zeros(3, np.float32))
    # the phase does not count: a sign flip has the same magnitudes
    np.testing.assert_allclose(np.asarray(_loss(-x, x, fft_sizes=sizes)), 0.0, atol=1e-6)
    louder = _loss(2 * x, x, fft_sizes=sizes)
    assert np.all(np.asarray(louder) > 0.5)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        spectral_loss.multi_resolution_stft_loss(np.zeros((2, 10)), np.zeros((2, 11)))


def test_band_power_term_matches_power_not_median():
    rng = np.random.default_rng(0)
    s_x = np.abs(rng.normal(size=(2, 3, 16))).astype(np.float32) + 0.1
    # twice the magnitude: 4x the power in every band -> 0.5 |log 4| = log 2
    band = jax.jit(spectral_loss.band_power_log_l1, static_argnums=2)
    np.testing.assert_allclose(np.asarray(band(2 * s_x, s_x, 4)), np.log(2.0), rtol=1e-5)
    # a peaky band (one bin holds all the power) vs a flat one of the same power: the
    # band term is 0, the per-bin log-magnitude is not
    peaky = np.zeros((1, 1, 4), np.float32) + 1e-3
    peaky[..., 0] = 2.0
    flat = np.full((1, 1, 4), np.sqrt((4.0 + 3e-6) / 4.0), np.float32)
    assert float(band(flat, peaky, 4)[0]) < 1e-5
    assert float(np.mean(np.abs(np.log(flat + 1e-5) - np.log(peaky + 1e-5)))) > 1.0
