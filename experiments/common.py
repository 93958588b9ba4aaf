"""Flags and start-up shared by every experiment script that loads a dataset."""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import app, flags, logging

from drill_jax import data
from drill_jax.grid import runner
from experiments import config_flags, flag_parsers

FLAGS = flags.FLAGS
# Flags defined here belong to the experiment that asked for them (they show in its --help),
# except the generated ``LoadOptions`` flags: they are listed by --helpfull only.
flags.disclaim_key_flags()
# The ``data.LoadOptions`` fields with a flag each (generated from the dataclass).
LOAD_FIELDS = (
    "sample_rate", "resample", "channel", "classes", "clip_seconds", "hop_seconds", "last_clip",
    "skip_bad",
)  # fmt: skip
_LOAD_PARSERS = {"classes": flag_parsers.parse_names}


def define_data_flags(default_out_dir: str) -> None:
    """Defines --data_dir, --sample_rate, --resample, --channel, --clip_seconds,
    --hop_seconds, --last_clip, --classes, --skip_bad and --out_dir (once per process)."""
    if "data_dir" in FLAGS:
        return
    flags.DEFINE_string(
        "data_dir",
        None,
        "Folder with one sub-folder of WAVs per class. Default: bundled Valmet data.",
    )
    config_flags.define(
        data.LoadOptions,
        fields=LOAD_FIELDS,
        choices={"last_clip": data.LAST_MODES},
        parsers=_LOAD_PARSERS,
        key=(),  # listed by --helpfull only
    )
    flags.DEFINE_string("out_dir", default_out_dir, "Where this run writes everything it makes.")


def load_options_from_flags() -> data.LoadOptions:
    """The ``data.LoadOptions`` the data flags describe (class defaults where not given)."""
    paths = {name: (name,) for name in LOAD_FIELDS}
    return config_flags.FlagGroup(data.LoadOptions, paths, dict(_LOAD_PARSERS)).build()


def load_data_from_flags() -> data.Dataset:
    """Loads the dataset the data flags describe, logging skipped files."""
    ds = data.load_dataset(data_dir=FLAGS.data_dir, options=load_options_from_flags())
    for bad in ds.bad:
        logging.warning("skipped %s", bad)
    if ds.bad:
        logging.warning("%d bad file(s) skipped, %d sounds loaded", len(ds.bad), len(ds))
    logging.info(
        "loaded %d sounds, classes %s, %d Hz, from %s",
        len(ds),
        ds.class_names,
        ds.sample_rate,
        FLAGS.data_dir or data.BUNDLED_DATA_DIR,
    )
    return ds


def run_main(main: Callable) -> None:
    """app.run(main), turning bad-input errors into a one-line message and exit code 2."""

    def guarded(argv):
        try:
            return main(argv)
        except (data.AudioError, FileNotFoundError, ValueError) as err:
            if os.environ.get("DRILL_JAX_TRACEBACK"):
                raise
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except runner.TasksFailed as err:  # the other tasks finished (and are cached)
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)

    app.run(guarded)
