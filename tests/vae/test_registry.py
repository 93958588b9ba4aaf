"""Tests for the generator registry (drill_jax.vae.generators): every registered generator
fits on tiny data, samples finite sounds of the right shape, and gives the same sounds for the
same keys; an unknown name is a one-line error listing the names."""

import dataclasses

import jax
import numpy as np
import pytest

from drill_jax import recipes
from drill_jax.vae import generators
from tests.vae.conftest import TINY, TINY_NOISE, T, _sounds

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time


# Generators whose train step the other VAE tests compile anyway: trained one epoch here. The
# other learned ones (the same trainer, another network) fit 0 epochs (initialised weights),
# which keeps their train-step compilations out of the suite.
_TRAINED = ("conv", "noise")


def _tiny(name: str):
    """The tiny config of the tests for generator ``name``."""
    base = TINY if generators.get(name).OUTPUT != "waveform" else TINY_NOISE
    network = dataclasses.replace(base.network, arch=name)
    if name == "reference":  # the authors' layout: every stage is dense over T
        network = dataclasses.replace(network, enc_features=(4,), dec_features=(4,), strides=(1,))
    return dataclasses.replace(base, network=network, epochs=int(name in _TRAINED))


@pytest.mark.parametrize("name", generators.NAMES)
def test_every_generator_fits_samples_and_is_deterministic_per_seed(name):
    config = _tiny(name)
    x = _sounds(4, 0)
    model, history = generators.fit(x, None, config, jax.random.key(0))
    assert len(history) == config.epochs
    for mode in ("posterior", "prior"):
        a, info = generators.sample(model, config, jax.random.key(1), 3, mode, x, train_sounds=x)
        b, _ = generators.sample(model, config, jax.random.key(1), 3, mode, x, train_sounds=x)
        assert a.shape == (3, T) and a.dtype == np.float32
        assert np.all(np.isfinite(a)) and np.abs(a).max() <= 1.0 and np.abs(a).max() > 0
        np.testing.assert_array_equal(a, b)
        assert info["mode"] == mode and len(info["source_index"]) == 3
    c, _ = generators.sample(model, config, jax.random.key(2), 3, "prior", x, train_sounds=x)
    assert not np.array_equal(a, c)  # another key, other sounds


def test_unknown_name_is_a_one_line_error_listing_the_names():
    expected = r"^arch: unknown generator 'dense'; one of \[.*'conv'"
    with pytest.raises(ValueError, match=expected) as e:
        generators.get("dense")
    assert "\n" not in str(e.value)


def test_every_generator_has_a_recipe():
    for name in generators.NAMES:
        assert recipes.vae(name).network.arch == name
    assert set(recipes.VAE_NAMES) == set(generators.NAMES) | {"realistic"}
