"""Tests for drill_jax.vae.losses: hand-computed values, moments, MC KL convergence, gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

from drill_jax.vae import losses


def test_reparameterize_moments_for_fixed_key():
    n = 40000
    mean = jnp.broadcast_to(jnp.array([1.0, -2.0]), (n, 2))
    logvar = jnp.broadcast_to(jnp.log(jnp.array([0.25, 4.0])), (n, 2))
    z = np.asarray(jax.jit(losses.reparameterize)(jax.random.key(0), mean, logvar))
    std = np.array([0.5, 2.0])
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=4 * std.max() / math.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), std, rtol=0.02)
    assert abs(np.corrcoef(z.T)[0, 1]) < 0.02
    z_again = np.asarray(losses.reparameterize(jax.random.key(0), mean, logvar))
    np.testing.assert_array_equal(z, z_again)


def test_reparameterize_is_mean_at_tiny_variance():
    mean = jnp.array([[0.3, -0.7]])
    z = losses.reparameterize(jax.random.key(1), mean, jnp.full((1, 2), -60.0))
    np.testing.assert_allclose(z, mean, atol=1e-10)


def test_analytic_kl_hand_computed():
    mean = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    logvar = jnp.array([[0.0, math.log(2.0)], [0.0, 0.0]])
    # row 0: 0.5 * [(1 + 1 - 1 - 0) + (2 + 0 - 1 - log 2)] = 1 - 0.5 log 2; row 1: N(0, I).
    expected = [1.0 - 0.5 * math.log(2.0), 0.0]
    np.testing.assert_allclose(
        jax.jit(losses.analytic_kl)(mean, logvar), expected, rtol=1e-6, atol=1e-7
    )


def test_mc_kl_averages_to_closed_form():
    rng = np.random.default_rng(0)
    mean = jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)
    logvar = jnp.asarray(rng.normal(scale=0.5, size=(3, 2)), jnp.float32)
    keys = jax.random.split(jax.random.key(2), 20000)

    @jax.jit
    def one(key):
        z = losses.reparameterize(key, mean, logvar)
        return losses.mc_kl(z, mean, logvar)

    samples = np.asarray(jax.vmap(one)(keys))  # [K, 3]
    estimate = samples.mean(axis=0)
    stderr = samples.std(axis=0) / math.sqrt(samples.shape[0])
    closed = np.asarray(losses.analytic_kl(mean, logvar))
    assert np.all(np.abs(estimate - closed) < 4 * stderr + 1e-4), (estimate, closed, stderr)


def test_log_normal_matches_scipy():
    rng = np.random.default_rng(1)
    z, mean = rng.normal(size=(2, 4, 3))
    logvar = rng.normal(size=(4, 3))
    expected = scipy.stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(axis=-1)
    got = losses.log_normal(jnp.asarray(z), jnp.asarray(mean), jnp.asarray(logvar))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_bce_reconstruction_hand_computed():
    logits = jnp.array([[0.0, 2.0, -1.0]])
    x = jnp.array([[1.0, -1.0, 0.0]])  # -> targets 1, 0, 0.5
    s = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    expected = (
        -math.log(s(0.0))
        - math.log(1.0 - s(2.0))
        - 0.5 * math.log(s(-1.0))
        - 0.5 * math.log(1.0 - s(-1.0))
    )
    np.testing.assert_allclose(jax.jit(losses.bce_reconstruction)(logits, x), [expected], rtol=1e-6)


def test_bce_floor_is_the_minimum_of_bce():
    x = jnp.array([[-1.0, -0.5, 0.0, 0.3, 1.0]])
    p = np.clip((np.asarray(x, np.float64) + 1) / 2, 1e-7, 1 - 1e-7)
    at_targets = losses.bce_reconstruction(jnp.asarray(np.log(p / (1 - p)), jnp.float32), x)
    floor = jax.jit(losses.bce_floor)(x)
    np.testing.assert_allclose(floor, at_targets, rtol=1e-5, atol=1e-4)
    assert np.all(losses.bce_reconstruction(jnp.full((1, 5), 0.5), x) > floor)
    np.testing.assert_allclose(losses.bce_floor(jnp.zeros((1, 3))), [3 * math.log(2.0)], rtol=1e-6)


def test_gaussian_reconstruction_hand_computed():
    logits = jnp.array([[0.0, 2.0 * math.atanh(0.5)]])  # decodes to 0 and 0.5
    x = jnp.array([[0.5, 0.5]])
    sigma = 0.5
    expected = (0.5 * 1.0 + math.log(sigma) + 0.5 * math.log(2 * math.pi)) + (
        0.0 + math.log(sigma) + 0.5 * math.log(2 * math.pi)
    )
    got = jax.jit(losses.gaussian_reconstruction, static_argnums=2)(logits, x, sigma)
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


def test_waveform_mapping_round_trip_and_range():
    x = jnp.linspace(-1.0, 1.0, 11)
    np.testing.assert_allclose(losses.waveform_to_unit(x), (np.asarray(x) + 1) / 2, atol=1e-7)
    np.testing.assert_allclose(losses.unit_to_waveform(losses.waveform_to_unit(x)), x, atol=1e-7)
    logits = jnp.array([-100.0, -3.0, 0.0, 3.0, 100.0])
    w = np.asarray(losses.logits_to_waveform(logits))
    np.testing.assert_allclose(w, 2.0 * scipy.special.expit(np.asarray(logits)) - 1.0, atol=1e-6)
    assert w.min() >= -1.0 and w.max() <= 1.0


def test_elbo_terms_combines_and_validates():
    rng = np.random.default_rng(3)
    logits, x = jnp.asarray(rng.normal(size=(2, 2, 5)), jnp.float32)
    x = jnp.tanh(x)
    z, mean, logvar = jnp.asarray(rng.normal(size=(3, 2, 2)), jnp.float32)
    for recon in losses.RECONS:
        for kl in losses.KLS:
            t = losses.elbo_terms(logits, x, z, mean, logvar, recon, kl)
            np.testing.assert_allclose(t["loss"], t["recon"] + t["kl"], rtol=1e-6)
            np.testing.assert_allclose(t["elbo"], -t["loss"], rtol=1e-6)
            assert t["loss"].shape == (2,)
    mc = losses.elbo_terms(logits, x, z, mean, logvar, kl="mc")["kl"]
    np.testing.assert_allclose(mc, losses.mc_kl(z, mean, logvar), rtol=1e-6)
    with pytest.raises(ValueError, match="recon"):
        losses.elbo_terms(logits, x, z, mean, logvar, recon="l1")
    with pytest.raises(ValueError, match="kl"):
        losses.elbo_terms(logits, x, z, mean, logvar, kl="none")


@pytest.mark.parametrize("recon,kl", [("bce", "analytic"), ("mse", "mc")])
def test_gradients_finite_at_extreme_logits(recon, kl):
    logits = jnp.array([[-80.0, 0.0, 80.0]])
    x = jnp.array([[1.0, -1.0, 0.999]])
    z, mean, logvar = jnp.array([[0.5]]), jnp.array([[3.0]]), jnp.array([[-8.0]])

    def total(logits, mean, logvar):
        return jnp.sum(losses.elbo_terms(logits, x, z, mean, logvar, recon, kl)["loss"])

    grads = jax.jit(jax.grad(total, argnums=(0, 1, 2)))(logits, mean, logvar)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))
