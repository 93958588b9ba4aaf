"""Shared fixtures of the VAE tests: a tiny config, toy sounds, two identical runs."""

import jax
import numpy as np
import pytest

from drill_jax.vae import trainer

T = 256
TINY = trainer.VAEConfig(
    network=trainer.NetworkConfig(
        input_length=T,
        enc_features=(4, 4, 4, 8),
        dec_features=(8, 4, 4, 4),
        strides=(2, 2, 2, 2),
        kernel_size=4,
        block_kernel_size=3,
    ),
    optim=trainer.OptimConfig(learning_rate=3e-3),
    synthesis=trainer.SynthesisConfig(num_synth=3),
    batch_size=4,
    epochs=2,
)


def _sounds(n, seed):
    """Noisy decaying tones in [-1, 1], [n, T] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 96000.0
    f = rng.uniform(2000.0, 8000.0, size=(n, 1))
    x = 0.5 * np.exp(-t * 4000.0) * np.sin(2 * np.pi * f * t) + 0.02 * rng.normal(size=(n, T))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def trained():
    """Two identical runs (same key) of 6 train sounds (a padded last batch) x 2 epochs."""
    x_train, x_test = _sounds(6, 0), _sounds(3, 1)
    runs = [trainer.train_class_vae(x_train, x_test, TINY, jax.random.key(7)) for _ in range(2)]
    return x_train, x_test, runs


# The noise-shaping generator of the tests: the smallest clip its hop allows (4 hops), so
# its train step compiles quickly; shared (same static fields) by the generator and the
# protocol tests, so a full run compiles that step once.
TINY_NOISE = trainer.VAEConfig(
    network=trainer.NetworkConfig(arch="noise", input_length=256, latent_dim=2),
    optim=trainer.OptimConfig(learning_rate=1e-3),
    loss=trainer.LossConfig(
        recon="stft", stft_sizes=(32, 64), kl_weight=0.1, kl_warmup_steps=3, free_bits=0.05
    ),
    synthesis=trainer.SynthesisConfig(num_synth=3),
    batch_size=4,
    epochs=2,
)
