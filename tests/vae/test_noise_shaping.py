"""Tests for drill_jax.vae.noise_shaping: the decoder's DSP follows the gains it is given."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax.vae import noise_shaping

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

T, HOP, B, N_FINE, N_BANDS = 512, 32, 256, 101, 4
FRAMES = noise_shaping.n_frames_for(T, HOP)
# One compile for every DSP test (same shapes), not one per operation.
_shape_noise = jax.jit(noise_shaping.shape_noise, static_argnums=3)


def _noise(seed):
    return jax.random.normal(jax.random.key(seed), (B, T))


def test_unit_gains_give_back_the_noise():
    noise = _noise(0)
    y = _shape_noise(noise, jnp.zeros((B, N_FINE)), jnp.zeros((B, FRAMES, N_BANDS)), HOP)
    np.testing.assert_allclose(np.asarray(y), np.asarray(noise), atol=1e-5)


def test_output_follows_a_given_envelope_in_expectation_over_keys():
    # amplitude 0.1 over the first half of the frames, 1.0 over the second half
    env = np.where(np.arange(FRAMES) < FRAMES // 2, 0.1, 1.0).astype(np.float32)
    bands = jnp.broadcast_to(jnp.log(env)[None, :, None], (B, FRAMES, N_BANDS))
    y = _shape_noise(_noise(1), jnp.zeros((B, N_FINE)), bands, HOP)
    power = np.mean(np.square(np.asarray(y)), axis=0)  # [T], expectation over keys
    half = (
        HOP * (FRAMES // 2) - HOP
    )  # sample where the gain changes (frame f starts at hop f - hop)
    quiet, loud = power[64 : half - 64].mean(), power[half + 64 : T - 64].mean()
    np.testing.assert_allclose(quiet, 0.01, rtol=0.1)
    np.testing.assert_allclose(loud, 1.0, rtol=0.1)


def test_fine_filter_shapes_the_spectrum():
    # a gain of e^1 on the upper half of the band, 1 on the lower half
    fine = jnp.concatenate([jnp.zeros(50), jnp.ones(51)])[None].repeat(B, 0)
    y = _shape_noise(_noise(2), fine, jnp.zeros((B, FRAMES, N_BANDS)), HOP)
    p = np.mean(np.abs(np.fft.rfft(np.asarray(y), axis=-1)) ** 2, axis=0)
    ratio = p[T // 2 - 100 :].mean() / p[: T // 4 - 50].mean()  # bins 156-256 / 0-77
    np.testing.assert_allclose(ratio, np.exp(2.0), rtol=0.15)


def test_burst_envelope_rises_at_the_onset_and_decays():
    onset, decay = np.array([[100.0, 300.0]]), np.array([[20.0, 50.0]])
    log_amp = np.log(np.array([[1.0, 0.5]]))
    env = np.asarray(noise_shaping.burst_envelope(onset, log_amp, decay, T))[0]
    assert env[:90].max() < 1e-3  # silence before the first onset
    np.testing.assert_allclose(env[100 + 20], np.exp(-1.0), rtol=0.01)  # one decay later
    np.testing.assert_allclose(env[300 + 50], 0.5 * np.exp(-1.0), rtol=0.02)
    assert env[110] > env[130] > env[150]


def test_module_shapes_noise_key_and_bursts():
    # with bursts and a coarse gain (the plain decoder is trained in test_generators.py)
    x = jnp.zeros((2, 256))
    model = noise_shaping.NoiseShapingVAE(
        latent_dim=3,
        input_length=256,
        hop=32,
        hidden=16,
        n_fine=16,
        n_bursts=2,
        coarse_hop=64,
        coarse_bands=8,
    )
    init = jax.jit(model.init_with_output)  # one compile: the forward pass (params from key 0)
    (out, z, mean, logvar), _ = init(jax.random.key(0), x, jax.random.key(5))
    assert out.shape == (2, 256) and z.shape == mean.shape == logvar.shape == (2, 3)
    (same, *_), _ = init(jax.random.key(0), x, jax.random.key(5))
    (other, *_), _ = init(jax.random.key(0), x, jax.random.key(6))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(same))
    assert not np.allclose(np.asarray(out), np.asarray(other))  # the noise key counts
    # the initial level: log-gain -3 on unit noise (bursts start at e^-5, ~0.007 at most)
    rms = float(jnp.sqrt(jnp.mean(jnp.square(out))))
    assert 0.02 < rms < 0.1
