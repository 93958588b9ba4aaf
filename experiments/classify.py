"""Evaluate one classifier under one protocol: `python -m experiments.classify`.

python -m experiments.classify --protocol=honest --crop=2000
python -m experiments.classify --data_dir=my_wavs --sample_rate=16000 --channel=0 \
    --clip_seconds=1 --band_hz=100,7000
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from drill_jax import config_tree, files
from drill_jax.classify import registry
from drill_jax.classify.backbones import torchvision_cnn
from drill_jax.detection import supervised
from drill_jax.evaluation import audit_figure, augment, pipeline, protocols, tables
from drill_jax.similarity import duplicates
from drill_jax.vae import configs
from experiments import common, config_flags, flag_groups, vae_flags

common.define_data_flags("runs/classify")
flag_groups.define_feature_flags()
flag_groups.define_grid_flags()
_PROTOCOL = config_flags.define(
    protocols.ProtocolConfig,
    (
        "protocol",
        "n_splits",
        "n_repeats",
        "paper_splits",
        "dataset",
        "augment",
        "n_add_per_class",
        "crop",
        "synth_mode",
        "folds",
        "seed",
    ),
    choices={
        "protocol": protocols.PROTOCOLS,
        "folds": duplicates.FOLDS,
        "dataset": ("original", "augmented"),
        "augment": tuple(augment.METHODS),
        "synth_mode": configs.SYNTH_MODES,
    },
    help={
        "augment": "Augmentation of the training side (vae by default with --dataset=augmented)."
    },
)
_DETECTOR = config_flags.define(
    registry.DetectorConfig,
    ("backbone", "epochs", "weights", "weights_path", "freeze", "batch_folds"),
    rename={"epochs": "detector_epochs"},
    choices={"backbone": tuple(registry.BACKBONES), "weights": ("imagenet", "none")},
    help=config_tree.docstring_help(torchvision_cnn.TorchSettings),
)
_VAE = vae_flags.define(
    "vae_arch",
    fields=("epochs",),
    rename={"epochs": "vae_epochs"},
    help={"epochs": "Epochs of each VAE (given: replaces the --vae_arch recipe's)."},
)
_SAVE_DETECTOR = flags.DEFINE_string(
    "save_detector",
    None,
    "After the evaluation, train the jax_cnn on every sound and save it as a detector "
    "directory (with the evaluation's metrics) for experiments.detect.",
)


def main(argv):
    del argv
    fixed = {}
    if not flags.FLAGS["augment"].present and flags.FLAGS.dataset == "augmented":
        fixed["augment"] = "vae"
    dconfig = _DETECTOR.build()
    if _SAVE_DETECTOR.value and dconfig.backbone != "jax_cnn":
        raise ValueError("--save_detector exports the jax_cnn backbone only (see docs/deploy.md)")
    ds = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    pconfig = _PROTOCOL.build(features=settings, **fixed)
    vconfig = None
    if pconfig.augment == "vae" or pconfig.dataset == "augmented":
        vconfig = _VAE.build()
    out_dir = common.FLAGS.out_dir
    os.makedirs(out_dir, exist_ok=True)
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {
            "protocol": dict(dataclasses.asdict(pconfig), bandpass=settings.bandpass),
            "detector": dataclasses.asdict(dconfig),
            "vae": vconfig and dataclasses.asdict(vconfig),
        },
    )
    grid = flag_groups.grid_config_from_flags()
    result = pipeline.run_classification(ds, pconfig, dconfig, out_dir, vconfig, grid=grid)
    print(result["label"])
    print(tables.to_markdown([result["row"]]))
    if pconfig.protocol == "honest" and len(ds.class_names) == 2:
        report = audit_figure.write_audit(result, ds, out_dir)
        print(
            f"error audit: {report['n_hard']} of {report['n_sounds']} sounds misclassified in "
            f"most folds; see {os.path.join(out_dir, 'audit.md')}"
        )
    if _SAVE_DETECTOR.value:
        path = supervised.save_supervised_detector(
            ds, result, _SAVE_DETECTOR.value, pconfig.crop, settings=settings
        )
        print(f"detector saved to {path}")


if __name__ == "__main__":
    common.run_main(main)
