"""Main job for now: log-Mel arrays and images of every sound, an overview figure, a summary.

python -m experiments.features                       # bundled Valmet data -> runs/features
python -m experiments.features --data_dir=my_wavs --sample_rate=48000 --nofilter
"""

import dataclasses

from absl import app, flags, logging

from drill_jax import files

from drill_jax.features import export as feature_export

from drill_jax import features
from experiments import common

_FILTER = flags.DEFINE_boolean(
    "filter", True, "Band-pass 1-22 kHz first (MATLAB highpass then lowpass, zero phase)."
)
_FILTER_DESIGN = flags.DEFINE_enum(
    "filter_design",
    "auto",
    ["auto", "fir", "iir"],
    "auto = MATLAB's choice (elliptic IIR when the clip is under 2x the FIR order).",
)
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 227, "Side of the square RGB images (pixels).")
_TOP_DB = flags.DEFINE_float("top_db", 80.0, "Clip each log-Mel at its max minus this (dB).")

common.define_data_flags("runs/features")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    dataset = common.load_data_from_flags()
    config = features.MelConfig(sample_rate=dataset.sample_rate)
    files.atomic_write_json(
        f"{FLAGS.out_dir}/config.json",
        {
            "data_dir": FLAGS.data_dir,
            "sample_rate": FLAGS.sample_rate,
            "resample": FLAGS.resample,
            "channel": FLAGS.channel,
            "clip_seconds": FLAGS.clip_seconds,
            "hop_seconds": FLAGS.hop_seconds,
            "classes": FLAGS.classes,
            "skip_bad": FLAGS.skip_bad,
            "filter": _FILTER.value,
            "filter_design": _FILTER_DESIGN.value,
            "image_size": _IMAGE_SIZE.value,
            "top_db": _TOP_DB.value,
            "mel": dataclasses.asdict(config),
        },
    )
    summary = feature_export.export_features(
        dataset,
        FLAGS.out_dir,
        config,
        bandpass=_FILTER.value,
        image_size=_IMAGE_SIZE.value,
        filter_design=_FILTER_DESIGN.value,
        top_db=_TOP_DB.value,
    )
    for name, stats in summary["classes"].items():
        logging.info(
            "%s: %d sounds, lengths %s, frames per clip %s",
            name,
            stats["count"],
            stats["lengths"],
            stats["frames_per_clip"],
        )
    logging.info("wrote %s", FLAGS.out_dir)


if __name__ == "__main__":
    common.run_main(main)
