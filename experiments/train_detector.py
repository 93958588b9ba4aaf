"""Train and save a detector: `python -m experiments.train_detector [--kind=unsupervised]
[--model=NAME] [--evaluate] [--time_to_alert] [--fleet_dir=DIR]`.

Writes <out_dir>/<model>/ (a detector directory), <out_dir>/config.json; --evaluate:
honest_eval.json (every model of --models on the same folds); --time_to_alert:
time_to_alert.{json,md}; --fleet_dir: one detector per machine folder. Model settings: one
flag per plain field of each model's Config, <model>_<field> (e.g. --knn_k, --jax_cnn_epochs).
"""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from drill_jax import files
from drill_jax.detection import alarms, build, fleet, honest, registry, stream_eval
from drill_jax.vae import trainer
from experiments import common, config_flags, flag_groups

common.define_data_flags("runs/detector")
flag_groups.define_feature_flags()
flag_groups.define_grid_flags()
FLAGS = flags.FLAGS
_FLEET_DIR = flags.DEFINE_string("fleet_dir", None, "One detector per DIR/<machine>/<class>/.")
_KIND = flags.DEFINE_enum("kind", "supervised", list(registry.KINDS), "Default model's kind.")
_MODEL = flags.DEFINE_enum(
    "model", None, list(registry.MODELS), f"Detector model (default by --kind: {registry.DEFAULT})."
)
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Save it here (default <out_dir>/<model>).")
_TRAIN = flags.DEFINE_boolean("train", True, "Train and save (--notrain: evaluate only).")
_EVALUATE = flags.DEFINE_boolean("evaluate", False, "Honest k-fold table of --models.")
_TIME_TO_ALERT = flags.DEFINE_boolean("time_to_alert", False, "Alerts on held-out streams.")
_ANOMALY_CLASS = flags.DEFINE_string("anomaly_class", "anomaly", "Anomaly class folder.")
_TRAIN_CFG = config_flags.define(build.TrainConfig, key=("train_hop", "seed"))
_HONEST = config_flags.define(honest.HonestConfig, ("n_splits", "n_repeats", "models"), key=())
_ALERTS = alarms.AlarmConfig(threshold=0.0)  # recorded without it: the window threshold applies
_ALERT_FIELDS = ("on_windows", "off_windows", "smooth_windows")
_ALARM = config_flags.define(
    alarms.AlarmConfig,
    _ALERT_FIELDS,
    rename={f: "alert_" + f for f in _ALERT_FIELDS},
    defaults=_ALERTS,
    key=(),
)
_PLAN = config_flags.define(stream_eval.StreamPlan, key=())
_VAE = config_flags.define(
    trainer.VAEConfig,
    ("latent_dim", "epochs", "batch_size"),
    rename={"latent_dim": "vae_latent_dim", "epochs": "vae_epochs", "batch_size": "vae_batch_size"},
    key=(),
)
_MODEL_FLAGS = {  # one flag per simple field (not nested configs) of every model's Config
    name: config_flags.define(m.Config, fields, rename={f: f"{name}_{f}" for f in fields}, key=())
    for name, m in registry.MODELS.items()
    for fields in [tuple(f.name for f in registry.simple_fields(m.Config))]
    if fields  # a model whose settings are all nested configs has no flags of its own
}


def model_name() -> str:
    """--model, or the default model of --kind."""
    return _MODEL.value or registry.DEFAULT[_KIND.value]


def model_config(name: str):
    """Model ``name``'s Config from its flags; a nested VAE network (a field ``vae``) from
    the --vae_* flags over the model's default network."""
    config = _MODEL_FLAGS[name].build() if name in _MODEL_FLAGS else registry.get(name).Config()
    if "vae" not in {f.name for f in dataclasses.fields(config)}:
        return config
    vae = _VAE.build(config.vae_config, seed=_TRAIN_CFG.build().seed)
    return dataclasses.replace(config, vae=vae)


def recipe() -> fleet.FleetRecipe:
    """How a detector is trained (one dataset or every machine of a fleet), from the flags."""
    alarm = _ALARM.build(_ALERTS)
    return fleet.FleetRecipe(
        model=model_name(),
        model_config=model_config(model_name()),
        train=_TRAIN_CFG.build(),
        alarm={k: getattr(alarm, k) for k in _ALERT_FIELDS},
        anomaly_class=_ANOMALY_CLASS.value,
    )


def evaluate(ds, settings, out_dir: str) -> dict:
    """--evaluate: the honest table of --models (this model's flags included)."""
    configs = {n: model_config(n) for n in _HONEST.build().models}
    train, hon = _TRAIN_CFG.build(), _HONEST.build()
    result = honest.evaluate_honest(ds, settings, configs, train, hon, print)
    files.atomic_write_json(os.path.join(out_dir, "honest_eval.json"), result)
    print(honest.summary_text(result))
    return result


def time_to_alert(ds, settings, out_dir: str) -> None:
    """--time_to_alert: this recipe's alert settings and a short-event setting on streams."""
    rec = recipe()
    result = stream_eval.time_to_alert(
        ds,
        lambda half: fleet.train_machine(half, rec, settings, None)["detector"],
        lambda det: stream_eval.alarm_settings(det.threshold, rec.alarm),
        _PLAN.build(),
        rec.train.seed,
    )
    files.atomic_write_json(os.path.join(out_dir, "time_to_alert.json"), result)
    text = stream_eval.to_markdown(result)
    files.atomic_write_text(os.path.join(out_dir, "time_to_alert.md"), text)
    print(text)


def train_fleet() -> None:
    """--fleet_dir: one detector per machine folder (drill_jax.detection.fleet)."""
    if _EVALUATE.value or _TIME_TO_ALERT.value or _MODEL_DIR.value or FLAGS.data_dir:
        raise ValueError("--fleet_dir trains every machine; drop --evaluate/--model_dir/--data_dir")
    args = ({"options": common.load_options_from_flags()}, flag_groups.grid_config_from_flags(), print)
    settings = flag_groups.feature_settings_from_flags
    rows = fleet.train_fleet(_FLEET_DIR.value, FLAGS.out_dir, recipe(), settings, *args)
    bad = [r["machine"] for r in rows if r["status"] != "ok"]
    if bad:  # the other machines are trained and saved
        raise SystemExit(f"{len(bad)} machine(s) without a detector: {', '.join(bad)}")


def main(argv):
    del argv
    if _FLEET_DIR.value:
        return train_fleet()
    ds = common.load_data_from_flags()
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    rec, out_dir = recipe(), FLAGS.out_dir
    run = dict(fleet.recipe_json(rec, settings), data_dir=FLAGS.data_dir)
    files.atomic_write_json(os.path.join(out_dir, "config.json"), run)
    evaluation = evaluate(ds, settings, out_dir) if _EVALUATE.value else None
    if _TIME_TO_ALERT.value:
        time_to_alert(ds, settings, out_dir)
    if _TRAIN.value:
        path = _MODEL_DIR.value or os.path.join(out_dir, rec.model)
        info = {"data_dir": FLAGS.data_dir or "bundled Valmet"}
        det = fleet.save_machine(ds, rec, settings, path, info, evaluation)
        print(
            f"saved {det.model} to {path}: thresholds {det.threshold:.4g} (window), "
            f"{det.file_threshold:.4g} (file); {det.file_threshold_rule}"
        )


if __name__ == "__main__":
    common.run_main(main)
