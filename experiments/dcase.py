"""DCASE task 2: train the chosen detectors per machine type, write the official CSV files and
results.md / results.csv.

    python -m experiments.dcase --data_dir=ROOT --out_dir=OUT [--machine_types=fan,valve]
        [--detectors=dcase_ae,oe]

ROOT holds ``<machine_type>/{train,test}/*.wav`` with DCASE file names (2020-2025).
"""

from __future__ import annotations

from absl import app, flags

from drill_jax.asd import outlier
from drill_jax.detection import dcase_job
from experiments import common, config_flags

_DATA_DIR = flags.DEFINE_string("data_dir", None, "DCASE root: <machine_type>/{train,test}/.")
_OUT_DIR = flags.DEFINE_string("out_dir", None, "Where the official files and tables go.")
_MACHINE_TYPES = flags.DEFINE_list("machine_types", None, "Machine types (default: all).")
_OE_FIELDS = ("train.epochs", "seeds", "branches", "classes", "loss.mixup_alpha", "loss.margin",
              "loss.scale", "k", "inputs.window_frames", "inputs.spectrum_fft", "width", "fusion",
              "subclusters", "components")
_JOB = config_flags.define(
    dcase_job.JobConfig,
    ("detectors", "holdout_fraction", "threshold_quantile", "seed", "ae.train.epochs")
    + tuple(f"oe.{f}" for f in _OE_FIELDS),
    rename={"ae.train.epochs": "ae_epochs",
            **{f"oe.{f}": f"oe_{f.rsplit('.', 1)[-1]}" for f in _OE_FIELDS}},
    choices={"oe.branches": outlier.BRANCHES, "oe.classes": outlier.CLASSES,
             "oe.fusion": outlier.FUSIONS},
)
_PROGRESS = flags.DEFINE_boolean("progress", True, "Progress bars.")
flags.mark_flags_as_required(["data_dir", "out_dir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    config = _JOB.build()
    rows = dcase_job.run(config, _DATA_DIR.value, _OUT_DIR.value, _MACHINE_TYPES.value,
                         progress=_PROGRESS.value)
    for r in rows:
        if r["section"] == "hmean":
            print(f"{r['detector']:>22} {r['machine_type']:>12}  hmean {100 * r['hmean']:.1f}")


if __name__ == "__main__":
    common.run_main(main)
