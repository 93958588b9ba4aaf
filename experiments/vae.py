"""Train one VAE per class and synthesize sounds: `python -m experiments.vae`."""

from __future__ import annotations

import json

from absl import app, flags, logging

from drill_jax.detection import anomaly

from drill_jax.vae import trainer
from experiments import common

common.define_data_flags("runs/vae")
_LATENT_DIM = flags.DEFINE_integer("latent_dim", 2, "Size of the latent code z (paper: 2).")
_EPOCHS = flags.DEFINE_integer("epochs", 20, "Epochs per class VAE (paper: 20).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Batch size (paper: 8).")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 3e-4, "Adam learning rate (paper: 3e-4).")
_NUM_SYNTH = flags.DEFINE_integer("num_synth", 48, "Sounds synthesized per class (paper: 48).")
_SEED = flags.DEFINE_integer("seed", 0, "Root seed of every random choice.")
_ARCH = flags.DEFINE_enum(
    "arch",
    "conv",
    ["conv", "reference"],
    "conv: 1-D convolutions over time; reference: the authors' layout (effectively dense).",
)
_RECON = flags.DEFINE_enum(
    "recon",
    "bce",
    ["bce", "mse"],
    "Reconstruction: Bernoulli on [0, 1]-mapped samples or Gaussian.",
)
_KL = flags.DEFINE_enum(
    "kl", "analytic", ["analytic", "mc"], "KL: closed form or single-sample Monte Carlo (paper)."
)
_SYNTH_MODE = flags.DEFINE_enum(
    "synth_mode",
    "posterior",
    ["posterior", "prior"],
    "posterior: decode z ~ q(z|x) of source sounds; prior: z ~ N(0, I).",
)
_SYNTH_FROM_TEST = flags.DEFINE_boolean(
    "synth_from_test",
    False,
    "Take posterior sources from the TEST list (the authors' choice; leaks test sounds). "
    "Recorded in config.json and the synth manifest.",
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
    config = trainer.VAEConfig(
        latent_dim=_LATENT_DIM.value,
        epochs=_EPOCHS.value,
        batch_size=_BATCH_SIZE.value,
        learning_rate=_LEARNING_RATE.value,
        seed=_SEED.value,
        arch=_ARCH.value,
        recon=_RECON.value,
        kl=_KL.value,
        num_synth=_NUM_SYNTH.value,
        synth_mode=_SYNTH_MODE.value,
        synth_from_test=_SYNTH_FROM_TEST.value,
    )
    dataset = common.load_data_from_flags()
    summary = trainer.train_and_synthesize(
        dataset, config, flags.FLAGS.out_dir, resume=_RESUME.value
    )
    logging.info("summary: %s", json.dumps(summary, indent=1))
    if _SAVE_DETECTOR.value:
        path = anomaly.save_waveform_detector(
            dataset, config, _SAVE_DETECTOR.value, normal_class=_NORMAL_CLASS.value
        )
        logging.info("unsupervised detector saved to %s", path)


if __name__ == "__main__":
    common.run_main(main)
