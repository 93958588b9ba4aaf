"""The feature and task-grid flag groups that several experiment scripts share."""

from __future__ import annotations

import functools
from typing import Optional

from absl import flags

from drill_jax import features
from drill_jax.features import filters
from drill_jax.grid import runner
from experiments import config_flags, flag_parsers

FLAGS = flags.FLAGS
flags.disclaim_key_flags()  # the flags belong to the experiment that asks for them
_MORE = {"module_name": __name__}  # listed by --helpfull only

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


@functools.lru_cache(maxsize=1)
def define_feature_flags() -> config_flags.FlagGroup:
    """Defines --filter and one flag per FeatureSettings field in FEATURE_FLAG_FIELDS (once);
    returns their group."""
    flags.DEFINE_boolean(
        "filter",
        True,
        "Band-pass first (--band_hz; MATLAB highpass then lowpass, zero phase). "
        "--nofilter: no filter.",
        **_MORE,
    )
    return config_flags.define(
        features.FeatureSettings,
        FEATURE_FLAG_FIELDS,
        parsers={"band_hz": flag_parsers.parse_band},
        choices={"filter_design": filters.DESIGNS, "filter_method": filters.METHODS},
        key=(),
        help={
            "band_hz": "LOW,HIGH band-pass edges in Hz (paper: 1000,22000); leave one "
            "empty for a high-pass (LOW,) or a low-pass (,HIGH) alone."
        },
    )


def feature_flags_given() -> bool:
    """True when any feature flag (or --nofilter) was given on the command line."""
    names = ["filter", *define_feature_flags().flag_to_path]
    return any(FLAGS[name].present for name in names)


def feature_settings_from_flags(sample_rate: int, **fixed) -> features.FeatureSettings:
    """The FeatureSettings the feature flags describe at ``sample_rate`` Hz (``fixed``
    fields, e.g. clip_samples, added). A bad value is a one-line error naming its flag."""
    group = define_feature_flags()
    if not FLAGS.filter:
        fixed = dict(fixed, band_hz=None)
    return group.build(sample_rate=int(sample_rate), **fixed)


@functools.lru_cache(maxsize=1)
def define_grid_flags() -> config_flags.FlagGroup:
    """Defines --ray_address, --task_cache, --task_retries and --ray_workers (once); returns
    their group."""
    return config_flags.define(runner.GridConfig, key=())


def grid_config_from_flags() -> Optional[runner.GridConfig]:
    """The GridConfig of the grid flags, or None (the plain in-process loop) when neither
    --ray_address nor --task_cache was given."""
    config = define_grid_flags().build()
    if config.ray_address is None and config.task_cache is None:
        return None
    return config
