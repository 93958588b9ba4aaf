"""Flags and start-up shared by every experiment script that loads a dataset."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable, Optional, Sequence

from absl import app, flags, logging

from drill_jax import data, features, recipes
from drill_jax.features import filters
from drill_jax.grid import runner
from drill_jax.vae import configs, losses, objectives
from experiments import config_flags

FLAGS = flags.FLAGS
# Flags defined here belong to the experiment that asked for them (they show in its --help).
flags.disclaim_key_flags()

# The feature settings every feature-making experiment exposes (defaults: the paper's).
FEATURE_FLAG_FIELDS = (
    "band_hz",
    "filter_design",
    "filter_method",
    "window_samples",
    "overlap_samples",
    "n_fft",
    "n_mels",
    "fmin",
    "fmax",
    "top_db",
)
_FEATURE_FLAGS: list = []


def define_feature_flags() -> None:
    """Defines --filter and one flag per FeatureSettings field in FEATURE_FLAG_FIELDS."""
    if _FEATURE_FLAGS:
        return
    flags.DEFINE_boolean(
        "filter",
        True,
        "Band-pass first (--band_hz; MATLAB highpass then lowpass, zero phase). "
        "--nofilter: no filter.",
    )
    _FEATURE_FLAGS.append(
        config_flags.define(
            features.FeatureSettings,
            FEATURE_FLAG_FIELDS,
            parsers={"band_hz": config_flags.parse_band},
            choices={"filter_design": filters.DESIGNS, "filter_method": filters.METHODS},
            help={
                "band_hz": "LOW,HIGH band-pass edges in Hz (paper: 1000,22000); leave one "
                "empty for a high-pass (LOW,) or a low-pass (,HIGH) alone."
            },
        )
    )


def feature_flags_given() -> bool:
    """True when any feature flag (or --nofilter) was given on the command line."""
    define_feature_flags()
    names = ["filter", *_FEATURE_FLAGS[0].flag_to_field]
    return any(FLAGS[name].present for name in names)


def feature_settings_from_flags(sample_rate: int, **fixed) -> features.FeatureSettings:
    """The FeatureSettings the feature flags describe at ``sample_rate`` Hz (``fixed``
    fields, e.g. clip_samples, added). A bad value is a one-line error naming its flag."""
    define_feature_flags()
    if not FLAGS.filter:
        fixed = dict(fixed, band_hz=None)
    return _FEATURE_FLAGS[0].build(sample_rate=int(sample_rate), **fixed)


_GRID_FLAGS: list = []


def define_grid_flags() -> None:
    """Defines --ray_address, --task_cache, --task_retries and --ray_workers (once)."""
    if not _GRID_FLAGS:
        _GRID_FLAGS.append(config_flags.define(runner.GridConfig))


def grid_config_from_flags() -> Optional[runner.GridConfig]:
    """The GridConfig of the grid flags, or None (the plain in-process loop) when neither
    --ray_address nor --task_cache was given."""
    define_grid_flags()
    config = _GRID_FLAGS[0].build()
    if config.ray_address is None and config.task_cache is None:
        return None
    return config


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
    flags.DEFINE_integer(
        "sample_rate", data.BUNDLED_SAMPLE_RATE, "Expected sample rate in Hz (0 = take the files')."
    )
    flags.DEFINE_boolean("resample", False, "Resample files at another rate instead of failing.")
    flags.DEFINE_integer("channel", None, "Channel to keep from multi-channel files (0-based).")
    flags.DEFINE_float(
        "clip_seconds", None, "Cut every file into clips of this many seconds (long recordings)."
    )
    flags.DEFINE_float("hop_seconds", None, "Hop between clips in seconds (default: clip length).")
    flags.DEFINE_list("classes", None, "Class folders to use, in label order (default: all).")
    flags.DEFINE_enum(
        "last_clip",
        "drop",
        list(data.LAST_MODES),
        "With --clip_seconds: drop a recording's partial last clip, or pad it with zeros.",
    )
    flags.DEFINE_boolean("skip_bad", False, "Skip bad files (and report them) instead of failing.")
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


@dataclasses.dataclass
class VAEFlags:
    """The generator flags of a script: a recipe name flag and the VAEConfig fields' flags."""

    recipe_flag: Optional[str]
    group: config_flags.FlagGroup

    def build(self, recipe: Optional[str] = None, **fixed) -> configs.VAEConfig:
        """The config of ``recipe`` (default: the recipe flag's value) with the flags given
        (then ``fixed``) applied."""
        return self.group.build(recipes.vae(recipe or FLAGS[self.recipe_flag].value), **fixed)


def define_vae_flags(
    recipe_flag: Optional[str] = "arch",
    default: str = "conv",
    fields: Optional[Sequence[str]] = None,
    *,
    rename: Optional[dict] = None,
    key: Optional[Sequence[str]] = None,
    help: Optional[dict] = None,
) -> VAEFlags:
    """``--<recipe_flag>`` (a ``drill_jax.recipes.vae`` name) and one flag per VAEConfig field
    in ``fields`` (default: all but the arch, which the recipe names); a field flag given on
    the command line replaces that field of the recipe's config, nothing else does. With
    ``recipe_flag`` None the script names the recipe itself (``VAEFlags.build``)."""
    if recipe_flag is not None:
        flags.DEFINE_enum(
            recipe_flag,
            default,
            list(recipes.VAE_NAMES),
            "Generator recipe (drill_jax.recipes.vae): conv (the paper's VAE), reference (the "
            "authors' layout), realistic (the most realistic generator: noise-shaping VAE, "
            "hop 32), noise* (noise-shaping VAEs trained like realistic), interp / phase_copy "
            "/ shaped_noise (reference generators, nothing learned). The VAE flags replace "
            "only the fields they name; their shown defaults are the paper recipe's.",
        )
    names = fields or [k for k, v in config_flags.field_paths(configs.VAEConfig).items() if v]
    group = config_flags.define(
        configs.VAEConfig,
        [n for n in names if n != "arch"],
        rename=rename,
        key=key,
        help=help,
        choices={
            "recon": objectives.RECONS,
            "kl": losses.KLS,
            "synth_mode": configs.SYNTH_MODES,
            "prior": configs.PRIORS,
        },
    )
    return VAEFlags(recipe_flag, group)
