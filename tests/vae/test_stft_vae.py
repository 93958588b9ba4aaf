"""Tests for drill_jax.vae.stft_vae: the Gaussian likelihood, training, and sampling."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training
from drill_jax.vae import griffin_lim, losses, stft_vae
from tests.vae.test_fit_loop import check_resume

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

T = 400
TINY = stft_vae.Config(
    input_length=T,
    spectrogram=griffin_lim.Spectrogram(n_fft=64, hop=16),
    latent_dim=2,
    hidden=16,
    train=training.Schedule(epochs=6, batch_size=4),
)


def test_gaussian_nll_by_hand():
    u_hat, u = jnp.zeros((1, 2)), jnp.array([[1.0, -2.0]])
    log_sigma = jnp.array([0.0, math.log(2.0)])
    expected = 0.5 * 1.0 + 0.5 * 1.0 + math.log(2.0) + math.log(2 * math.pi)
    np.testing.assert_allclose(stft_vae.gaussian_nll(u_hat, log_sigma, u), [expected], rtol=1e-6)


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(0)
    t = np.arange(T)
    f = rng.uniform(0.05, 0.2, size=(8, 1))
    x = (t >= 100) * np.exp(-np.maximum(t - 100, 0) / 50.0) * np.sin(2 * np.pi * f * t)
    clips = (0.4 * x + 0.01 * rng.normal(size=(8, T))).astype(np.float32)
    return clips, [stft_vae.fit(TINY, clips, jax.random.key(3)) for _ in range(2)]


def test_training_is_deterministic_and_lowers_the_loss(runs):
    _, ((a, hist_a), (b, hist_b)) = runs
    assert [r.train_loss for r in hist_a] == [r.train_loss for r in hist_b]
    for pa, pb in zip(jax.tree.leaves(a.state.params), jax.tree.leaves(b.state.params)):
        np.testing.assert_array_equal(np.asarray(pa), np.asarray(pb))
    assert hist_a[-1].train_loss < hist_a[0].train_loss
    assert a.mean.shape == a.std.shape == (a.frames * (TINY.spectrogram.n_fft // 2 + 1),)


def test_sampling_follows_the_log_magnitude_it_decodes(runs):
    clips, ((model, _), _) = runs
    mean, logvar = stft_vae.encode(TINY, model, clips)
    assert mean.shape == logvar.shape == (8, 2)
    z = losses.reparameterize(jax.random.key(0), jnp.asarray(mean), jnp.asarray(logvar))
    z = np.asarray(z)
    a = stft_vae.decode(TINY, model, z, jax.random.key(1))
    np.testing.assert_array_equal(a, stft_vae.decode(TINY, model, z, jax.random.key(1)))
    assert a.shape == (8, T) and np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1)
    # Without the residual, the sound's log magnitude is close to the decoder's mean.
    smooth = dataclasses.replace(TINY, residual_scale=0.0)
    y = stft_vae.decode(smooth, model, z, jax.random.key(1))
    u_hat, _ = stft_vae._decode(model.state, jnp.asarray(z))
    target = np.exp(model.mean + model.std * np.asarray(u_hat)) - TINY.spectrogram.floor
    target = np.maximum(target, 0).reshape(8, model.frames, -1)
    sc = griffin_lim.spectral_convergence(jnp.asarray(y), jnp.asarray(target), 64, 16)
    assert float(np.median(sc)) < 0.35


def test_fit_rejects_bad_clips():
    with pytest.raises(ValueError, match="clips"):
        stft_vae.fit(TINY, np.zeros((4, T + 1), np.float32), jax.random.key(0))
    with pytest.raises(ValueError, match="2 training clips"):
        stft_vae.fit(TINY, np.zeros((1, T), np.float32), jax.random.key(0))


def test_resumed_training_equals_uninterrupted(runs, tmp_path):
    clips, (straight, _) = runs
    key, workdir = jax.random.key(3), str(tmp_path)
    check_resume(stft_vae.fit, TINY, clips, key, workdir, straight, {"hidden": 8})
