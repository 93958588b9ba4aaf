"""Tests for drill_jax.vae.noise_shaping: the decoder's DSP follows the gains it is given."""

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import noise_shaping

T, HOP = 1024, 32


def test_unit_gains_give_back_the_noise():
    noise = jax.random.normal(jax.random.key(0), (2, T))
    frames = noise_shaping.n_frames_for(T, HOP)
    y = noise_shaping.shape_noise(noise, jnp.zeros((2, 7)), jnp.zeros((2, frames, 4)), HOP)
    np.testing.assert_allclose(np.asarray(y), np.asarray(noise), atol=1e-5)


def test_output_follows_a_given_envelope_in_expectation_over_keys():
    frames = noise_shaping.n_frames_for(T, HOP)
    # amplitude 0.1 over the first half of the frames, 1.0 over the second half
    env = np.where(np.arange(frames) < frames // 2, 0.1, 1.0).astype(np.float32)
    bands = jnp.broadcast_to(jnp.log(env)[None, :, None], (400, frames, 4))
    noise = jax.random.normal(jax.random.key(1), (400, T))
    y = noise_shaping.shape_noise(noise, jnp.zeros((400, 5)), bands, HOP)
    power = np.mean(np.square(np.asarray(y)), axis=0)  # [T], expectation over keys
    half = (
        HOP * (frames // 2) - HOP
    )  # sample where the gain changes (frame f starts at hop f - hop)
    quiet, loud = power[64 : half - 64].mean(), power[half + 64 : T - 64].mean()
    np.testing.assert_allclose(quiet, 0.01, rtol=0.1)
    np.testing.assert_allclose(loud, 1.0, rtol=0.1)


def test_fine_filter_shapes_the_spectrum():
    # a gain of e^1 on the upper half of the band, 1 on the lower half
    fine = jnp.concatenate([jnp.zeros(50), jnp.ones(51)])[None].repeat(200, 0)
    frames = noise_shaping.n_frames_for(T, HOP)
    noise = jax.random.normal(jax.random.key(2), (200, T))
    y = noise_shaping.shape_noise(noise, fine, jnp.zeros((200, frames, 4)), HOP)
    p = np.mean(np.abs(np.fft.rfft(np.asarray(y), axis=-1)) ** 2, axis=0)
    ratio = p[T // 2 - 100 :].mean() / p[: T // 4 - 50].mean()
    np.testing.assert_allclose(ratio, np.exp(2.0), rtol=0.15)


def test_module_shapes_and_noise_key():
    model = noise_shaping.NoiseShapingVAE(latent_dim=3, input_length=512, hop=32, hidden=16)
    x = jnp.zeros((2, 512))
    params = model.init(jax.random.key(0), x, jax.random.key(1))
    out, z, mean, logvar = model.apply(params, x, jax.random.key(2))
    assert out.shape == (2, 512) and z.shape == mean.shape == logvar.shape == (2, 3)
    z = jnp.ones((2, 3))
    a = model.apply(params, z, jax.random.key(5), method="decode")
    b = model.apply(params, z, jax.random.key(5), method="decode")
    c = model.apply(params, z, jax.random.key(6), method="decode")
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    # the initial level: log-gain -3 on unit noise
    rms = float(jnp.sqrt(jnp.mean(jnp.square(a))))
    assert 0.02 < rms < 0.1
