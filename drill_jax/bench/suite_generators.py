"""Realistic-generator training time: both classes' generators of the ``realistic`` recipe
(``recipes.vae_realistic``) fitted on the paper's train list, as ``experiments.vae`` does
(target: <= 60 s on the machine; a learned generator also compiles its train step once)."""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from drill_jax import data, recipes
from drill_jax.bench.report import all_of, at_most
from drill_jax.bench.suite_config import SuiteConfig
from drill_jax.vae import generators, trainer


def generators_suite(suite: SuiteConfig) -> dict:
    """Wall seconds to fit both classes' realistic generators, and the train step's compiles."""
    ds = data.load_dataset()
    config = dataclasses.replace(recipes.vae_realistic(), seed=suite.seed)
    x = data.stack_fixed(ds.waveforms, config.network.input_length, "zero")
    tr, _ = data.paper_vae_split(ds.labels)
    compiles_before = trainer.train_step._cache_size()
    start = time.perf_counter()
    learned = False
    for c in range(len(ds.class_names)):
        _, history = generators.fit(x[tr[ds.labels[tr] == c]], None, config, jax.random.key(c))
        learned = learned or bool(history)
    seconds = time.perf_counter() - start
    compiles = trainer.train_step._cache_size() - compiles_before
    what = f"{config.epochs} epochs" if learned else "nothing learned (no train step)"
    row = {
        "figure": f"realistic recipe: {config.network.arch} generator, both classes, {what}",
        "train s": seconds,
        "train-step compiles": compiles if learned else None,
    }
    parts = [at_most("train seconds", seconds, 60.0, " s")]
    if learned:
        parts.append(at_most("compiles", compiles, 1))
    target = all_of("realistic generators: both classes trained <= 60 s", parts)
    return {
        "rows": [row],
        "figures": {"train_s": seconds, "compiles": int(compiles), "learned": learned},
        "targets": [target],
        "vae_config": {"arch": config.network.arch, "epochs": config.epochs},
        "num_train": int(np.asarray(tr).size),
    }
