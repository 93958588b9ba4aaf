"""Every detector on the same honest folds: `python -m experiments.compare_detectors`.

python -m experiments.compare_detectors --crop=2000                # the paper's 1-22 kHz band
python -m experiments.compare_detectors --crop=2000 --nofilter     # the band left in (confound)

Writes <out_dir>/comparison.md and .json (one row per backbone, the nested `auto` headline,
each classical candidate on the test folds in a separate block), each backbone's result under
<out_dir>/<backbone>/ and the error audit of the `auto` row (audit.md, audit.png).
"""

from __future__ import annotations

import os

from absl import flags

from drill_jax import files
from drill_jax.classify import registry
from drill_jax.evaluation import audit_figure, compare, protocols, tables
from experiments import common, config_flags, flag_groups

common.define_data_flags("runs/compare")
flag_groups.define_feature_flags()
_PROTOCOL = config_flags.define(protocols.ProtocolConfig, ("n_splits", "n_repeats", "crop", "seed"))
_BACKBONES = flags.DEFINE_list(
    "backbones", list(compare.DEFAULT_BACKBONES), "Backbones to compare (same folds)."
)


def main(argv):
    del argv
    for name in _BACKBONES.value:
        registry.get(name)  # an unknown name fails here, before any work
    ds = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    config = _PROTOCOL.build(features=settings)
    out_dir = common.FLAGS.out_dir
    os.makedirs(out_dir, exist_ok=True)
    out = compare.compare_detectors(ds, config, _BACKBONES.value, out_dir)
    band = "none" if settings.band_hz is None else f"{settings.band_hz}"
    text = (
        f"# Detector comparison\n\n{protocols.HONEST_LABEL}; crop {config.crop}; band {band}; "
        f"{config.n_splits} x {config.n_repeats} folds, seed {config.seed}; "
        f"{out['seconds']:.0f} s in all\n\n"
        + tables.to_markdown(out["rows"])
        + "\n"
        + (compare.candidates_markdown(out["candidates"]) if out["candidates"] else "")
    )
    if "auto" in out["results"] and len(ds.class_names) == 2:
        report = audit_figure.write_audit(out["results"]["auto"], ds, out_dir)
        text += f"\nError audit of the auto row: {report['n_hard']} of {report['n_sounds']} "
        text += "sounds misclassified in most folds (audit.md, audit.png).\n"
    files.atomic_write_text(os.path.join(out_dir, "comparison.md"), text)
    files.atomic_write_json(
        os.path.join(out_dir, "comparison.json"),
        {k: out[k] for k in ("rows", "candidates", "config", "seconds")},
    )
    print(text)


if __name__ == "__main__":
    common.run_main(main)
