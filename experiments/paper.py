"""The whole paper on the bundled data: `python -m experiments.paper [--quick]`.

VAE -> synthesis -> similarity -> features -> Table II (original vs augmented), the
augmentation comparison, and Table I (backbones), under the paper's and the honest
protocol, with and without the 2000-sample crop; writes <out_dir>/results.md.
Settings come from a named preset (``drill_jax.recipes.paper``; ``--preset``, ``--quick`` is
``--preset=quick``); flags given explicitly override the preset's fields. The VAE is the
preset's, or the complete ``--vae_arch`` recipe (``drill_jax.recipes.vae``) when that flag is
given; ``--vae_epochs`` given replaces its epochs only; it trains with ``--seed``.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from drill_jax import config_tree, recipes
from drill_jax.classify import registry
from drill_jax.evaluation import pipeline
from experiments import common, config_flags, flag_groups, vae_flags


def _describe(name: str) -> str:
    changed = config_tree.changes(recipes.paper_default(), recipes.paper(name))
    return f"{name} ({', '.join(f'{k}={v}' for k, v in changed.items()) or 'the defaults'})"


common.define_data_flags("runs/paper")
flag_groups.define_feature_flags()
flag_groups.define_grid_flags()
_PRESET = flags.DEFINE_enum(
    "preset",
    "default",
    list(recipes.PAPER_NAMES),
    "Named settings: " + "; ".join(_describe(n) for n in recipes.PAPER_NAMES) + ".",
)
_QUICK = flags.DEFINE_boolean("quick", False, "Same as --preset=quick: " + _describe("quick"))
_PAPER = config_flags.define(
    pipeline.PaperConfig,
    [f.name for f in dataclasses.fields(pipeline.PaperConfig) if f.name not in ("features", "vae")],
    choices={"backbone": registry.BACKBONES, "torch_weights": ("imagenet", "none")},
    help={
        "backbone": "Detector of Table II and the augmentation table.",
        "table2_backbones": "Torchvision backbones also run through Table II.",
        "table1_backbones": "Torchvision backbones of Table I (alexnet, googlenet, vgg16, "
        "vgg19, efficientnet_b0, mobilenet_v2).",
        "torch_epochs": "Epochs per torchvision fit (paper: 160).",
        "torch_crops": "Crops run for the torchvision rows ('none' and/or sample counts).",
        "torch_folds": "Honest folds of the torchvision rows.",
        "n_splits": "Honest protocol folds.",
        "n_repeats": "Honest protocol repeats.",
        "paper_splits": "Paper protocol random 70/30 splits.",
        "crops": "Crops to run: 'none' and/or sample counts.",
        "augment_methods": "Honest comparison.",
        "seed": "Root seed (folds, VAEs, detectors).",
    },
    key=("backbone", "n_splits", "n_repeats", "seed"),
)
_VAE = vae_flags.define(
    "vae_arch",
    fields=("epochs",),
    rename={"epochs": "vae_epochs"},
    help={"epochs": "Epochs of each VAE (given: replaces the preset's or --vae_arch recipe's)."},
)
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads",
    0,
    "torch CPU threads (0 = torch's default; 1 is faster on a busy CPU).",
    module_name=config_flags.__name__,  # listed by --helpfull
)


def build_config(features=None) -> pipeline.PaperConfig:
    """The preset's PaperConfig with the flags given applied: ``--vae_arch`` swaps in that
    recipe's complete VAE config, each ``--vae_*`` flag given replaces one of its fields, and
    the VAE trains with the paper's seed. ``features``: None = the paper's settings."""
    if _QUICK.value and _PRESET.value not in ("default", "quick"):
        raise ValueError(f"--quick contradicts --preset={_PRESET.value}")
    base = recipes.paper("quick" if _QUICK.value else _PRESET.value)
    vae = _VAE.build(base=base.vae, seed=_PAPER.build(base).seed)
    return _PAPER.build(base, features=features, vae=vae)


def main(argv):
    del argv
    if _TORCH_THREADS.value:
        from drill_jax.classify import torch_train  # torch only when asked for

        torch_train.set_num_threads(_TORCH_THREADS.value)
    ds = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    # None = the paper's settings at the data's rate (the library's default).
    features = settings if flag_groups.feature_flags_given() else None
    config = build_config(features)
    grid = flag_groups.grid_config_from_flags()
    summary = pipeline.run_paper(ds, config, common.FLAGS.out_dir, say=print, grid=grid)
    print("\n".join(pipeline.summary_lines(summary)))
    if summary["failed_tasks"]:  # the rest of the grid is done and written
        raise SystemExit(f"{len(summary['failed_tasks'])} task(s) failed (listed in results.md)")


if __name__ == "__main__":
    common.run_main(main)
