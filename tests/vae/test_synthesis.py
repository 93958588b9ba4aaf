"""Tests for the paper VAE's sampling (models.paper_vae, synthesis): modes, shapes,
determinism, the test-source guard."""

import dataclasses
import jax
import numpy as np
import pytest

from drill_jax import data
from drill_jax.vae import generators, synthesis
from tests.vae.conftest import TINY, T, _sounds  # noqa: F401

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time


def test_synthesis_modes_shapes_and_range(trained):
    x_train, _, runs = trained
    state, _ = runs[0]
    sounds, info = generators.sample(state, TINY, jax.random.key(0), 5, "prior")
    assert sounds.shape == (5, T) and sounds.dtype == np.float32
    assert np.all(np.abs(sounds) <= 1.0)
    np.testing.assert_array_equal(info["source_index"], -1)
    assert info["z"].shape == (5, TINY.network.latent_dim)
    # Decoding the reported z reproduces the sounds.
    np.testing.assert_allclose(synthesis.decode(state, info["z"]), sounds, atol=1e-6)
    sounds, info = generators.sample(state, TINY, jax.random.key(0), 8, "posterior", x_train)
    assert sounds.shape == (8, T)
    # Cycles through all 6 sources before repeating.
    assert sorted(info["source_index"][:6]) == list(range(6))
    with pytest.raises(ValueError, match="source"):
        generators.sample(state, TINY, jax.random.key(0), 2, "posterior")


def test_synthesis_from_test_sounds_needs_the_flag(trained):
    _, x_test, runs = trained
    state, _ = runs[0]
    with pytest.raises(ValueError, match="synth_from_test"):
        generators.sample(state, TINY, jax.random.key(0), 2, "posterior", x_test, "test")
    allowed = dataclasses.replace(
        TINY, synthesis=dataclasses.replace(TINY.synthesis, synth_from_test=True)
    )
    _, info = generators.sample(
        state, allowed, jax.random.key(0), 2, "posterior", x_test, "test"
    )
    assert info["source_split"] == "test"


def test_same_key_gives_identical_params_and_wav_bytes(trained, tmp_path):
    x_train, _, runs = trained
    (s1, _), (s2, _) = runs
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(s1.batch_stats), jax.tree.leaves(s2.batch_stats)):
        np.testing.assert_array_equal(a, b)
    blobs = []
    for i, state in enumerate((s1, s2)):
        sounds, _ = generators.sample(state, TINY, jax.random.key(5), 2, "posterior", x_train)
        path = tmp_path / f"{i}.wav"
        data.write_wav(str(path), sounds[0], 96000)
        blobs.append(path.read_bytes())
    assert blobs[0] == blobs[1]
