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
from drill_jax.classify import bridge, registry
from drill_jax.evaluation import audit_figure, fold_tasks, protocols, tables
from drill_jax.features import export as feature_export
from drill_jax.grid import runner
from drill_jax.similarity import report as similarity_report
from drill_jax.vae import configs as vae_configs
from drill_jax.vae import experiment as vae_experiment


def run_classification(
    ds: data_lib.Dataset,
    protocol_config: protocols.ProtocolConfig,
    detector_config: registry.DetectorConfig,
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
            registry.make_fit_predict(detector_config),
            vae_config,
            fit_predict_folds=registry.make_fit_predict_folds(detector_config),
        )
    result["detector"] = dataclasses.asdict(detector_config)
    result["wall_seconds"] = time.perf_counter() - t0
    weights = _weights_column(detector_config, result)
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


def _weights_column(d: registry.DetectorConfig, result: dict) -> str:
    """The weights column of a table row: '-' for backbones without pretrained weights."""
    if "weights_fallback" in result:
        return "none (ImageNet unavailable)"
    if d.backbone not in registry.TORCH_BACKBONES:
        return "-"
    return d.weights_path or d.weights


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
      vae: the complete config of every VAE step (a ``drill_jax.recipes.vae`` config;
        default the paper's VAE, 20 epochs). Its seed is the one stage 1 trains with.
      seed: root seed of the folds, the augmentation and the classifiers.
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
    vae: vae_configs.VAEConfig = vae_configs.VAEConfig()
    seed: int = 0
    features: Optional[features.FeatureSettings] = None
    weights_fallback: bool = False
    detectors: tuple = ("auto", "clip_svm")

    def __post_init__(self):
        names = (self.backbone, *self.table2_backbones, *self.table1_backbones, *self.detectors)
        for name in names:
            registry.get(name)  # an unknown name fails here, before any work


# Rough seconds to train one VAE on a class on a 2-core CPU (for the printed estimate).
_VAE_SECONDS_PER_CLASS = 4.0


def estimate_seconds(p: protocols.ProtocolConfig, d: registry.DetectorConfig) -> float:
    """Rough wall time of one evaluation on a 2-core CPU (for the printed estimate)."""
    folds = protocols.n_folds(p)
    vae = 0.0
    if p.augment == "vae":
        vae = 2 * _VAE_SECONDS_PER_CLASS * (folds if p.protocol == "honest" else 1)
    return folds * registry.seconds_per_fit(d) + vae


def _detector(config: PaperConfig, backbone: str) -> registry.DetectorConfig:
    if backbone in registry.JAX_BACKBONES:
        return registry.DetectorConfig(backbone=backbone)
    weights = "imagenet" if backbone == "mobilenet_v2" else config.torch_weights
    return registry.DetectorConfig(backbone=backbone, epochs=config.torch_epochs, weights=weights)


def paper_runs(
    config: PaperConfig,
) -> list[tuple[str, str, protocols.ProtocolConfig, registry.DetectorConfig]]:
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


def _evaluate_here(ds, config: PaperConfig, runs: list, say) -> dict:
    """{(protocol, detector): result or None} of every run, one by one in this process; an
    ImageNet net whose weights are unavailable is skipped (None) or, with
    ``config.weights_fallback``, trained from scratch."""
    unique = {}
    for _, _, p, d in runs:
        unique.setdefault((p, d), estimate_seconds(p, d))
    say(f"{len(unique)} evaluations, estimated {sum(unique.values()) / 60:.0f} min on a 2-core CPU")
    cache = {}
    for _, name, p, d in runs:
        if (p, d) in cache:
            continue
        say(f"[{len(cache) + 1}/{len(unique)}] {name}: est. {unique[(p, d)]:.0f} s")
        try:
            cache[(p, d)] = run_classification(ds, p, d, vae_config=config.vae, name=name)
        except bridge.WeightsUnavailableError as err:
            cache[(p, d)] = None
            if not (config.weights_fallback and d.weights == "imagenet"):
                say(f"skipped {name}: {err}")
                continue
            say(f"{name}: ImageNet weights unavailable, trained from scratch ({err})")
            scratch = dataclasses.replace(d, weights="none")
            result = run_classification(ds, p, scratch, vae_config=config.vae, name=name)
            cache[(p, d)] = dict(result, weights_fallback=str(err))
    return cache


def _table_rows(runs: list, cache: dict) -> dict:
    """{table: [row, ...]} of the runs that have a result."""
    rows = {t: [] for t in tables.PAPER_TABLES}
    for table, name, p, d in runs:
        result = cache.get((p, d))
        if result is None:
            continue
        paper = tables.paper_figure(table, d.backbone, p.protocol, p.dataset, p.crop)
        row = tables.result_row(name, result, d.backbone, _weights_column(d, result), paper)
        row["label"] = result["label"]
        rows[table].append(row)
    return rows


def run_tables(
    ds: data_lib.Dataset,
    config: PaperConfig,
    out_dir: str,
    say=None,
    grid: Optional[runner.GridConfig] = None,
) -> tuple[dict, list]:
    """Runs every evaluation of ``paper_runs`` (each once, cached by its configs) and writes
    ``out_dir``/{table2,augmentation,table1,detectors}.{md,csv,json}, results.json and the
    error audit of the first detector at the last crop.

    With ``grid`` all folds of all rows form one grid of tasks (``fold_tasks``); a row with
    a failed fold is left out and its failures are listed in results.json's 'failed_tasks'.

    Returns:
      ({table: rows}, the failed tasks as strings).
    """
    say = say or (lambda msg: logging.info("%s", msg))
    runs = paper_runs(config)
    failed = []
    if grid is None:
        cache = _evaluate_here(ds, config, runs, say)
    else:
        evaluations = [(name, p, d) for _, name, p, d in runs]
        cache, failed = fold_tasks.evaluate_grid(
            ds, evaluations, grid, config.vae, config.weights_fallback, say
        )
    rows = _table_rows(runs, cache)
    notes = tables.paper_notes(config.backbone, config.torch_epochs)
    for table, title in tables.PAPER_TABLES.items():
        if rows[table]:
            tables.write_table(os.path.join(out_dir, table), title, rows[table], notes[table])
    audited = [(n, p, d) for t, n, p, d in runs if t == "detectors" and cache.get((p, d))]
    if audited and len(ds.class_names) == 2:
        name, p, d = audited[-len(config.detectors)]
        audit_figure.write_audit(dict(cache[(p, d)], row={"row": name}), ds, out_dir)
    files.atomic_write_json(
        os.path.join(out_dir, "results.json"),
        {
            "config": dataclasses.asdict(config),
            "tables": rows,
            "runs": [dict(name=n, table=t, result=cache.get((p, d))) for t, n, p, d in runs],
            "failed_tasks": [str(f) for f in failed],
        },
    )
    return rows, [str(f) for f in failed]


def run_paper(
    ds: data_lib.Dataset,
    config: PaperConfig,
    out_dir: str,
    say=None,
    grid: Optional[runner.GridConfig] = None,
) -> dict:
    """The whole paper on ``ds``: VAE -> synthesis -> similarity -> features -> tables.

    Writes under ``out_dir``: vae/ (checkpoints, metrics, synth/ WAVs, figures),
    similarity/ (report + figures), features/ (overview figure, summary), the tables
    (table2, augmentation, table1 as .md/.csv/.json), results.json and results.md.
    Returns {'wall_seconds', 'stages': {stage: seconds}, 'vae', 'tables': rows,
    'failed_tasks' (one line per grid task that failed, with ``grid``), 'out_dir'}.
    """
    say = say or (lambda msg: logging.info("%s", msg))
    t_start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    files.atomic_write_json(os.path.join(out_dir, "config.json"), dataclasses.asdict(config))
    stages = {}

    t = time.perf_counter()
    say("stage 1/4: one VAE per class on the paper's train list, then synthesis")
    vae_summary = vae_experiment.train_and_synthesize(ds, config.vae, os.path.join(out_dir, "vae"))
    stages["vae"] = time.perf_counter() - t

    t = time.perf_counter()
    say("stage 2/4: similarity of synthesized to real sounds")
    similarity_report.build_report(
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
    rows, failed = run_tables(ds, config, out_dir, say=say, grid=grid)
    stages["tables"] = time.perf_counter() - t

    wall = time.perf_counter() - t_start
    summary = {"wall_seconds": wall, "stages": stages, "vae": vae_summary, "failed_tasks": failed}
    files.atomic_write_text(
        os.path.join(out_dir, "results.md"),
        tables.results_markdown(
            out_dir, tuple(tables.PAPER_TABLES), dataclasses.asdict(config), summary
        ),
    )
    files.atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    say(f"done in {wall / 60:.1f} min; tables in {out_dir}/results.md")
    return {**summary, "tables": rows, "out_dir": out_dir}


def _best_row(rows: list, protocol: str) -> Optional[dict]:
    """The row of ``protocol`` with the highest balanced accuracy (None if there is none)."""
    scored = [r for r in rows if r["protocol"] == protocol and r["balanced_accuracy"] != "n/a"]
    return max(scored, key=lambda r: float(r["balanced_accuracy"]), default=None)


def summary_lines(results: dict) -> list[str]:
    """A short summary of ``run_paper``'s results (at most 15 lines): wall time; per table
    the best honest row with its balanced accuracy and ROC-AUC (%), and the best paper-protocol
    accuracy where the table has one (synthetic sounds can sit in its validation side);
    failed tasks; where the files are."""
    out = results["out_dir"]
    lines = [f"paper job done in {results['wall_seconds'] / 60:.1f} min; files in {out}/"]
    for table in tables.PAPER_TABLES:
        rows = results["tables"].get(table, [])
        honest, paper = _best_row(rows, "honest"), _best_row(rows, "paper")
        line = f"  {table}:"
        if honest is not None:
            line += (
                f" best honest {honest['row']}: balanced accuracy "
                f"{honest['balanced_accuracy']}, ROC-AUC {honest['roc_auc']}"
            )
        if paper is not None:
            line += f"{';' if honest else ''} best paper-protocol accuracy {paper['accuracy']}"
        if rows:
            lines.append(line)
    if results.get("failed_tasks"):
        lines.append(f"  {len(results['failed_tasks'])} tasks failed (listed in results.md)")
    lines += [
        f"  {os.path.join(out, 'results.md')}: every table, the error audit, the similarity",
        f"  {os.path.join(out, 'vae')}/: VAE checkpoints, synthesized WAVs, figures",
        f"  {os.path.join(out, 'similarity')}/ and {os.path.join(out, 'features')}/: reports, "
        "figures",
    ]
    return lines
