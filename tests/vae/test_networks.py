"""Tests for drill_jax.vae.networks: shapes (exactly 1999 samples), output range, layouts,
batch norm."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax.vae import losses, networks

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

# Every field of networks.VAE is required (the defaults live in configs.NetworkConfig).
TINY = dict(
    latent_dim=2,
    arch="conv",
    input_length=1999,
    enc_features=(4, 4, 4, 8),
    dec_features=(8, 4, 4, 4),
    enc_strides=(4, 4, 4, 4),
    dec_strides=(4, 4, 4, 4),
    kernel_size=4,
    block_kernel_size=3,
    negative_slope=0.4,
    bn_momentum=0.9,
)


def _vae(**fields) -> networks.VAE:
    return networks.VAE(**{**TINY, **fields})


def _clips(n, t, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(np.tanh(rng.normal(scale=0.3, size=(n, t))), jnp.float32)


@pytest.fixture(scope="module")
def conv_model():
    model = _vae(latent_dim=3)
    x = _clips(4, 1999)
    variables = networks.init_variables(model, jax.random.key(0), x.shape[0])
    return model, variables, x


def test_conv_output_is_exactly_1999_samples_in_range(conv_model):
    model, variables, x = conv_model
    logits, z, mean, logvar = jax.jit(model.apply)(variables, x, jax.random.key(2))
    assert logits.shape == (4, 1999)
    assert z.shape == mean.shape == logvar.shape == (4, 3)
    wave = np.asarray(losses.logits_to_waveform(logits))
    assert np.all(np.isfinite(wave)) and wave.min() >= -1.0 and wave.max() <= 1.0
    # Saturated logits still map into [-1, 1].
    assert np.all(np.abs(np.asarray(losses.logits_to_waveform(1e3 * logits))) <= 1.0)


def test_conv_really_convolves_over_time(conv_model):
    _, variables, _ = conv_model
    params = variables["params"]
    assert params["encoder"]["down0"]["kernel"].shape == (4, 1, 4)  # (k, C_in = 1, width)
    assert params["decoder"]["up3"]["kernel"].shape == (4, 4, 1)  # last layer -> 1 channel
    # Decoder starts at ceil(1999 / 4^4) = 8 steps: 8 * 4^4 = 2048 is cropped to 1999.
    assert params["decoder"]["from_z"]["kernel"].shape == (3, 8 * 8)


def test_reference_layout_is_length_one_with_kernel_one():
    model = _vae(arch="reference")
    x = _clips(3, 1999)
    variables = networks.init_variables(model, jax.random.key(0), x.shape[0])
    params = variables["params"]
    assert params["encoder"]["down0"]["kernel"].shape == (1, 1999, 4)
    assert params["decoder"]["up3"]["kernel"].shape == (1, 4, 1999)
    logits, z, _, _ = jax.jit(model.apply)(variables, x, jax.random.key(2))
    assert logits.shape == (3, 1999) and z.shape == (3, 2)


def test_encode_decode_methods_agree_with_call(conv_model):
    model, variables, x = conv_model

    @jax.jit
    def both(variables, x, key):
        mean, logvar = model.apply(variables, x, method=networks.VAE.encode)
        logits, z, mean2, logvar2 = model.apply(variables, x, key)
        decoded = model.apply(variables, z, method=networks.VAE.decode)
        return mean, logvar, mean2, logvar2, logits, decoded

    mean, logvar, mean2, logvar2, logits, decoded = both(variables, x, jax.random.key(5))
    np.testing.assert_allclose(mean, mean2, rtol=1e-6)
    np.testing.assert_allclose(logvar, logvar2, rtol=1e-6)
    np.testing.assert_allclose(decoded, logits, rtol=1e-5, atol=1e-5)


def test_batch_norm_stats_are_returned_and_mask_excludes_padding():
    model = _vae(input_length=256, enc_strides=(2, 2, 2, 2), dec_strides=(2, 2, 2, 2))
    real = _clips(4, 256, seed=1)
    junk = 0.9 * jnp.sign(_clips(4, 256, seed=2))
    variables = networks.init_variables(model, jax.random.key(0), real.shape[0])
    key = jax.random.key(3)
    train_apply = jax.jit(
        lambda v, x, k, m: model.apply(v, x, k, train=True, mask=m, mutable=["batch_stats"])
    )
    mask = jnp.array([True] * 4 + [False] * 4)
    _, upd_pad = train_apply(variables, jnp.concatenate([real, junk]), key, mask)
    before = jax.tree.leaves(variables["batch_stats"])
    after_pad = jax.tree.leaves(upd_pad["batch_stats"])
    assert any(not np.allclose(a, b) for a, b in zip(before, after_pad))
    # Same shapes and key, so the real rows see the same noise: masked rows (junk or
    # copies of the real rows) must not change the batch statistics.
    _, upd_twice = train_apply(variables, jnp.concatenate([real, real]), key, mask)
    for a, b in zip(jax.tree.leaves(upd_twice["batch_stats"]), after_pad):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_other_lengths_are_cropped_exactly():
    model = _vae(input_length=1000)
    x = _clips(2, 1000)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x, jax.random.key(1))
    out = jax.eval_shape(model.apply, shapes, x, jax.random.key(2))
    assert out[0].shape == (2, 1000)


def test_bad_arguments_raise():
    x = _clips(2, 64)
    with pytest.raises(ValueError, match="arch"):
        _vae(arch="dense", input_length=64).init(
            jax.random.key(0), x, jax.random.key(1)
        )
    with pytest.raises(ValueError, match="clips"):
        _vae(input_length=100).init(jax.random.key(0), x, jax.random.key(1))


@pytest.mark.parametrize(
    "k, s, length", [(8, 4, 16), (9, 4, 7), (3, 2, 10), (8, 2, 5), (4, 4, 6), (2, 4, 6), (1, 1, 5)]
)
def test_subpixel_conv_transpose_equals_flax(k, s, length):
    """Same params, outputs and gradients as nn.ConvTranspose(..., padding='SAME')."""
    x = jax.random.normal(jax.random.key(1), (3, length, 5))
    ref = nn.ConvTranspose(4, (k,), strides=(s,), padding="SAME")
    new = networks.SubPixelConvTranspose(4, (k,), strides=(s,))
    params = ref.init(jax.random.key(0), x)
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(5), a.shape), params)
    assert jax.tree.map(jnp.shape, new.init(jax.random.key(0), x)) == jax.tree.map(
        jnp.shape, params
    )
    np.testing.assert_allclose(new.apply(params, x), ref.apply(params, x), atol=1e-5)
    grad = lambda m: jax.grad(lambda p: jnp.sum(jnp.sin(m.apply(p, x))))(params)
    for a, b in zip(jax.tree.leaves(grad(new)), jax.tree.leaves(grad(ref))):
        np.testing.assert_allclose(a, b, atol=1e-4)
