"""Jobs that chain the library: evaluate one classifier configuration; run the whole paper."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Optional

from absl import logging

from drill_jax import data as data_lib
from drill_jax import features, files
from drill_jax.classify import backbones, registry
from drill_jax.evaluation import audit_figure, fold_tasks, metrics, protocols, tables
from drill_jax.features import export as feature_export
from drill_jax.grid import runner
from drill_jax.similarity import report as similarity_report
from drill_jax.vae import experiment as vae_experiment
from drill_jax.vae import trainer


def run_classification(
    ds: data_lib.Dataset,
    protocol_config: protocols.ProtocolConfig,
    detector_config: backbones.DetectorConfig,
    out_dir: Optional[str] = None,
    vae_config=None,
    name: Optional[str] = None,
    grid: Optional[runner.GridConfig] = None,
) -> dict:
    """Evaluates one detector under one protocol; writes result.json + table (md/csv/json).

    With ``grid`` every fold is a task (``fold_tasks``: cached, on Ray if asked); a failed
    fold raises ``runner.TasksFailed`` naming it once the others are done.
    Returns the result dict of ``protocols.evaluate`` with 'detector', 'row' and
    'wall_seconds' added.
    """
    t0 = time.perf_counter()
    if grid is not None:
        evaluation = (name or "evaluation", protocol_config, detector_config)
        done, failed = fold_tasks.evaluate_grid(ds, [evaluation], grid, vae_config)
        if failed:
            raise runner.TasksFailed(failed)
        result = done[(protocol_config, detector_config)]
    else:
        result = protocols.evaluate(
            ds,
            protocol_config,
            backbones.make_fit_predict(detector_config),
            vae_config,
            metrics.positive_index(ds.class_names),
            fit_predict_folds=backbones.make_fit_predict_folds(detector_config),
        )
    result["detector"] = dataclasses.asdict(detector_config)
    result["wall_seconds"] = time.perf_counter() - t0
    weights = detector_config.weights_path or (
        detector_config.weights if detector_config.backbone in registry.TORCH_BACKBONES else "-"
    )
    name = (
        name or f"{detector_config.backbone}/{protocol_config.protocol}/{protocol_config.augment}"
    )
    result["row"] = tables.result_row(name, result, detector_config.backbone, weights)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        files.atomic_write_json(os.path.join(out_dir, "result.json"), result)
        tables.write_table(os.path.join(out_dir, "table"), result["label"], [result["row"]])
    logging.info("%s", json.dumps(result["row"]))
    return result


@dataclasses.dataclass(frozen=True)
class PaperConfig:
    """The whole paper on one dataset. Defaults finish in under an hour on a 2-core CPU.

    Attributes:
      backbone: detector run on every row of Table II and of the augmentation comparison
        (paper: AlexNet; default the JAX CNN, which fits in seconds, so every protocol can
        run all its folds with and without the crop).
      table2_backbones: torchvision backbones also run through Table II (default
        MobileNetV2 with ImageNet weights: a genuinely pretrained transfer-learning row).
      table1_backbones: torchvision backbones of Table I (augmented data, both protocols).
      torch_epochs: epochs of every torchvision fit (paper: up to 160).
      torch_weights: weights of the torchvision backbones other than MobileNetV2, which
        always uses ImageNet weights (its file can be installed offline).
      torch_crops: crops run for the torchvision rows (CPU time).
      torch_folds: honest-protocol folds of the torchvision rows (1 repeat), and they get
        one paper-protocol split.
      n_splits, n_repeats: honest protocol folds; paper_splits: paper protocol splits.
      crops: clip crops to run (None = as recorded, 2000 = length cue removed).
      augment_methods: the honest-protocol augmentation comparison.
      vae_epochs: epochs of each VAE (paper: 20).
      vae_arch: the generator of every VAE step (a ``drill_jax.recipes.vae`` name: 'conv',
        the paper's, by default; 'realistic' for the most realistic one).
      seed: root seed.
      features: how clips become log-Mel features (None = the paper's at the data's rate).
      weights_fallback: a torchvision net whose ImageNet weights cannot be loaded is trained
        from scratch (the weights column says so) instead of being skipped.
      detectors: backbones compared on the real sounds under the honest protocol (every
        crop); the error audit of the first one at the last crop goes into results.md.
    """

    backbone: str = "jax_cnn"
    table2_backbones: tuple = ("mobilenet_v2",)
    table1_backbones: tuple = ("alexnet", "mobilenet_v2")
    torch_epochs: int = 10
    torch_weights: str = "none"
    torch_crops: tuple = (None,)
    torch_folds: int = 3
    n_splits: int = 5
    n_repeats: int = 4
    paper_splits: int = 5
    crops: tuple = (None, 2000)
    augment_methods: tuple = ("none", "vae", "classic", "specaugment", "mixup")
    vae_epochs: int = 20
    vae_arch: str = "conv"
    seed: int = 0
    features: Optional[features.FeatureSettings] = None
    weights_fallback: bool = False
    detectors: tuple = ("auto", "clip_svm")


# Named presets of the paper job (``python -m experiments.paper --preset=NAME``; --quick is
# --preset=quick). Explicit flags override a preset's fields.
PAPER_PRESETS = {
    "default": PaperConfig(),
    # A first look: 5 folds x 1 repeat, 2 paper splits, 5-epoch VAEs, JAX CNN only (no torch).
    "quick": PaperConfig(
        n_repeats=1,
        paper_splits=2,
        vae_epochs=5,
        table1_backbones=(),
        table2_backbones=(),
        detectors=("clip_svm",),
    ),
}


# Rough seconds per fit on an otherwise idle 2-core x86_64 CPU, measured here for the JAX
# CNN, the VAE, AlexNet and MobileNetV2 at ~100-200 training images (the other nets scaled by
# their FLOPs); only for the estimate printed before long work starts.
_COST_VAE_PER_CLASS = 4.0
_COST_FIT = {
    "jax_cnn": 0.5,
    "logreg": 0.1,
    "clip_lr": 0.1,
    "clip_svm": 0.1,
    "clip_ensemble": 0.1,
    "auto": 4.0,
}
_COST_TORCH_EPOCH = {
    "alexnet": 8.0,
    "mobilenet_v2": 8.0,
    "googlenet": 18.0,
    "efficientnet_b0": 20.0,
    "vgg16": 80.0,
    "vgg19": 95.0,
}


def _fold_count(p: protocols.ProtocolConfig) -> int:
    return p.n_splits * p.n_repeats if p.protocol == "honest" else p.paper_splits


def estimate_seconds(p: protocols.ProtocolConfig, d: backbones.DetectorConfig) -> float:
    """Rough wall time of one evaluation on a 2-core CPU (for the printed estimate)."""
    folds = _fold_count(p)
    per_fold = _COST_FIT.get(d.backbone, 0.0)
    if d.backbone in _COST_TORCH_EPOCH:
        per_fold = _COST_TORCH_EPOCH[d.backbone] * (d.epochs or 160)
    vae = 0.0
    if p.augment == "vae":
        vae = 2 * _COST_VAE_PER_CLASS * (folds if p.protocol == "honest" else 1)
    return folds * per_fold + vae


def _detector(config: PaperConfig, backbone: str) -> backbones.DetectorConfig:
    if backbone in registry.JAX_BACKBONES:
        return backbones.DetectorConfig(backbone=backbone)
    weights = "imagenet" if backbone == "mobilenet_v2" else config.torch_weights
    return backbones.DetectorConfig(backbone=backbone, epochs=config.torch_epochs, weights=weights)


def paper_runs(
    config: PaperConfig,
) -> list[tuple[str, str, protocols.ProtocolConfig, backbones.DetectorConfig]]:
    """Every (table, row name, protocol config, detector config) the paper job evaluates.

    Identical (protocol, detector) pairs recur across tables and are evaluated once.
    """
    runs = []
    jax_folds = dict(
        n_splits=config.n_splits, n_repeats=config.n_repeats, paper_splits=config.paper_splits
    )
    torch_folds = dict(n_splits=config.torch_folds, n_repeats=1, paper_splits=1)

    def protocol(backbone, **kw):
        folds = jax_folds if backbone in registry.JAX_BACKBONES else torch_folds
        return protocols.ProtocolConfig(seed=config.seed, features=config.features, **folds, **kw)

    def tag(crop, d):
        weights = f" [{d.weights}]" if d.backbone in registry.TORCH_BACKBONES else ""
        return weights, "" if crop is None else f", crop {crop}"

    for crop in config.crops:
        for backbone in (config.backbone, *config.table2_backbones):
            if backbone in registry.TORCH_BACKBONES and crop not in config.torch_crops:
                continue
            d = _detector(config, backbone)
            w, c = tag(crop, d)
            for prot in ("paper", "honest"):
                for dataset in ("original", "augmented"):
                    augment = "vae" if dataset == "augmented" else "none"
                    p = protocol(
                        backbone, protocol=prot, dataset=dataset, crop=crop, augment=augment
                    )
                    runs.append(("table2", f"{backbone}{w} {dataset} ({prot}{c})", p, d))
        d = _detector(config, config.backbone)
        for method in config.augment_methods:
            dataset = "original" if method == "none" else "augmented"
            p = protocol(
                config.backbone, protocol="honest", dataset=dataset, crop=crop, augment=method
            )
            runs.append(
                ("augmentation", f"{config.backbone} + {method} (honest{tag(crop, d)[1]})", p, d)
            )
        for backbone in config.detectors:
            p = protocol(backbone, protocol="honest", dataset="original", crop=crop)
            runs.append(
                (
                    "detectors",
                    f"{backbone} (honest{tag(crop, d)[1]})",
                    p,
                    _detector(config, backbone),
                )
            )
        if crop not in config.torch_crops:
            continue
        for backbone in config.table1_backbones:
            d = _detector(config, backbone)
            w, c = tag(crop, d)
            for prot in ("paper", "honest"):
                p = protocol(backbone, protocol=prot, dataset="augmented", augment="vae", crop=crop)
                runs.append(("table1", f"{backbone}{w} ({prot}{c})", p, d))
    return runs


def _paper_figure(table: str, backbone: str, p: protocols.ProtocolConfig) -> Optional[float]:
    if p.protocol != "paper" or p.crop is not None:
        return None
    if table == "table2":  # the paper's AlexNet figure for the same protocol and data
        return tables.PAPER_TABLE_II[p.dataset]
    if table == "table1":
        return tables.PAPER_TABLE_I.get(backbone)
    return None


TABLE_TITLES = {
    "table2": "Table II: original vs VAE-augmented training data",
    "augmentation": "Augmentation methods under the honest protocol",
    "table1": "Table I: backbones on the augmented data",
    "detectors": "Detectors on the real sounds under the honest protocol",
}


def run_tables(
    ds: data_lib.Dataset,
    config: PaperConfig,
    out_dir: str,
    vae_config=None,
    say=None,
    grid: Optional[runner.GridConfig] = None,
) -> dict:
    """Runs every evaluation of ``paper_runs`` (each once, cached by its configs) and writes
    ``out_dir``/{table2,augmentation,table1}.{md,csv,json} and results.json.

    With ``grid`` all folds of all rows form one grid of tasks (``fold_tasks``); a row with
    a failed fold is left out and its failures are listed in results.json's 'failed_tasks'.
    """
    say = say or (lambda msg: logging.info("%s", msg))
    runs = paper_runs(config)
    unique = {}
    for _, _, p, d in runs:
        unique.setdefault((p, d), estimate_seconds(p, d))
    say(f"{len(unique)} evaluations, estimated {sum(unique.values()) / 60:.0f} min on a 2-core CPU")
    cache, rows, failed = {}, {t: [] for t in TABLE_TITLES}, []
    if grid is not None:
        evaluations = [(name, p, d) for _, name, p, d in runs]
        cache, failed = fold_tasks.evaluate_grid(
            ds, evaluations, grid, vae_config, config.weights_fallback, say
        )
    for table, name, p, d in runs:
        if (p, d) not in cache:
            say(f"[{len(cache) + 1}/{len(unique)}] {name}: est. {unique[(p, d)]:.0f} s")
            try:
                cache[(p, d)] = run_classification(ds, p, d, vae_config=vae_config, name=name)
            except registry.WeightsUnavailableError as err:
                if not (config.weights_fallback and d.weights == "imagenet"):
                    say(f"skipped {name}: {err}")
                    cache[(p, d)] = None
                else:
                    say(f"{name}: ImageNet weights unavailable, trained from scratch ({err})")
                    scratch = dataclasses.replace(d, weights="none")
                    result = run_classification(ds, p, scratch, vae_config=vae_config, name=name)
                    cache[(p, d)] = dict(result, weights_fallback=str(err))
        result = cache[(p, d)]
        if result is None:
            continue
        weights = d.weights if d.backbone in registry.TORCH_BACKBONES else "-"
        if "weights_fallback" in result:
            weights = "none (ImageNet unavailable)"
        row = tables.result_row(
            name, result, d.backbone, weights, _paper_figure(table, d.backbone, p)
        )
        row["label"] = result["label"]
        rows[table].append(row)
    notes = {
        "table2": "The paper column is the paper's AlexNet figure for the same protocol and "
        "data (Tran et al. 2022, Table II). Paper protocol rows: "
        + protocols.PAPER_LABEL
        + ". Honest rows: "
        + protocols.HONEST_LABEL
        + ". Accuracy in % as mean +- std over folds/splits; "
        "chance, majority and clip-length-only baselines are scored on the same folds.",
        "augmentation": protocols.HONEST_LABEL + f". {config.backbone} classifier; every method "
        "adds the same number of training examples per class.",
        "detectors": protocols.HONEST_LABEL + ". 'auto' chooses features x model inside each "
        "training fold (nested); clip_* are the classical detectors on clip features.",
        "table1": "Torchvision backbones trained on Mel images of the augmented data "
        f"({config.torch_epochs} epochs, paper recipe otherwise; weights as in the weights "
        "column: 'none' = trained from scratch).",
    }
    for table, title in TABLE_TITLES.items():
        if rows[table]:
            tables.write_table(os.path.join(out_dir, table), title, rows[table], notes[table])
    audited = [(n, p, d) for t, n, p, d in runs if t == "detectors" and cache.get((p, d))]
    if audited and len(ds.class_names) == 2:
        name, p, d = audited[-len(config.detectors)]
        result = dict(cache[(p, d)], row={"row": name})
        audit_figure.write_audit(result, ds, out_dir, metrics.positive_index(ds.class_names))
    files.atomic_write_json(
        os.path.join(out_dir, "results.json"),
        {
            "config": dataclasses.asdict(config),
            "tables": rows,
            "runs": [dict(name=n, table=t, result=cache[(p, d)]) for t, n, p, d in runs],
            "failed_tasks": [str(f) for f in failed],
        },
    )
    return rows


def run_paper(
    ds: data_lib.Dataset,
    config: PaperConfig,
    out_dir: str,
    vae_config=None,
    say=None,
    grid: Optional[runner.GridConfig] = None,
) -> dict:
    """The whole paper on ``ds``: VAE -> synthesis -> similarity -> features -> tables.

    Writes under ``out_dir``: vae/ (checkpoints, metrics, synth/ WAVs, figures),
    similarity/ (report + figures), features/ (overview figure, summary), the tables
    (table2, augmentation, table1 as .md/.csv/.json), results.json and results.md.
    Returns {'wall_seconds', 'stages': {stage: seconds}, 'tables': rows, 'failed_tasks'}
    ('failed_tasks': one line per grid task that failed, with ``grid``).
    """
    say = say or (lambda msg: logging.info("%s", msg))
    t_start = time.perf_counter()
    vae_config = vae_config or trainer.VAEConfig(
        network=trainer.NetworkConfig(arch=config.vae_arch),
        epochs=config.vae_epochs,
        seed=config.seed,
    )
    os.makedirs(out_dir, exist_ok=True)
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {"paper": dataclasses.asdict(config), "vae": dataclasses.asdict(vae_config)},
    )
    stages = {}

    t = time.perf_counter()
    say("stage 1/4: one VAE per class on the paper's train list, then synthesis")
    vae_summary = vae_experiment.train_and_synthesize(ds, vae_config, os.path.join(out_dir, "vae"))
    stages["vae"] = time.perf_counter() - t

    t = time.perf_counter()
    say("stage 2/4: similarity of synthesized to real sounds")
    sim = similarity_report.build_report(
        os.path.join(out_dir, "vae", "synth"),
        ds,
        os.path.join(out_dir, "similarity"),
        seed=config.seed,
    )
    stages["similarity"] = time.perf_counter() - t

    t = time.perf_counter()
    say("stage 3/4: band-pass + Mel features of the real sounds")
    settings = config.features or features.FeatureSettings(sample_rate=ds.sample_rate)
    feature_export.export_features(ds, os.path.join(out_dir, "features"), settings)
    stages["features"] = time.perf_counter() - t

    t = time.perf_counter()
    say("stage 4/4: classification tables")
    rows = run_tables(ds, config, out_dir, vae_config=vae_config, say=say, grid=grid)
    stages["tables"] = time.perf_counter() - t

    wall = time.perf_counter() - t_start
    summary = {"wall_seconds": wall, "stages": stages, "vae": vae_summary}
    with open(os.path.join(out_dir, "results.json"), encoding="utf-8") as f:
        summary["failed_tasks"] = json.load(f)["failed_tasks"]
    files.atomic_write_text(
        os.path.join(out_dir, "results.md"), results_markdown(out_dir, config, summary, sim)
    )
    files.atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    say(f"done in {wall / 60:.1f} min; tables in {out_dir}/results.md")
    return {**summary, "tables": rows}


def results_markdown(out_dir: str, config: PaperConfig, summary: dict, similarity: dict) -> str:
    """results.md: every table written by ``run_tables`` plus the similarity summary."""
    parts = [
        "# drill_jax: the paper's experiments, as measured\n",
        f"Wall time {summary['wall_seconds'] / 60:.1f} min "
        + "("
        + ", ".join(f"{k} {v:.0f} s" for k, v in summary["stages"].items())
        + ").\n",
        f"Config: `{json.dumps(dataclasses.asdict(config))}`\n",
    ]
    for table in TABLE_TITLES:
        path = os.path.join(out_dir, table + ".md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                parts.append(f.read())
    audit_md = os.path.join(out_dir, "audit.md")
    if os.path.exists(audit_md):
        with open(audit_md, encoding="utf-8") as f:
            parts.append(f.read().replace("# Error audit", "## Error audit", 1))
    if summary.get("failed_tasks"):
        failed = "\n".join(f"- {line}" for line in summary["failed_tasks"])
        parts.append(f"## Failed tasks (their rows are left out)\n\n{failed}\n")
    sim_md = os.path.join(out_dir, "similarity", "report.md")
    if os.path.exists(sim_md):
        with open(sim_md, encoding="utf-8") as f:
            parts.append("## Similarity of synthesized sounds\n\n" + f.read())
    return "\n".join(parts)
