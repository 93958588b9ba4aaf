"""Evaluate one classifier under one protocol: `python -m experiments.classify`."""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from drill_jax import files

from drill_jax.classify import backbones

from drill_jax.evaluation import pipeline

from drill_jax.evaluation import protocols

from drill_jax.evaluation import tables
from experiments import common

common.define_data_flags("runs/classify")
_BACKBONE = flags.DEFINE_enum("backbone", "jax_cnn", backbones.BACKBONES, "Classifier.")
_DATASET = flags.DEFINE_enum(
    "dataset", "original", ["original", "augmented"], "Real sounds only, or with synthetic ones."
)
_PROTOCOL = flags.DEFINE_enum(
    "protocol", "honest", list(protocols.PROTOCOLS), "Evaluation protocol (see README)."
)
_AUGMENT = flags.DEFINE_enum(
    "augment",
    None,
    ["none", "vae", "classic", "specaugment", "mixup"],
    "Augmentation of the training side (default: vae for --dataset=augmented, else none).",
)
_WEIGHTS = flags.DEFINE_enum("weights", "none", ["imagenet", "none"], "torchvision weights.")
_WEIGHTS_PATH = flags.DEFINE_string("weights_path", None, "Local state_dict for the torch net.")
_FREEZE = flags.DEFINE_integer("freeze", 0, "Leading torch parameter tensors to freeze.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Classifier epochs (default: backbone's own).")
_CROP = flags.DEFINE_integer("crop", None, "Cut every clip to its first N samples (2000).")
_N_SPLITS = flags.DEFINE_integer("n_splits", 5, "Honest protocol: folds.")
_N_REPEATS = flags.DEFINE_integer("n_repeats", 4, "Honest protocol: repeats.")
_PAPER_SPLITS = flags.DEFINE_integer("paper_splits", 5, "Paper protocol: random 70/30 splits.")
_N_ADD = flags.DEFINE_integer("n_add_per_class", 48, "Examples added per class (paper: 48).")
_VAE_EPOCHS = flags.DEFINE_integer("vae_epochs", 20, "Epochs of each VAE (paper: 20).")
_SYNTH_MODE = flags.DEFINE_enum("synth_mode", "posterior", ["posterior", "prior"], "VAE sampling.")
_FILTER = flags.DEFINE_boolean("filter", True, "Band-pass 1-22 kHz before the Mel features.")
_SEED = flags.DEFINE_integer("seed", 0, "Root seed.")
_SAVE_DETECTOR = flags.DEFINE_string(
    "save_detector",
    None,
    "After the evaluation, train the jax_cnn on every sound and save it as a detector "
    "directory (with the evaluation's metrics) for experiments.detect.",
)


def main(argv):
    del argv
    augment = _AUGMENT.value or ("vae" if _DATASET.value == "augmented" else "none")
    pconfig = protocols.ProtocolConfig(
        protocol=_PROTOCOL.value,
        n_splits=_N_SPLITS.value,
        n_repeats=_N_REPEATS.value,
        paper_splits=_PAPER_SPLITS.value,
        dataset=_DATASET.value,
        augment=augment,
        n_add_per_class=_N_ADD.value,
        crop=_CROP.value,
        bandpass=_FILTER.value,
        synth_mode=_SYNTH_MODE.value,
        seed=_SEED.value,
    )
    dconfig = backbones.DetectorConfig(
        backbone=_BACKBONE.value,
        epochs=_EPOCHS.value,
        weights=_WEIGHTS.value,
        weights_path=_WEIGHTS_PATH.value,
        freeze=_FREEZE.value,
    )
    vconfig = None
    if augment == "vae" or _DATASET.value == "augmented":
        from drill_jax.vae import trainer  # only VAE-augmented runs need it

        vconfig = dataclasses.replace(trainer.VAEConfig(), epochs=_VAE_EPOCHS.value)
    out_dir = common.FLAGS.out_dir
    os.makedirs(out_dir, exist_ok=True)
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {
            "protocol": dataclasses.asdict(pconfig),
            "detector": dataclasses.asdict(dconfig),
            "vae": vconfig and dataclasses.asdict(vconfig),
        },
    )
    if _SAVE_DETECTOR.value and dconfig.backbone != "jax_cnn":
        raise ValueError("--save_detector exports the jax_cnn backbone only (see README)")
    ds = common.load_data_from_flags()
    result = pipeline.run_classification(ds, pconfig, dconfig, out_dir, vconfig)
    print(result["label"])
    print(tables.to_markdown([result["row"]]))
    if _SAVE_DETECTOR.value:
        path = pipeline.save_supervised_detector(ds, result, _SAVE_DETECTOR.value, _CROP.value)
        print(f"detector saved to {path}")


if __name__ == "__main__":
    common.run_main(main)
