"""When does synthesis help? Learning curves of the honest protocol from 4 sounds per class.

python -m experiments.learning_curves --out_dir=runs/learning_curves
python -m experiments.learning_curves --folds=grouped --generators=interp,realistic --draws=2

Generators are named as ``drill_jax.recipes.vae`` names them.
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags, logging

from drill_jax import files, recipes
from drill_jax.evaluation import learning_curves
from drill_jax.similarity import duplicates
from experiments import common, config_flags

common.define_data_flags("runs/learning_curves")
_CURVES = config_flags.define(
    learning_curves.CurveConfig,
    (
        "sizes",
        "draws",
        "n_splits",
        "n_repeats",
        "folds",
        "detectors",
        "generators",
        "n_add_per_class",
        "crop",
        "epochs",
        "seed",
    ),
    rename={"epochs": "detector_epochs"},
    choices={"folds": duplicates.FOLDS},
)


def main(argv):
    del argv
    config = _CURVES.build()
    out_dir = flags.FLAGS.out_dir
    files.atomic_write_json(os.path.join(out_dir, "config.json"), dataclasses.asdict(config))
    result = learning_curves.run(common.load_data_from_flags(), config, recipes.vae)
    files.atomic_write_json(os.path.join(out_dir, "learning_curves.json"), result)
    files.atomic_write_text(
        os.path.join(out_dir, "learning_curves.md"), learning_curves.markdown(result)
    )
    learning_curves.plot_curves(result, os.path.join(out_dir, "learning_curves.png"))
    for sentence in result["sentences"]:
        logging.info("%s", sentence)
    logging.info("wrote %s/learning_curves.{json,md,png}", out_dir)


if __name__ == "__main__":
    common.run_main(main)
