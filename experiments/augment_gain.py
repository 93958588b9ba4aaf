"""Does generator augmentation help? Paired comparison on the same honest folds:
`python -m experiments.augment_gain`.

For each crop and backbone: the honest protocol without augmentation and with
``--augment=vae`` (the generator ``--vae_arch``, fitted inside each training fold, scored on
real held-out sounds only), in one process (the backbones share each fold's synthesis), then
``evaluation.paired.comparison_row`` (mean difference of balanced accuracy with a 95 %
t interval and the Wilcoxon signed-rank p). Writes <out_dir>/<crop>/<backbone>/<augment>/
result.json, comparison.json and comparison.md.

    python -m experiments.augment_gain --vae_arch=realistic --n_repeats=2 \
        --backbones=jax_cnn,clip_svm --crops=none,2000
    # or compare two existing result.json files (same folds):
    python -m experiments.augment_gain --treated=A/result.json --control=B/result.json
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from drill_jax import files
from drill_jax.classify import registry
from drill_jax.evaluation import paired, pipeline, protocols
from experiments import common, config_flags, flag_groups, vae_flags

common.define_data_flags("runs/augment_gain")
flag_groups.define_feature_flags()
_VAE = vae_flags.define(
    "vae_arch",
    "realistic",
    ("epochs",),
    rename={"epochs": "vae_epochs"},
    help={"epochs": "The generator's epochs (given: replaces the recipe's)."},
)
_BACKBONES = flags.DEFINE_list("backbones", ["jax_cnn", "clip_svm"], "Detectors compared.")
_CROPS = flags.DEFINE_list("crops", ["none", "2000"], "Clip crops ('none' or samples).")
_PROTOCOL = config_flags.define(
    protocols.ProtocolConfig, ("n_splits", "n_repeats", "n_add_per_class", "seed")
)
_TREATED = flags.DEFINE_string("treated", None, "Compare this result.json ...")
_CONTROL = flags.DEFINE_string("control", None, "... with this one (same folds), and stop.")


def main(argv):
    del argv
    out_dir = common.FLAGS.out_dir
    os.makedirs(out_dir, exist_ok=True)
    if _TREATED.value or _CONTROL.value:
        if not (_TREATED.value and _CONTROL.value):
            raise ValueError("--treated and --control go together")
        row = paired.comparison_row(
            "treated - control", files.read_json(_TREATED.value), files.read_json(_CONTROL.value)
        )
        print(paired.markdown([row]))
        return
    for name in _BACKBONES.value:
        if name not in registry.BACKBONES:
            raise ValueError(f"--backbones: unknown backbone {name!r}")
    ds = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    vae = _VAE.build(seed=_PROTOCOL.build().seed)
    rows = []
    for crop_text in _CROPS.value:
        crop = None if crop_text.lower() == "none" else int(crop_text)
        for backbone in _BACKBONES.value:
            results = {}
            for aug in ("none", "vae"):
                pconfig = _PROTOCOL.build(
                    protocol="honest", augment=aug, crop=crop, features=settings
                )
                where = os.path.join(out_dir, crop_text, backbone, aug)
                results[aug] = pipeline.run_classification(
                    ds, pconfig, registry.DetectorConfig(backbone=backbone), where, vae
                )
            name = f"{backbone}, crop {crop_text}: vae ({vae.network.arch}) - none"
            rows.append(paired.comparison_row(name, results["vae"], results["none"]))
            print(paired.markdown(rows[-1:]))
            files.atomic_write_json(
                os.path.join(out_dir, "comparison.json"),
                {
                    "vae": dataclasses.asdict(vae),
                    "n_splits": pconfig.n_splits,
                    "n_repeats": pconfig.n_repeats,
                    "rows": rows,
                },
            )
    table = paired.markdown(rows)
    files.atomic_write_text(os.path.join(out_dir, "comparison.md"), table)
    print(table)


if __name__ == "__main__":
    common.run_main(main)
