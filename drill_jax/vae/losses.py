"""VAE probabilistic pieces as pure functions: reparameterisation, reconstruction, KL, ELBO.

Waveforms live in [-1, 1]. The Bernoulli (binary cross-entropy) likelihood is defined on
x01 = (x + 1) / 2 in [0, 1]; the decoder's logits map back with x = 2 sigmoid(logits) - 1,
so decoded sounds are on the originals' scale. All per-example terms are in nats per
sound (summed over the T samples and the Z latent dimensions).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

RECONS = ("bce", "mse")
KLS = ("analytic", "mc")
_LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(key: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """z = mean + exp(logvar / 2) * eps, eps ~ N(0, I). [B, Z] -> [B, Z]."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def waveform_to_unit(x: jax.Array) -> jax.Array:
    """[-1, 1] -> [0, 1]: (x + 1) / 2. Any shape."""
    return 0.5 * (x + 1.0)


def unit_to_waveform(p: jax.Array) -> jax.Array:
    """[0, 1] -> [-1, 1]: 2 p - 1. Any shape."""
    return 2.0 * p - 1.0


def logits_to_waveform(logits: jax.Array) -> jax.Array:
    """Decoder logits -> waveform in [-1, 1]: 2 sigmoid(logits) - 1 (= tanh(logits / 2))."""
    return jnp.tanh(0.5 * logits)


def bce_reconstruction(logits: jax.Array, x: jax.Array) -> jax.Array:
    """-log p(x|z) under a Bernoulli on x01 = (x + 1) / 2, summed over samples.

    sum_t -[x01_t log s(l_t) + (1 - x01_t) log(1 - s(l_t))], s = sigmoid.
    logits, x: [B, T] (x in [-1, 1]) -> [B] nats. With soft targets the minimum is the
    targets' entropy, not 0.
    """
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, waveform_to_unit(x)), axis=-1)


def bce_floor(x: jax.Array) -> jax.Array:
    """The smallest ``bce_reconstruction`` of clips x: the soft targets' entropy.

    sum_t -[p_t log p_t + (1 - p_t) log(1 - p_t)], p = (x + 1) / 2 (0 log 0 = 0).
    x: [B, T] in [-1, 1] -> [B] nats. ~0.69 nats per sample for quiet sounds.
    """
    p = jnp.clip(waveform_to_unit(x), 0.0, 1.0)
    return jnp.sum(-(jax.scipy.special.xlogy(p, p) + jax.scipy.special.xlogy(1 - p, 1 - p)), -1)


def gaussian_reconstruction(logits: jax.Array, x: jax.Array, sigma: float) -> jax.Array:
    """-log p(x|z) under N(x_hat, sigma^2 I), x_hat = logits_to_waveform(logits).

    sum_t [0.5 ((x_t - x_hat_t) / sigma)^2 + log sigma + 0.5 log(2 pi)].
    logits, x: [B, T] -> [B] nats; sigma in waveform units (> 0).
    """
    x_hat = logits_to_waveform(logits)
    per_sample = 0.5 * jnp.square((x - x_hat) / sigma) + math.log(sigma) + 0.5 * _LOG_2PI
    return jnp.sum(per_sample, axis=-1)


def log_normal(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """log N(z; mean, diag(exp(logvar))), summed over the last axis. [B, Z] -> [B]."""
    return -0.5 * jnp.sum(_LOG_2PI + logvar + jnp.square(z - mean) * jnp.exp(-logvar), axis=-1)


def analytic_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 sum(exp(logvar) + mean^2 - 1 - logvar).

    [B, Z] -> [B] nats.
    """
    return 0.5 * jnp.sum(jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar, axis=-1)


def mc_kl(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Single-sample Monte-Carlo KL: log q(z|x) - log p(z), z ~ q(z|x), p = N(0, I).

    The paper's estimate; unbiased for analytic_kl. [B, Z] -> [B] nats.
    """
    return log_normal(z, mean, logvar) - log_normal(z, jnp.zeros_like(z), jnp.zeros_like(z))


def elbo_terms(
    logits: jax.Array,
    x: jax.Array,
    z: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    recon: str = "bce",
    kl: str = "analytic",
    mse_sigma: float = 0.1,
) -> dict:
    """Per-sound ELBO terms.

    Args:
      logits: decoder output [B, T]; x: clips [B, T] in [-1, 1].
      z, mean, logvar: the sample used for ``logits`` and the posterior, each [B, Z].
      recon: 'bce' (Bernoulli on [0, 1]-mapped samples) or 'mse' (Gaussian, std mse_sigma).
      kl: 'analytic' (closed form) or 'mc' (log q(z|x) - log p(z) at z).

    Returns:
      {'recon': [B], 'kl': [B], 'loss': [B] = recon + kl, 'elbo': [B] = -loss}, nats.
    """
    if recon not in RECONS:
        raise ValueError(f"recon must be one of {RECONS}, got {recon!r}")
    if kl not in KLS:
        raise ValueError(f"kl must be one of {KLS}, got {kl!r}")
    if not mse_sigma > 0:
        raise ValueError(f"mse_sigma must be positive, got {mse_sigma}")
    if recon == "bce":
        rec = bce_reconstruction(logits, x)
    else:
        rec = gaussian_reconstruction(logits, x, mse_sigma)
    kl_term = analytic_kl(mean, logvar) if kl == "analytic" else mc_kl(z, mean, logvar)
    loss = rec + kl_term
    return {"recon": rec, "kl": kl_term, "loss": loss, "elbo": -loss}
