"""A fleet: one detector per machine, trained as grid tasks (in this process or on Ray).

``fleet_dir/<machine>/<class>/*.wav`` holds each machine's sounds. Each machine's sounds are
loaded here (a folder that cannot be loaded is reported by name and skipped), its detector
is trained as one task (the task's key covers the sounds, the settings and the seed, so a
rerun with the same ``task_cache`` loads finished machines), and the detector comes back to
this process, which saves it under ``out_dir/<machine>/<model>/``. A machine whose training
fails is reported by name with a one-line reason; the other machines complete.
``fleet.md`` / ``fleet.json`` summarise every machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any, Optional

import jax
import numpy as np

from drill_jax import data as data_lib
from drill_jax import features, files
from drill_jax.detection import build, registry
from drill_jax.detection import detector as detector_lib
from drill_jax.evaluation import fold_tasks, tables
from drill_jax.grid import keys, runner

COLUMNS = ("machine", "sounds", "kind", "threshold", "train_seconds", "status", "detector")


@dataclasses.dataclass(frozen=True)
class FleetRecipe:
    """How every machine's detector is trained (the same for the whole fleet).

    Attributes:
      model: a model of ``detection.registry``; model_config: its Config (None = the
        model's defaults).
      train: clips, hold-out and thresholds (``build.TrainConfig``).
      alarm: the streaming alert settings recorded in each detector (``alarms.AlarmConfig``
        fields; None = none recorded).
      anomaly_class: name of the anomaly class folder (a machine without it counts every
        sound as normal; supervised models then fail for that machine).
    """

    model: str = registry.DEFAULT["supervised"]
    model_config: Any = None
    train: build.TrainConfig = build.TrainConfig()
    alarm: Optional[dict] = None
    anomaly_class: str = "anomaly"

    def __post_init__(self):
        module = registry.get(self.model)
        if self.model_config is not None and not isinstance(self.model_config, module.Config):
            got = type(self.model_config).__name__
            raise ValueError(f"model_config: a {self.model} Config, got {got}")

    @property
    def config(self) -> Any:
        """The model's config: ``model_config`` or the model's defaults."""
        return self.model_config or registry.get(self.model).Config()

    @property
    def kind(self) -> str:
        return registry.get(self.model).KIND


def machine_folders(fleet_dir: str) -> list[str]:
    """The machine sub-folders of ``fleet_dir``, sorted; one-line error if there are none."""
    if not os.path.isdir(fleet_dir):
        raise FileNotFoundError(f"--fleet_dir {fleet_dir}: no such folder")
    names = sorted(n for n in os.listdir(fleet_dir) if os.path.isdir(os.path.join(fleet_dir, n)))
    if not names:
        raise ValueError(f"--fleet_dir {fleet_dir}: no machine folders (<machine>/<class>/*.wav)")
    return names


def train_machine(
    ds: data_lib.Dataset,
    recipe: FleetRecipe,
    settings: features.FeatureSettings,
    machine: Optional[str],
    info: Optional[dict] = None,
) -> dict:
    """Trains one machine's detector (a grid task; also ``train_detector`` on one dataset,
    ``machine`` None). Returns {'detector': Detector with NumPy variables, 'train_seconds'}."""
    t0 = time.perf_counter()
    has_anomaly = recipe.anomaly_class in ds.class_names
    ds = dataclasses.replace(ds, positive_class=recipe.anomaly_class if has_anomaly else None)
    if not has_anomaly and recipe.kind == "supervised":
        raise ValueError(
            f"no class folder named {recipe.anomaly_class!r} (classes: {list(ds.class_names)}); "
            "a supervised detector needs fault recordings"
        )
    info = dict(info or {}, n_sounds=len(ds), alarm=dict(recipe.alarm or {}))
    if machine is not None:
        info["machine"] = machine
    det = build.train(ds, recipe.model, recipe.config, settings, recipe.train, info)
    det = dataclasses.replace(det, variables=jax.tree.map(np.asarray, det.variables))
    return {"detector": det, "train_seconds": time.perf_counter() - t0}


def train_fleet(
    fleet_dir: str,
    out_dir: str,
    recipe: FleetRecipe,
    settings_for: Callable[[int], features.FeatureSettings],
    load_kwargs: Optional[dict] = None,
    grid: Optional[runner.GridConfig] = None,
    say: Optional[Callable[[str], None]] = None,
) -> list[dict]:
    """Trains and saves one detector per machine folder; writes out_dir/fleet.{md,json}.

    ``settings_for(sample_rate)``: the feature settings at a machine's rate.
    ``load_kwargs``: ``data.load_dataset`` arguments (rate, channel, clips, ...).
    Returns one summary row per machine (``COLUMNS``), failed machines included.
    """
    say = say or (lambda msg: None)
    grid = grid or runner.GridConfig()
    rows, tasks = {}, []
    for machine in machine_folders(fleet_dir):
        row = {
            "machine": machine,
            "kind": f"{recipe.kind} {recipe.model}",
            "sounds": "",
            "threshold": "",
            "detector": "",
        }
        rows[machine] = row
        try:
            ds = data_lib.load_dataset(os.path.join(fleet_dir, machine), **(load_kwargs or {}))
            settings = settings_for(ds.sample_rate)
        except (data_lib.AudioError, FileNotFoundError, ValueError) as err:
            row.update(status=f"skipped: {runner.one_line(err)}", train_seconds="")
            say(f"machine {machine} skipped: {runner.one_line(err)}")
            continue
        counts = np.bincount(ds.labels, minlength=len(ds.class_names))
        row["sounds"] = ", ".join(f"{c} {n}" for c, n in zip(ds.class_names, counts))
        tasks.append(
            keys.make_task(
                machine,
                train_machine,
                ds=fold_tasks.portable(ds),
                recipe=recipe,
                settings=settings,
                machine=machine,
            )
        )
    report = runner.run_grid(tasks, grid, say)
    failed = {f.name: f for f in report.failures}
    for task, result in zip(tasks, report.results):
        row = rows[task.name]
        if task.name in failed:
            f = failed[task.name]
            row.update(status=f"failed: {f.error_type}: {f.reason}", train_seconds="")
            continue
        det = result["detector"]
        model_dir = os.path.join(out_dir, task.name, recipe.model)
        detector_lib.save_detector(model_dir, det)
        row.update(
            threshold=f"{det.threshold:.6g}",
            train_seconds=f"{result['train_seconds']:.1f}",
            status="ok",
            detector=os.path.relpath(model_dir, out_dir),
        )
    out = [rows[m] for m in rows]
    md = "## Fleet: one detector per machine\n\n" + tables.to_markdown(out, COLUMNS)
    files.atomic_write_text(os.path.join(out_dir, "fleet.md"), md)
    files.atomic_write_json(
        os.path.join(out_dir, "fleet.json"),
        {"fleet_dir": fleet_dir, "recipe": dataclasses.asdict(recipe), "machines": out},
    )
    return out


def recipe_json(recipe: FleetRecipe, settings: features.FeatureSettings) -> dict:
    """A run's config.json: the model, its config, training and feature settings."""
    return {
        "model": recipe.model,
        "model_config": registry.config_to_json(recipe.config),
        "train": dataclasses.asdict(recipe.train),
        "alarm": recipe.alarm,
        "features": settings.to_json(),
    }


def save_machine(
    ds: data_lib.Dataset,
    recipe: FleetRecipe,
    settings: features.FeatureSettings,
    path: str,
    info: Optional[dict] = None,
    evaluation: Optional[dict] = None,
) -> detector_lib.Detector:
    """Trains one detector (``train_machine``) and saves it at ``path``; with an honest
    ``evaluation`` (``honest.evaluate_honest``) holding its model, that row is recorded as
    the metrics of its training recipe."""
    det = train_machine(ds, recipe, settings, None, info)["detector"]
    if evaluation is not None and recipe.model in evaluation["summary"]:
        note = evaluation["label"] + " (metrics of this training recipe, not of this exact model)"
        metrics = {"honest_cv": evaluation["summary"][recipe.model], "honest_cv_note": note}
        det = dataclasses.replace(det, metrics=metrics)
    detector_lib.save_detector(path, det)
    return det
