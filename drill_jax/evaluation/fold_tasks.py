"""The evaluation grid as tasks: one fold (honest protocol) or one split (paper protocol) of
one evaluation is one ``grid`` task, run in this process or on Ray and cached by key.

A task gets the dataset, the protocol, detector and VAE configs and the fold's index, and
does the whole fold where it runs: the fold's augmentation (VAEs included) fitted on its
training side, features, the leak check, the fit and the scores. So the key (function +
configs + seed + the sounds' fingerprint) names everything the fold's report depends on,
and the report equals the one ``protocols.evaluate`` makes for that fold.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Optional

from drill_jax import data as data_lib
from drill_jax.classify import bridge, registry
from drill_jax.evaluation import examples, protocols
from drill_jax.grid import keys, runner

# (name, protocol config, detector config) of one evaluation (one table row).
Evaluation = tuple[str, protocols.ProtocolConfig, registry.DetectorConfig]


def fold_task(
    ds: data_lib.Dataset,
    config: protocols.ProtocolConfig,
    detector: registry.DetectorConfig,
    vae_config,
    fold: int,
) -> dict:
    """The report of fold (or split) ``fold`` of ``config`` for ``detector`` on ``ds``."""
    _, _, _, [(train_fs, test_fs, seed, extra)] = protocols.prepare_folds(
        ds, config, vae_config, only=fold
    )
    report = protocols.score_fold(
        registry.make_fit_predict(detector),
        train_fs,
        test_fs,
        seed,
        ds.class_names,
        ds.positive_index,
    )
    report.update(extra)
    return report


def portable(ds: data_lib.Dataset) -> data_lib.Dataset:
    """``ds`` with each path cut to <class>/<file>, so the task keys (and cache) do not
    depend on where the data folder sits."""
    short = tuple(os.path.join(*os.path.normpath(p).split(os.sep)[-2:]) for p in ds.paths)
    return dataclasses.replace(ds, paths=short, bad=())


def evaluation_tasks(
    ds: data_lib.Dataset, evaluation: Evaluation, vae_config=None
) -> list[keys.Task]:
    """One task per fold of ``evaluation``, named '<name> / fold k' (or 'split k')."""
    name, config, detector = evaluation
    if detector.batch_folds:
        raise ValueError(
            "batch_folds: fits every fold in one vmapped program, which cannot run as "
            "per-fold tasks (--ray_address / --task_cache); leave it unset"
        )
    unit = "fold" if config.protocol == "honest" else "split"
    vae = vae_config if (config.augment == "vae" or config.dataset == "augmented") else None
    return [
        keys.make_task(
            f"{name} / {unit} {k + 1}",
            fold_task,
            ds=ds,
            config=config,
            detector=detector,
            vae_config=vae,
            fold=k,
        )
        for k in range(protocols.n_folds(config))
    ]


def assemble(ds: data_lib.Dataset, config: protocols.ProtocolConfig, reports: list) -> dict:
    """``protocols.evaluate``'s result from the fold reports of one evaluation."""
    real = examples.crop_examples(examples.Examples.real(ds), config.crop)
    settings = examples.fold_feature_settings(config.features, ds.sample_rate, real.lengths)
    label = protocols.HONEST_LABEL if config.protocol == "honest" else protocols.PAPER_LABEL
    return protocols.assemble(config, settings, label, reports)


def evaluate_grid(
    ds: data_lib.Dataset,
    evaluations: Sequence[Evaluation],
    grid: runner.GridConfig,
    vae_config=None,
    weights_fallback: bool = False,
    say: Optional[Callable[[str], None]] = None,
) -> tuple[dict, list]:
    """Runs every fold of every evaluation as one grid (in this process or on Ray).

    Evaluations with equal (protocol, detector) configs run once (the first name is used).
    Returns ({(protocol, detector): result or None}, failures). A result has
    ``protocols.evaluate``'s keys plus 'detector', and 'weights_fallback' (the reason) when
    the ImageNet weights could not be loaded and ``weights_fallback`` trained it from
    scratch; None when one of its folds failed (listed in failures, each with its task's
    name and a one-line reason) or when its weights were unavailable without fallback.
    """
    data = portable(ds)
    unique: dict = {}
    for name, p, d in evaluations:
        unique.setdefault((p, d), name)
    results, failures = _run(data, unique, grid, vae_config, say)
    unavailable = {
        pair: fails
        for pair, fails in failures.items()
        if all(f.error_type == bridge.WeightsUnavailableError.__name__ for f in fails)
    }
    retry = {}
    for (p, d), fails in unavailable.items():
        del failures[(p, d)]
        if weights_fallback and d.weights == "imagenet":
            scratch = dataclasses.replace(d, weights="none")
            retry[(p, scratch)] = (unique[(p, d)], (p, d), fails[0].reason)
        elif say:
            say(f"skipped {unique[(p, d)]}: {fails[0].reason}")
    if retry:
        scratch_results, scratch_failures = _run(
            data, {pair: name for pair, (name, _, _) in retry.items()}, grid, vae_config, say
        )
        for pair, (_, original, reason) in retry.items():
            result = scratch_results[pair]
            results[original] = None if result is None else dict(result, weights_fallback=reason)
            if pair in scratch_failures:
                failures[original] = scratch_failures[pair]
    return results, [f for fails in failures.values() for f in fails]


def _run(data, unique: dict, grid: runner.GridConfig, vae_config, say) -> tuple[dict, dict]:
    """Runs the folds of ``unique`` {(p, d): name}; ({pair: result or None}, {pair: fails})."""
    tasks, owner = [], []
    for (p, d), name in unique.items():
        made = evaluation_tasks(data, (name, p, d), vae_config)
        tasks += made
        owner += [(p, d)] * len(made)
    report = runner.run_grid(tasks, grid, say)
    failed_names = {f.name: f for f in report.failures}
    reports: dict = {pair: [] for pair in unique}
    failures: dict = {}
    for task, pair, result in zip(tasks, owner, report.results):
        if task.name in failed_names:
            failures.setdefault(pair, []).append(failed_names[task.name])
        reports[pair].append(result)
    results = {}
    for (p, d), folds in reports.items():
        if (p, d) in failures:
            results[(p, d)] = None
        else:
            results[(p, d)] = dict(assemble(data, p, folds), detector=dataclasses.asdict(d))
    return results, failures
