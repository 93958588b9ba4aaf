"""Train and save a detector, optionally evaluate it: `python -m experiments.train_detector`.

  python -m experiments.train_detector --kind=supervised      # classical recipes, chosen by CV
  python -m experiments.train_detector --kind=supervised --model=jax_cnn   # the JAX CNN
  python -m experiments.train_detector --kind=unsupervised    # VAE on normal sounds only
  python -m experiments.train_detector --kind=unsupervised --evaluate   # + k-fold ROC-AUC/pAUC
  python -m experiments.train_detector --fleet_dir=DIR [--ray_address=local]  # per machine

Writes <out_dir>/<kind>/ (the detector directory, see drill_jax.detection.detector),
<out_dir>/config.json
and, with --evaluate, <out_dir>/honest_eval.json (unsupervised VAE, supervised jax_cnn and a
label-free baseline on the same folds).
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from drill_jax import files
from drill_jax.classify import cnn
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import fleet, honest, scoring, stream_eval, unsupervised
from drill_jax.vae import trainer
from experiments import common, config_flags

common.define_data_flags("runs/detector")
common.define_feature_flags()
common.define_grid_flags()
FLAGS = flags.FLAGS
_FLEET_DIR = flags.DEFINE_string(
    "fleet_dir",
    None,
    "Train one detector per machine folder DIR/<machine>/<class>/*.wav, as grid tasks "
    "(--ray_address, --task_cache); writes <out_dir>/<machine>/<kind>/ and "
    "<out_dir>/fleet.md/.json. Folders that fail are reported by name and skipped.",
)
_KIND = flags.DEFINE_enum("kind", "supervised", list(detector_lib.KINDS), "Detector kind.")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Where to save it (default <out_dir>/<kind>).")
_TRAIN = flags.DEFINE_boolean(
    "train", True, "Train and save the detector (--notrain: evaluate only)."
)
_EVALUATE = flags.DEFINE_boolean("evaluate", False, "Honest k-fold ROC-AUC / pAUC evaluation.")
_ANOMALY_CLASS = flags.DEFINE_string(
    "anomaly_class", "anomaly", "Name of the anomaly class folder."
)
_THRESHOLD = flags.DEFINE_float("threshold", 0.5, "Supervised: threshold on P(anomaly).")
_MODEL = flags.DEFINE_enum(
    "model",
    "auto",
    ["auto", "jax_cnn"],
    "Supervised model: 'auto' = the classical recipes on clip features (logistic regression / "
    "RBF-SVM, the three best by grouped cross-validation on the training sounds, as "
    "experiments.classify --backbone=auto), or 'jax_cnn'.",
)
_ALERT_THRESHOLD = flags.DEFINE_float(
    "alert_threshold",
    0.55,
    "Supervised 'auto' model: streaming alerts: threshold on the smoothed P(anomaly), "
    "recorded in the detector for experiments.detect --stream (files keep --threshold).",
)
_ALERT_ON = flags.DEFINE_integer(
    "alert_on_windows",
    3,
    "Supervised 'auto' model: streaming alerts: consecutive smoothed windows >= the alert "
    "threshold that raise an alert.",
)
_ALERT_SMOOTH = flags.DEFINE_integer(
    "alert_smooth_windows",
    40,
    "Supervised 'auto' model: streaming alerts: mean of the last N window scores (N = 40 at "
    "the default 1000-sample hop: 0.42 s). Defaults chosen from the long-stream trade-off on "
    "held-out sounds (README).",
)
_STREAM_MINUTES = flags.DEFINE_float(
    "stream_minutes",
    0.0,
    "--evaluate, supervised: also the long-stream trade-off on held-out sounds with streams "
    "of this many minutes per half and class (0 = skip; 5 in README).",
)
_SUP_HOP = flags.DEFINE_integer(
    "supervised_train_hop",
    1000,
    "Supervised 'auto' model: train on every window of each sound at this hop (samples), so "
    "the detector has seen the offsets a stream shows it; 0 = first clip only.",
)
_ANOMALY = config_flags.define(
    unsupervised.AnomalyConfig,
    (
        "input_repr",
        "score",
        "threshold_rule",
        "quantile",
        "threshold_holdout",
        "clip_samples",
        "train_hop",
    ),
    choices={
        "input_repr": detector_lib.INPUT_REPRS,
        "score": scoring.SCORES,
        "threshold_rule": unsupervised.THRESHOLD_RULES,
    },
    help={
        "input_repr": "Unsupervised: VAE on log-Mel (default) or on the raw waveform "
        "(paper's VAE).",
        "score": "Unsupervised score.",
        "clip_samples": "Samples per clip (default: shortest sound).",
        "train_hop": "Train on every window of each sound at this hop (samples); default: "
        "the first clip of each sound only.",
    },
)
# VAE settings; a flag left out keeps the default of --input_repr's VAE.
_VAE = config_flags.define(
    trainer.VAEConfig,
    ("latent_dim", "epochs", "batch_size", "enc_features", "dec_features"),
    rename={"epochs": "vae_epochs", "batch_size": "vae_batch_size"},
    help={
        "latent_dim": "VAE latent size (default 2, the paper's).",
        "epochs": "VAE epochs (default by --input_repr: log-Mel 50, waveform 20).",
        "batch_size": "VAE batch size (default 8).",
        "enc_features": "VAE encoder widths (default: by --input_repr).",
        "dec_features": "VAE decoder widths (default: by --input_repr).",
    },
)
_CLASSIFIER = config_flags.define(
    cnn.ClassifierConfig, ("epochs",), help={"epochs": "Supervised: classifier epochs."}
)
_N_SPLITS = flags.DEFINE_integer("n_splits", 5, "--evaluate: folds.")
_N_REPEATS = flags.DEFINE_integer("n_repeats", 2, "--evaluate: repeats.")
_SEED = flags.DEFINE_integer("seed", 0, "Root seed.")


def vae_config() -> trainer.VAEConfig:
    """The default VAE for --input_repr with the VAE flags that were given applied."""
    input_repr = _ANOMALY.build().input_repr
    base = unsupervised.AnomalyConfig(input_repr=input_repr).vae_config
    return _VAE.build(base, seed=_SEED.value)


def alert_settings() -> dict:
    """The streaming alert settings recorded in a classical detector."""
    return {
        "threshold": _ALERT_THRESHOLD.value,
        "on_windows": _ALERT_ON.value,
        "off_windows": 2,
        "smooth_windows": _ALERT_SMOOTH.value,
    }


def recipe_from_flags() -> fleet.FleetRecipe:
    """How a detector is trained (one dataset or every machine of a fleet), from the flags."""
    return fleet.FleetRecipe(
        kind=_KIND.value,
        model=_MODEL.value,
        classical_train_hop=_SUP_HOP.value or None,
        alarm=alert_settings(),
        anomaly_class=_ANOMALY_CLASS.value,
        threshold=_THRESHOLD.value,
        anomaly=_ANOMALY.build(vae=vae_config()),
        classifier=_CLASSIFIER.build(seed=_SEED.value),
        seed=_SEED.value,
    )


def train_fleet() -> None:
    """--fleet_dir: one detector per machine folder (drill_jax.detection.fleet)."""
    if _EVALUATE.value or _MODEL_DIR.value or FLAGS.data_dir:
        raise ValueError("--fleet_dir trains every machine; drop --evaluate/--model_dir/--data_dir")
    rows = fleet.train_fleet(
        _FLEET_DIR.value,
        FLAGS.out_dir,
        recipe_from_flags(),
        common.feature_settings_from_flags,
        common.load_kwargs_from_flags(),
        common.grid_config_from_flags(),
        say=print,
    )
    with open(os.path.join(FLAGS.out_dir, "fleet.md"), encoding="utf-8") as f:
        print(f.read())
    bad = [r["machine"] for r in rows if r["status"] != "ok"]
    if bad:  # the other machines are trained and saved
        raise SystemExit(f"{len(bad)} machine(s) without a detector: {', '.join(bad)}")


def main(argv):
    del argv
    if _FLEET_DIR.value:
        return train_fleet()
    ds = common.load_data_from_flags()
    normal_only = _ANOMALY_CLASS.value not in ds.class_names
    if normal_only and (_KIND.value == "supervised" or _EVALUATE.value):
        raise ValueError(
            f"no class folder named {_ANOMALY_CLASS.value!r} (classes: {ds.class_names}); "
            "pass --anomaly_class, or train --kind=unsupervised (normal sounds only) "
            "without --evaluate"
        )
    # Normal-only data (no fault recordings yet): every sound counts as normal.
    pos = None if normal_only else ds.class_names.index(_ANOMALY_CLASS.value)
    acfg = _ANOMALY.build(vae=vae_config())
    ccfg = _CLASSIFIER.build(seed=_SEED.value)
    settings = common.feature_settings_from_flags(ds.sample_rate)
    out_dir = FLAGS.out_dir
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {
            "kind": _KIND.value,
            "anomaly": dataclasses.asdict(acfg),
            "classifier": dataclasses.asdict(ccfg),
            "threshold": _THRESHOLD.value,
            "features": settings.to_json(),
            "data_dir": FLAGS.data_dir,
            "n_sounds": len(ds),
            "class_names": list(ds.class_names),
        },
    )
    evaluation = None
    if _EVALUATE.value:
        evaluation = honest.evaluate_honest(
            ds,
            acfg,
            _N_SPLITS.value,
            _N_REPEATS.value,
            _SEED.value,
            pos,
            ccfg,
            progress=print,
            settings=settings,
            classical_train_hop=_SUP_HOP.value,
        )
        path = os.path.join(out_dir, "honest_eval.json")
        files.atomic_write_json(path, evaluation)
        for name, summ in evaluation["summary"].items():
            auc, pauc = summ["roc_auc"], summ["pauc"]
            print(
                f"{name:20s} ROC-AUC {auc['mean']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]"
                f"  pAUC(FPR<=0.1) {pauc['mean']:.3f} [{pauc['ci_low']:.3f}, {pauc['ci_high']:.3f}]"
                f"  TPR {summ['tpr']['mean']:.3f} FPR {summ['fpr']['mean']:.3f}"
            )
        print("pAUC: " + evaluation["pauc_definition"])
        print(f"wrote {path}")
        if _STREAM_MINUTES.value > 0 and _KIND.value == "supervised" and _MODEL.value == "auto":
            trade = stream_eval.stream_tradeoff(
                ds,
                lambda half: fleet.train_machine(half, recipe_from_flags(), settings, None)[
                    "detector"
                ],
                pos,
                minutes=_STREAM_MINUTES.value,
                seed=_SEED.value,
                thresholds=(0.5, 0.55, 0.6),
                on_windows=(1, 3, 5),
                smooth_windows=(1, 20, 40, 80),
            )
            files.atomic_write_json(os.path.join(out_dir, "stream_tradeoff.json"), trade)
            files.atomic_write_text(
                os.path.join(out_dir, "stream_tradeoff.md"), stream_eval.to_markdown(trade)
            )
            print(stream_eval.to_markdown(trade))
    if not _TRAIN.value:
        return
    info = {"data_dir": FLAGS.data_dir or "bundled Valmet"}
    det = fleet.train_machine(ds, recipe_from_flags(), settings, None, info)["detector"]
    eval_key = {"clip_classical": "clip_classical_supervised", "jax_cnn": "jax_cnn_supervised"}
    eval_key = eval_key.get(det.model, "vae")
    if evaluation is not None:
        det = dataclasses.replace(
            det,
            metrics={
                "honest_cv": evaluation["summary"][eval_key],
                "honest_cv_note": evaluation["label"] + " (metrics of this training recipe, "
                "not of this exact model)",
                "pauc_definition": evaluation["pauc_definition"],
            },
        )
    model_dir = _MODEL_DIR.value or os.path.join(out_dir, _KIND.value)
    detector_lib.save_detector(model_dir, det)
    print(
        f"saved {det.kind} detector ({det.model}, score {det.score_name}, threshold "
        f"{det.threshold:.6g}: {det.threshold_rule}) to {model_dir}"
    )


if __name__ == "__main__":
    common.run_main(main)
