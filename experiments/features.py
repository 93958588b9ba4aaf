"""Log-Mel arrays and images of every sound, an overview figure, a summary.

python -m experiments.features                       # bundled Valmet data -> runs/features
python -m experiments.features --data_dir=my_wavs --sample_rate=48000 --nofilter
python -m experiments.features --data_dir=my_wavs --sample_rate=16000 --band_hz=100,7000
"""

import dataclasses

from absl import app, flags, logging

from drill_jax import files
from drill_jax.features import export as feature_export
from experiments import common, flag_groups

_IMAGE_SIZE = flags.DEFINE_integer("image_size", 227, "Side of the square RGB images (pixels).")

common.define_data_flags("runs/features")
flag_groups.define_feature_flags()
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    dataset = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(dataset.sample_rate)
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
            "filter": settings.bandpass,
            "filter_design": settings.filter_design,
            "image_size": _IMAGE_SIZE.value,
            "top_db": settings.top_db,
            "mel": dataclasses.asdict(settings.mel),
            "features": settings.to_json(),
        },
    )
    summary = feature_export.export_features(
        dataset, FLAGS.out_dir, settings, image_size=_IMAGE_SIZE.value
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
