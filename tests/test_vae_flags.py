"""Tests for the flags of experiments.vae: a recipe name as the base, explicit flags on top,
nothing else rewritten."""

import dataclasses
import os
import subprocess
import sys

import pytest
from absl import flags

from drill_jax import recipes
from experiments import vae as vae_script


@pytest.fixture
def parse():
    def run(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["vae", *args])
        return vae_script._VAE.build()

    yield run
    flags.FLAGS.unparse_flags()


def test_realistic_with_epochs_trains_those_epochs_and_keeps_the_rest_of_the_recipe(parse):
    config = parse("--arch=realistic", "--epochs=20")
    assert config.epochs == 20
    assert recipes.vae_realistic().epochs != 20  # the flag, not the recipe, set it
    assert config == dataclasses.replace(recipes.vae_realistic(), epochs=20)


def test_no_flags_is_the_paper_recipe_and_nested_fields_have_flags(parse):
    assert parse() == recipes.vae_paper()
    config = parse("--arch=realistic", "--latent_dim=3", "--synth_mode=prior", "--free_bits=0")
    realistic = recipes.vae_realistic()
    assert config.network == dataclasses.replace(realistic.network, latent_dim=3)
    assert config.synthesis == dataclasses.replace(realistic.synthesis, synth_mode="prior")
    assert config.loss == dataclasses.replace(realistic.loss, free_bits=0.0)
    assert config.optim == realistic.optim


def test_a_bad_value_names_its_flag(parse):
    with pytest.raises(ValueError, match="^--latent_dim: must be >= 1"):
        parse("--latent_dim=0")


def test_unknown_recipe_is_a_one_line_error_listing_the_names():
    with pytest.raises(ValueError, match=r"unknown generator recipe 'dense'; one of \[.*'realistic'"):
        recipes.vae("dense")



def test_paper_help_lists_a_short_set_of_flags():
    """`experiments.paper --help` shows the key flags only (the rest under --helpfull)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-m", "experiments.paper", "--help"],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
    ).stdout
    assert 5 <= out.count("\n  --") <= 12, out
    assert "--vae_arch" in out and "--torch_epochs" not in out and "--helpfull" in out
