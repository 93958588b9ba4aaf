"""Train one VAE per class and synthesize sounds: `python -m experiments.vae`.

``--arch`` names a recipe (``drill_jax.recipes.vae``); every other VAE flag given replaces
that field of the recipe, so ``--arch=realistic --epochs=20`` trains the realistic
generator for 20 epochs.
"""

from __future__ import annotations

import json

from absl import app, flags, logging

from drill_jax.detection import unsupervised
from drill_jax.vae import experiment
from experiments import common, vae_flags

common.define_data_flags("runs/vae")
_VAE = vae_flags.define(
    "arch",
    key=("epochs", "seed", "num_synth", "synth_mode", "latent_dim"),
    help={
        "epochs": "Epochs per class VAE (paper: 20).",
        "batch_size": "Batch size (paper: 8).",
        "seed": "Root seed of every random choice.",
        "synth_from_test": "Take posterior sources from the TEST list (the authors' choice; "
        "leaks test sounds). Recorded in config.json and the synth manifest.",
    },
)
_RESUME = flags.DEFINE_boolean("resume", False, "Continue from the checkpoints in --out_dir.")
_SAVE_DETECTOR = flags.DEFINE_string(
    "save_detector",
    None,
    "Also train this VAE configuration on the NORMAL class only and save it as an "
    "unsupervised detector directory (score = negative ELBO of the raw waveform; threshold "
    "from held-out normal sounds) for experiments.detect.",
)
_NORMAL_CLASS = flags.DEFINE_string("normal_class", "normal", "Class used by --save_detector.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    config = _VAE.build()
    dataset = common.load_data_from_flags()
    summary = experiment.train_and_synthesize(
        dataset, config, flags.FLAGS.out_dir, resume=_RESUME.value
    )
    logging.info("summary: %s", json.dumps(summary, indent=1))
    if _SAVE_DETECTOR.value:
        path = unsupervised.save_waveform_detector(
            dataset, config, _SAVE_DETECTOR.value, normal_class=_NORMAL_CLASS.value
        )
        logging.info("unsupervised detector saved to %s", path)


if __name__ == "__main__":
    common.run_main(main)
