"""Tests for the flags of experiments.vae: a recipe name as the base, explicit flags on top,
nothing else rewritten."""

import contextlib
import dataclasses
import importlib
import sys

import pytest
from absl import flags

import experiments
from drill_jax import recipes
from experiments import vae as vae_script

FLAGS = flags.FLAGS
# absl's FlagValues state: the flags and who defined them.
_STATE = ("__flags", "__hiddenflags", "__flags_by_module", "__flags_by_module_id",
          "__key_flags_by_module")  # fmt: skip


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


def test_spectrogram_and_pca_flags_change_only_their_fields_of_the_realistic_recipe(parse):
    config = parse(
        "--arch=realistic", "--gl_iterations=200", "--n_fft=128", "--align_onsets",
        "--gl_init=pghi", "--pghi_tol=0.001",
    )
    base = recipes.vae_realistic()
    spec = dataclasses.replace(
        base.network.spectrogram, gl_iterations=200, n_fft=128, gl_init="pghi", pghi_tol=1e-3
    )
    network = dataclasses.replace(base.network, spectrogram=spec, align_onsets=True)
    assert config == dataclasses.replace(base, network=network)
    assert config.network.spectrogram.hop == base.network.spectrogram.hop


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


@contextlib.contextmanager
def _script(name, *args):
    """experiments.<name> imported afresh over absl's own flags only (scripts share flag
    names, so two cannot be imported into one process), its flags parsed from ``args``; the
    process's flags and modules are restored afterwards."""
    saved = {k: FLAGS.__dict__[k] for k in _STATE}
    absl = {n for n in FLAGS if (FLAGS.find_module_defining_flag(n) or "").startswith("absl")}
    by_module = {k: {m: [f for f in fs if f.name in absl] for m, fs in saved[k].items()}
                 for k in _STATE[2:]}  # fmt: skip
    FLAGS.__dict__.update(
        {
            "__flags": {n: f for n, f in saved["__flags"].items() if n in absl},
            "__hiddenflags": set(),
            **by_module,
        }
    )
    modules = {m: mod for m, mod in sys.modules.items() if m.startswith("experiments.")}
    for m in modules:
        del sys.modules[m]
    try:
        script = importlib.import_module(f"experiments.{name}")
        FLAGS([name, *args])
        yield script
    finally:
        FLAGS.unparse_flags()
        FLAGS.__dict__.update(saved)
        for m in [m for m in sys.modules if m.startswith("experiments.")]:
            del sys.modules[m]
        sys.modules.update(modules)
        for m, mod in modules.items():
            setattr(experiments, m.split(".")[1], mod)


@pytest.mark.parametrize("script", ["paper", "classify"])
def test_vae_arch_trains_its_recipe_and_vae_flags_given_replace_one_field(script):
    """--vae_arch=NAME trains that recipe whole (its own epochs: 0 for the realistic PCA,
    150 for noise_hop32); --vae_epochs given replaces the epochs and nothing else; no
    --vae_arch is the paper's VAE."""

    def build(*args):
        with _script(script, *args) as module:
            if script == "paper":
                return module.build_config().vae
            return module._VAE.build()

    for name in ("realistic", "noise_hop32"):
        recipe = recipes.vae(name)
        assert recipe.epochs != 20  # so the flag, not the recipe, sets 20 below
        assert build(f"--vae_arch={name}") == recipe
        assert build(f"--vae_arch={name}", "--vae_epochs=20") == dataclasses.replace(
            recipe, epochs=20
        )
    assert build() == recipes.vae_paper()


def test_paper_presets_carry_their_vae_and_the_flags_compose_with_them():
    with _script("paper", "--quick", "--seed=3") as paper:
        quick = paper.build_config()
    assert quick.vae == dataclasses.replace(recipes.vae_paper(), epochs=5, seed=3)
    assert quick.seed == 3 and quick.n_repeats == recipes.paper_quick().n_repeats
    with _script("paper", "--quick", "--vae_arch=realistic") as paper:
        assert paper.build_config().vae == recipes.vae_realistic()  # the recipe, whole
    assert recipes.paper_default().vae == recipes.vae_paper()


def test_paper_help_lists_a_short_set_of_flags():
    """`experiments.paper --help` shows its key flags only (the rest under --helpfull)."""
    with _script("paper") as paper:
        names = {f.name for f in FLAGS.get_key_flags_for_module(paper.__name__)}
    assert 5 <= len(names) <= 12, names
    assert {"vae_arch", "vae_epochs", "seed", "quick"} <= names and "torch_epochs" not in names
