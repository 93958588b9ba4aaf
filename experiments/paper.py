"""The whole paper on the bundled data: `python -m experiments.paper [--quick]`.

VAE -> synthesis -> similarity -> features -> Table II (original vs augmented), the
augmentation comparison, and Table I (backbones), under the paper's and the honest
protocol, with and without the 2000-sample crop; writes <out_dir>/results.md.
Settings come from a named preset (``drill_jax.recipes.paper``; ``--preset``, ``--quick`` is
``--preset=quick``); flags given explicitly override the preset's fields. The VAE is the
``--vae_arch`` recipe (``drill_jax.recipes.vae``) with ``--vae_epochs`` and ``--seed``.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from drill_jax import recipes
from drill_jax.classify import registry
from drill_jax.evaluation import pipeline
from experiments import common, config_flags


def _describe(name: str) -> str:
    base, preset = recipes.paper_default(), recipes.paper(name)
    changed = [
        f"{f.name}={getattr(preset, f.name)}"
        for f in dataclasses.fields(base)
        if getattr(preset, f.name) != getattr(base, f.name)
    ]
    return f"{name} ({', '.join(changed) or 'the defaults'})"


common.define_data_flags("runs/paper")
common.define_feature_flags()
common.define_grid_flags()
_PRESET = flags.DEFINE_enum(
    "preset",
    "default",
    list(recipes.PAPER_NAMES),
    "Named settings: " + "; ".join(_describe(n) for n in recipes.PAPER_NAMES) + ".",
)
_QUICK = flags.DEFINE_boolean("quick", False, "Same as --preset=quick: " + _describe("quick"))
_PAPER = config_flags.define(
    pipeline.PaperConfig,
    [f.name for f in dataclasses.fields(pipeline.PaperConfig) if f.name != "features"],
    choices={
        "backbone": registry.BACKBONES,
        "torch_weights": ("imagenet", "none"),
        "vae_arch": recipes.VAE_NAMES,
    },
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
        "vae_epochs": "Epochs of each VAE (paper: 20).",
        "vae_arch": "Generator recipe of the VAE steps (drill_jax.recipes.vae): conv (the "
        "paper's VAE, default), realistic (the most realistic generator), or any --arch of "
        "experiments.vae.",
        "seed": "Root seed.",
    },
    key=("backbone", "n_splits", "n_repeats", "vae_arch", "vae_epochs", "seed"),
)
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads",
    0,
    "torch CPU threads (0 = torch's default; 1 is faster on a busy CPU).",
    module_name=config_flags.__name__,  # listed by --helpfull
)


def summary_lines(summary: dict, out_dir: str) -> list[str]:
    """A few lines: wall time, each table's best row (accuracy, ROC AUC), where the files are."""
    lines = [f"paper job done in {summary['wall_seconds'] / 60:.1f} min"]
    for table, rows in summary["tables"].items():
        if rows:
            best = max(rows, key=lambda r: float(r["accuracy"].split()[0]))
            lines.append(
                f"{table}: {len(rows)} rows; best {best['row']}: accuracy {best['accuracy']} %, "
                f"ROC AUC {best['roc_auc']} %"
            )
    lines += [
        f"results (every table, the similarity report): {out_dir}/results.md",
        f"figures: {out_dir}/vae/*.png, {out_dir}/similarity/, {out_dir}/features/",
    ]
    if summary["failed_tasks"]:
        lines.append(f"{len(summary['failed_tasks'])} task(s) failed: listed in results.md")
    return lines


def main(argv):
    del argv
    preset = "quick" if _QUICK.value else _PRESET.value
    if _QUICK.value and _PRESET.value not in ("default", "quick"):
        raise ValueError(f"--quick contradicts --preset={_PRESET.value}")
    if _TORCH_THREADS.value:
        from drill_jax.classify import torch_train  # torch only when asked for

        torch_train.set_num_threads(_TORCH_THREADS.value)
    ds = common.load_data_from_flags()
    settings = common.feature_settings_from_flags(ds.sample_rate)
    # None = the paper's settings at the data's rate (the library's default).
    features = settings if common.feature_flags_given() else None
    config = _PAPER.build(recipes.paper(preset), features=features)
    vae = dataclasses.replace(
        recipes.vae(config.vae_arch), epochs=config.vae_epochs, seed=config.seed
    )
    grid = common.grid_config_from_flags()
    summary = pipeline.run_paper(ds, config, common.FLAGS.out_dir, vae, say=print, grid=grid)
    print("\n".join(summary_lines(summary, common.FLAGS.out_dir)))
    if summary["failed_tasks"]:  # the rest of the grid is done and written
        raise SystemExit(f"{len(summary['failed_tasks'])} task(s) failed (listed in results.md)")


if __name__ == "__main__":
    common.run_main(main)
