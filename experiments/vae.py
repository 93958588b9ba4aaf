"""Train one VAE per class and synthesize sounds: `python -m experiments.vae`."""

from __future__ import annotations

import json

from absl import app, flags, logging

from drill_jax.detection import unsupervised
from drill_jax.vae import experiment, losses, objectives, trainer
from experiments import common, config_flags

common.define_data_flags("runs/vae")
_VAE = config_flags.define(
    trainer.VAEConfig,
    (
        "latent_dim",
        "epochs",
        "batch_size",
        "learning_rate",
        "num_synth",
        "seed",
        "arch",
        "recon",
        "kl",
        "synth_mode",
        "synth_from_test",
        "prior",
        "sc_weight",
        "kl_weight",
        "kl_warmup_steps",
        "free_bits",
        "calibrate_level",
    ),
    choices={
        "arch": trainer.ARCHS,
        "recon": objectives.RECONS,
        "kl": losses.KLS,
        "synth_mode": trainer.SYNTH_MODES,
        "prior": trainer.PRIORS,
    },
    help={
        "epochs": "Epochs per class VAE (paper: 20).",
        "batch_size": "Batch size (paper: 8).",
        "seed": "Root seed of every random choice.",
        "arch": "conv: 1-D convolutions over time; reference: the authors' layout "
        "(effectively dense); noise, noise_hop32, noise_hop16, noise_burst: noise-shaping "
        "VAEs (33 / 64 / 127 gain frames; bursts: + decaying noise bursts; need "
        "--recon=stft or stft_band); interp, phase_copy, shaped_noise: reference generators "
        "(nothing learned); realistic: the most realistic generator so far (vae.recipes: "
        "noise_hop32, stft_band loss, level calibration).",
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
