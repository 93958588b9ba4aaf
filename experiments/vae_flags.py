"""The generator flags of a script: a recipe name (``drill_jax.recipes.vae``) and one flag
per VAEConfig field, applied on top of the recipe's config."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from absl import flags

from drill_jax import config_tree, recipes
from drill_jax.vae import configs, griffin_lim, losses, objectives, pca_reference
from experiments import config_flags

FLAGS = flags.FLAGS
flags.disclaim_key_flags()  # the flags belong to the experiment that asks for them


@dataclasses.dataclass
class VAEFlags:
    """The generator flags of a script: a recipe name flag and the VAEConfig fields' flags."""

    recipe_flag: Optional[str]
    group: config_flags.FlagGroup

    def build(
        self,
        recipe: Optional[str] = None,
        base: Optional[configs.VAEConfig] = None,
        **fixed,
    ) -> configs.VAEConfig:
        """The config of ``recipe``, else of the recipe flag when it was given, else ``base``
        (default: the recipe flag's default), with the field flags given (then ``fixed``)
        applied."""
        if recipe is None and (base is None or FLAGS[self.recipe_flag].present):
            recipe = FLAGS[self.recipe_flag].value
        return self.group.build(base if recipe is None else recipes.vae(recipe), **fixed)


def define(
    recipe_flag: Optional[str] = "arch",
    default: str = "conv",
    fields: Optional[Sequence[str]] = None,
    *,
    rename: Optional[dict] = None,
    key: Optional[Sequence[str]] = None,
    help: Optional[dict] = None,
) -> VAEFlags:
    """``--<recipe_flag>`` (a ``drill_jax.recipes.vae`` name) and one flag per VAEConfig field
    in ``fields`` (default: all but the arch, which the recipe names); a field flag given on
    the command line replaces that field of the recipe's config, nothing else does. With
    ``recipe_flag`` None the script names the recipe itself (``VAEFlags.build``)."""
    if recipe_flag is not None:
        flags.DEFINE_enum(
            recipe_flag,
            default,
            list(recipes.VAE_NAMES),
            "Generator recipe (drill_jax.recipes.vae): conv (the paper's VAE), reference (the "
            "authors' layout), realistic (the most realistic generator: the log-magnitude STFT "
            "PCA with every component, Griffin-Lim phases and one level gain per class), pca (8 components), stft_vae "
            "(VAE on the log-magnitude STFT), onset (onset-anchored damped sinusoids), noise* "
            "(noise-shaping VAEs), interp / stft_interp / phase_copy / shaped_noise (reference "
            "generators, nothing learned). The VAE flags replace "
            "only the fields they name; their shown defaults are the paper recipe's.",
        )
    names = fields or [k for k, v in config_tree.field_paths(configs.VAEConfig).items() if v]
    group = config_flags.define(
        configs.VAEConfig,
        [n for n in names if n != "arch"],
        rename=rename,
        key=key,
        help=help,
        choices={
            "recon": objectives.RECONS,
            "kl": losses.KLS,
            "synth_mode": configs.SYNTH_MODES,
            "prior": configs.PRIORS,
            "gl_init": griffin_lim.INITS,
            "domain": pca_reference.DOMAINS,
        },
    )
    return VAEFlags(recipe_flag, group)
