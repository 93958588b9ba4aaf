"""Train and save a detector, optionally evaluate it: `python -m experiments.train_detector`.

  python -m experiments.train_detector --kind=supervised      # jax_cnn, both classes
  python -m experiments.train_detector --kind=unsupervised    # VAE on normal sounds only
  python -m experiments.train_detector --kind=unsupervised --evaluate   # + k-fold ROC-AUC/pAUC

Writes <out_dir>/<kind>/ (the detector directory, see drill_jax.export), <out_dir>/config.json
and, with --evaluate, <out_dir>/honest_eval.json (unsupervised VAE, supervised jax_cnn and a
label-free baseline on the same folds).
"""

from __future__ import annotations

import dataclasses
import os

import jax
from absl import flags

from drill_jax import files

from drill_jax.detection import anomaly

from drill_jax.classify import cnn

from drill_jax.detection import export

from drill_jax.vae import trainer
from experiments import common

common.define_data_flags("runs/detector")
FLAGS = flags.FLAGS
_KIND = flags.DEFINE_enum("kind", "supervised", list(export.KINDS), "Detector kind.")
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Where to save it (default <out_dir>/<kind>).")
_TRAIN = flags.DEFINE_boolean(
    "train", True, "Train and save the detector (--notrain: evaluate only)."
)
_EVALUATE = flags.DEFINE_boolean("evaluate", False, "Honest k-fold ROC-AUC / pAUC evaluation.")
_ANOMALY_CLASS = flags.DEFINE_string(
    "anomaly_class", "anomaly", "Name of the anomaly class folder."
)
_CLIP = flags.DEFINE_integer("clip_samples", None, "Samples per clip (default: shortest sound).")
_THRESHOLD = flags.DEFINE_float("threshold", 0.5, "Supervised: threshold on P(anomaly).")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Supervised: classifier epochs (default 60).")
_SCORE = flags.DEFINE_enum("score", "neg_elbo", list(anomaly.SCORES), "Unsupervised score.")
_RULE = flags.DEFINE_enum(
    "threshold_rule",
    "gamma",
    list(anomaly.THRESHOLD_RULES),
    "Unsupervised threshold: gamma fit (DCASE) or empirical percentile.",
)
_QUANTILE = flags.DEFINE_float("quantile", 0.9, "Normal-score quantile used as the threshold.")
_HOLDOUT = flags.DEFINE_float(
    "threshold_holdout",
    0.25,
    "Unsupervised: fraction of normal sounds kept out of training "
    "to choose the threshold on (0 = on the training sounds' scores, as DCASE).",
)
_INPUT_REPR = flags.DEFINE_enum(
    "input_repr",
    "logmel",
    list(anomaly.INPUT_REPRS),
    "Unsupervised: VAE on band-passed log-Mel (default) or on the raw waveform (paper's VAE).",
)
_TRAIN_HOP = flags.DEFINE_integer(
    "train_hop",
    None,
    "Train on every window of each sound at this hop (samples); "
    "default: the first clip of each sound only.",
)
_LATENT = flags.DEFINE_integer("latent_dim", None, "VAE latent size (default 2, the paper's).")
_VAE_EPOCHS = flags.DEFINE_integer("vae_epochs", None, "VAE epochs (log-Mel 50, waveform 20).")
_VAE_BATCH = flags.DEFINE_integer("vae_batch_size", None, "VAE batch size (default 8).")
_ENC = flags.DEFINE_list("enc_features", None, "VAE encoder widths (default: by input_repr).")
_DEC = flags.DEFINE_list("dec_features", None, "VAE decoder widths (default: by input_repr).")
_N_SPLITS = flags.DEFINE_integer("n_splits", 5, "--evaluate: folds.")
_N_REPEATS = flags.DEFINE_integer("n_repeats", 2, "--evaluate: repeats.")
_SEED = flags.DEFINE_integer("seed", 0, "Root seed.")


def vae_config() -> trainer.VAEConfig:
    """The default VAE for --input_repr with the VAE flags that were given applied."""
    cfg = anomaly.AnomalyConfig(input_repr=_INPUT_REPR.value).vae_config
    changes = {"seed": _SEED.value}
    for name, flag in (
        ("latent_dim", _LATENT),
        ("epochs", _VAE_EPOCHS),
        ("batch_size", _VAE_BATCH),
    ):
        if flag.value is not None:
            changes[name] = flag.value
    if _ENC.value:
        changes["enc_features"] = tuple(int(v) for v in _ENC.value)
    if _DEC.value:
        changes["dec_features"] = tuple(int(v) for v in _DEC.value)
    return dataclasses.replace(cfg, **changes)


def main(argv):
    del argv
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
    acfg = anomaly.AnomalyConfig(
        input_repr=_INPUT_REPR.value,
        train_hop=_TRAIN_HOP.value,
        score=_SCORE.value,
        threshold_rule=_RULE.value,
        quantile=_QUANTILE.value,
        threshold_holdout=_HOLDOUT.value,
        clip_samples=_CLIP.value,
        vae=vae_config(),
    )
    ccfg = cnn.ClassifierConfig(seed=_SEED.value)
    if _EPOCHS.value:
        ccfg = dataclasses.replace(ccfg, epochs=_EPOCHS.value)
    out_dir = FLAGS.out_dir
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {
            "kind": _KIND.value,
            "anomaly": dataclasses.asdict(acfg),
            "classifier": dataclasses.asdict(ccfg),
            "threshold": _THRESHOLD.value,
            "data_dir": FLAGS.data_dir,
            "n_sounds": len(ds),
            "class_names": list(ds.class_names),
        },
    )
    evaluation = None
    if _EVALUATE.value:
        evaluation = anomaly.evaluate_honest(
            ds, acfg, _N_SPLITS.value, _N_REPEATS.value, _SEED.value, pos, ccfg, progress=print
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
    if not _TRAIN.value:
        return
    key = jax.random.key(_SEED.value)
    info = {"data_dir": FLAGS.data_dir or "bundled Valmet", "n_sounds": len(ds)}
    if _KIND.value == "supervised":
        det = export.train_supervised_detector(
            ds.waveforms,
            ds.labels,
            ds.class_names,
            ds.sample_rate,
            pos,
            _CLIP.value,
            ccfg,
            key,
            threshold=_THRESHOLD.value,
            info=info,
            train_hop=_TRAIN_HOP.value,
        )
        eval_key = "jax_cnn_supervised"
    else:
        normal = [w for w, y in zip(ds.waveforms, ds.labels) if y != pos]
        names, idx = (("anomaly", "normal"), 0) if normal_only else (ds.class_names, pos)
        det = anomaly.train_unsupervised_detector(
            normal, ds.sample_rate, acfg, key, names, idx, info=info
        )
        eval_key = "vae"
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
    export.save_detector(model_dir, det)
    print(
        f"saved {det.kind} detector ({det.model}, score {det.score_name}, threshold "
        f"{det.threshold:.6g}: {det.threshold_rule}) to {model_dir}"
    )


if __name__ == "__main__":
    common.run_main(main)
