"""Flags and start-up shared by every experiment script that loads a dataset."""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import app, flags, logging

from drill_jax import data
from drill_jax.grid import runner

FLAGS = flags.FLAGS
# Flags defined here belong to the experiment that asked for them (they show in its --help),
# except those defined with _MORE: they are listed by --helpfull only.
flags.disclaim_key_flags()
_MORE = {"module_name": __name__}


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
    more = (  # listed by --helpfull only
        (flags.DEFINE_integer, "sample_rate", data.BUNDLED_SAMPLE_RATE, "Expected sample rate "
         "in Hz (0 = take the files')."),
        (flags.DEFINE_boolean, "resample", False, "Resample files at another rate instead of "
         "failing."),
        (flags.DEFINE_integer, "channel", None, "Channel to keep from multi-channel files "
         "(0-based)."),
        (flags.DEFINE_float, "clip_seconds", None, "Cut every file into clips of this many "
         "seconds (long recordings)."),
        (flags.DEFINE_float, "hop_seconds", None, "Hop between clips in seconds (default: "
         "clip length)."),
        (flags.DEFINE_list, "classes", None, "Class folders to use, in label order (default: "
         "all)."),
        (flags.DEFINE_boolean, "skip_bad", False, "Skip bad files (and report them) instead "
         "of failing."),
    )  # fmt: skip
    for define, name, default, text in more:
        define(name, default, text, **_MORE)
    flags.DEFINE_enum(
        "last_clip",
        "drop",
        list(data.LAST_MODES),
        "With --clip_seconds: drop a recording's partial last clip, or pad it with zeros.",
        **_MORE,
    )
    flags.DEFINE_string("out_dir", default_out_dir, "Where this run writes everything it makes.")


def load_kwargs_from_flags() -> dict:
    """``data.load_dataset`` arguments of the data flags, except the folder."""
    return dict(
        sample_rate=FLAGS.sample_rate or None,
        resample=FLAGS.resample,
        channel=FLAGS.channel,
        classes=FLAGS.classes,
        clip_seconds=FLAGS.clip_seconds,
        hop_seconds=FLAGS.hop_seconds,
        last_clip=FLAGS.last_clip,
        skip_bad=FLAGS.skip_bad,
    )


def load_data_from_flags() -> data.Dataset:
    """Loads the dataset the data flags describe, logging skipped files."""
    ds = data.load_dataset(data_dir=FLAGS.data_dir, **load_kwargs_from_flags())
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
