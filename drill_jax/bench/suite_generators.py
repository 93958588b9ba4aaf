"""Realistic-generator training time: both classes' ``--arch=realistic`` generators fitted on
the paper's train list, as ``experiments.vae`` does (target: <= 60 s on the machine, one
compile of the train step per model)."""

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
    for c in range(len(ds.class_names)):
        generators.fit(x[tr[ds.labels[tr] == c]], None, config, jax.random.key(c))
    seconds = time.perf_counter() - start
    compiles = trainer.train_step._cache_size() - compiles_before
    row = {
        "figure": f"{config.network.arch} generator, both classes, {config.epochs} epochs",
        "train s": seconds,
        "train-step compiles": compiles,
    }
    target = all_of(
        "realistic generators: both classes trained <= 60 s, one compile",
        [at_most("train seconds", seconds, 60.0, " s"), at_most("compiles", compiles, 1)],
    )
    return {
        "rows": [row],
        "figures": {"train_s": seconds, "compiles": int(compiles)},
        "targets": [target],
        "vae_config": {"arch": config.network.arch, "epochs": config.epochs},
        "num_train": int(np.asarray(tr).size),
    }
