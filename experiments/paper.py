"""The whole paper on the bundled data: `python -m experiments.paper [--quick]`.

VAE -> synthesis -> similarity -> features -> Table II (original vs augmented), the
augmentation comparison, and Table I (backbones), under the paper's and the honest
protocol, with and without the 2000-sample crop; writes <out_dir>/results.md.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from drill_jax.classify import backbones

from drill_jax.evaluation import pipeline
from experiments import common

common.define_data_flags("runs/paper")
_QUICK = flags.DEFINE_boolean(
    "quick",
    False,
    "A first look: 5 folds x 1, 2 paper splits, 5-epoch VAEs, JAX CNN only (no torch rows).",
)
_BACKBONE = flags.DEFINE_enum(
    "backbone", "jax_cnn", backbones.BACKBONES, "Detector of Table II and the augmentation table."
)
_TABLE2_EXTRA = flags.DEFINE_list(
    "table2_backbones", ["mobilenet_v2"], "Torchvision backbones also run through Table II."
)
_TABLE1 = flags.DEFINE_list(
    "table1_backbones",
    ["alexnet", "mobilenet_v2"],
    "Torchvision backbones of Table I (alexnet, googlenet, vgg16, vgg19, efficientnet_b0, "
    "mobilenet_v2).",
)
_TORCH_EPOCHS = flags.DEFINE_integer("torch_epochs", 10, "Epochs per torchvision fit (paper: 160).")
_TORCH_WEIGHTS = flags.DEFINE_enum(
    "torch_weights",
    "none",
    ["imagenet", "none"],
    "Weights of the torchvision nets other than MobileNetV2 (always ImageNet).",
)
_TORCH_CROPS = flags.DEFINE_list("torch_crops", ["none"], "Crops run for the torchvision rows.")
_TORCH_FOLDS = flags.DEFINE_integer("torch_folds", 3, "Honest folds of the torchvision rows.")
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads", 0, "torch CPU threads (0 = torch's default; 1 is faster on a busy CPU)."
)
_N_SPLITS = flags.DEFINE_integer("n_splits", 5, "Honest protocol folds.")
_N_REPEATS = flags.DEFINE_integer("n_repeats", 4, "Honest protocol repeats.")
_PAPER_SPLITS = flags.DEFINE_integer("paper_splits", 5, "Paper protocol random 70/30 splits.")
_CROPS = flags.DEFINE_list("crops", ["none", "2000"], "Crops to run: 'none' and/or sample counts.")
_AUGMENTS = flags.DEFINE_list(
    "augment_methods", ["none", "vae", "classic", "specaugment", "mixup"], "Honest comparison."
)
_VAE_EPOCHS = flags.DEFINE_integer("vae_epochs", 20, "Epochs of each VAE (paper: 20).")
_SEED = flags.DEFINE_integer("seed", 0, "Root seed.")


def _crops(values) -> tuple:
    return tuple(None if c == "none" else int(c) for c in values)


def main(argv):
    del argv
    config = pipeline.PaperConfig(
        backbone=_BACKBONE.value,
        table2_backbones=tuple(_TABLE2_EXTRA.value),
        table1_backbones=tuple(_TABLE1.value),
        torch_epochs=_TORCH_EPOCHS.value,
        torch_weights=_TORCH_WEIGHTS.value,
        torch_crops=_crops(_TORCH_CROPS.value),
        torch_folds=_TORCH_FOLDS.value,
        n_splits=_N_SPLITS.value,
        n_repeats=_N_REPEATS.value,
        paper_splits=_PAPER_SPLITS.value,
        crops=_crops(_CROPS.value),
        augment_methods=tuple(_AUGMENTS.value),
        vae_epochs=_VAE_EPOCHS.value,
        seed=_SEED.value,
    )
    if _QUICK.value:
        config = dataclasses.replace(
            config,
            n_repeats=1,
            paper_splits=2,
            vae_epochs=5,
            table1_backbones=(),
            table2_backbones=(),
        )
    if _TORCH_THREADS.value:
        from drill_jax.classify import torch_bridge

        torch_bridge.set_num_threads(_TORCH_THREADS.value)
    ds = common.load_data_from_flags()
    pipeline.run_paper(ds, config, common.FLAGS.out_dir, say=print)
    with open(f"{common.FLAGS.out_dir}/results.md", encoding="utf-8") as f:
        print(f.read())


if __name__ == "__main__":
    common.run_main(main)
