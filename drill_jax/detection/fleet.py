"""A fleet: one detector per machine, trained as grid tasks (in this process or on Ray).

``fleet_dir/<machine>/<class>/*.wav`` holds each machine's sounds. Each machine's sounds are
loaded here (a folder that cannot be loaded is reported by name and skipped), its detector
is trained as one task (the task's key covers the sounds, the settings and the seed, so a
rerun with the same ``task_cache`` loads finished machines), and the detector comes back to
this process, which saves it under ``out_dir/<machine>/<kind>/``. A machine whose training
fails is reported by name with a one-line reason; the other machines complete.
``fleet.md`` / ``fleet.json`` summarise every machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Optional

import jax
import numpy as np

from drill_jax import data as data_lib
from drill_jax import features, files
from drill_jax.classify import cnn
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import supervised, unsupervised
from drill_jax.evaluation import fold_tasks, tables
from drill_jax.grid import keys, runner

COLUMNS = ("machine", "sounds", "kind", "threshold", "train_seconds", "status", "detector")


@dataclasses.dataclass(frozen=True)
class FleetRecipe:
    """How every machine's detector is trained (the same for the whole fleet).

    Attributes:
      kind: 'supervised' (needs the anomaly class) or 'unsupervised' (VAE on the normal
        sounds; a machine without the anomaly class counts every sound as normal).
      model: supervised model: 'auto' (classical recipes chosen by cross-validation on the
        machine's sounds, ``supervised.train_classical_detector``) or 'jax_cnn'.
      classical_train_hop: 'auto': train on every window at this hop (None = first clip).
      alarm: 'auto': the streaming alert settings recorded in each detector
        (``alarms.AlarmConfig`` fields; None = none recorded).
      anomaly_class: name of the anomaly class folder.
      threshold: supervised threshold on P(anomaly).
      anomaly: the unsupervised detector's settings (VAE, score, threshold rule, clips).
      classifier: the supervised classifier's settings.
      seed: root seed (the same key for every machine).
    """

    kind: str = "supervised"
    model: str = "auto"
    classical_train_hop: Optional[int] = 1000
    alarm: Optional[dict] = None
    anomaly_class: str = "anomaly"
    threshold: float = 0.5
    anomaly: unsupervised.AnomalyConfig = unsupervised.AnomalyConfig()
    classifier: cnn.ClassifierConfig = cnn.ClassifierConfig()
    seed: int = 0

    def __post_init__(self):
        if self.kind not in detector_lib.KINDS:
            raise ValueError(f"kind: must be one of {tuple(detector_lib.KINDS)}, got {self.kind}")
        if self.model not in ("auto", "jax_cnn"):
            raise ValueError(f"model: must be 'auto' or 'jax_cnn', got {self.model!r}")


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
    normal_only = recipe.anomaly_class not in ds.class_names
    if normal_only and recipe.kind == "supervised":
        raise ValueError(
            f"no class folder named {recipe.anomaly_class!r} (classes: {list(ds.class_names)}); "
            "a supervised detector needs fault recordings"
        )
    pos = None if normal_only else ds.class_names.index(recipe.anomaly_class)
    key = jax.random.key(recipe.seed)
    info = dict(info or {}, n_sounds=len(ds))
    if machine is not None:
        info["machine"] = machine
    if recipe.kind == "supervised" and recipe.model == "auto":
        det = supervised.train_classical_detector(
            ds.waveforms,
            ds.labels,
            ds.class_names,
            ds.sample_rate,
            pos,
            recipe.anomaly.clip_samples,
            train_hop=recipe.classical_train_hop,
            threshold=recipe.threshold,
            settings=settings,
            info=dict(info, alarm=dict(recipe.alarm or {})),
            seed=recipe.seed,
        )
    elif recipe.kind == "supervised":
        det = supervised.train_supervised_detector(
            ds.waveforms,
            ds.labels,
            ds.class_names,
            ds.sample_rate,
            pos,
            recipe.anomaly.clip_samples,
            dataclasses.replace(recipe.classifier, seed=recipe.seed),
            key,
            threshold=recipe.threshold,
            info=info,
            train_hop=recipe.anomaly.train_hop,
            settings=settings,
        )
    else:
        normal = [w for w, y in zip(ds.waveforms, ds.labels) if y != pos]
        names, idx = (("anomaly", "normal"), 0) if normal_only else (ds.class_names, pos)
        det = unsupervised.train_unsupervised_detector(
            normal, ds.sample_rate, recipe.anomaly, key, names, idx, info=info, settings=settings
        )
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
            "kind": recipe.kind,
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
        model_dir = os.path.join(out_dir, task.name, recipe.kind)
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
