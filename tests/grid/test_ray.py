"""The grid on a local Ray: the same tables as in this process (same seed), and a failing
task retried once, reported by name, while the other tasks complete.

One Ray instance of one worker serves the module (its start-up and the worker's first
imports are most of this module's time; a second worker would import everything again) and
is shut down at the end.
"""

import os

import numpy as np
import pytest
import ray

from drill_jax import data
from drill_jax.classify import registry
from drill_jax.evaluation import fold_tasks, protocols, tables
from drill_jax.grid import keys, runner
from tests.grid import grid_tasks


@pytest.fixture(scope="module")
def local_ray():
    runner.connect_ray("local", workers=1)
    yield
    ray.shutdown()


def _grid():
    """(name, protocol, detector): honest and paper protocol, per-fold augmentation. (The
    JAX CNN's import and compile in every worker would take most of a minute on 2 busy
    cores; JAX's cross-process equality is checked on a small jitted model below.)"""
    honest = dict(protocol="honest", n_splits=3, n_repeats=1, seed=3)
    return [
        ("logreg", protocols.ProtocolConfig(**honest), registry.DetectorConfig("logreg")),
        (
            "logreg mixup",
            protocols.ProtocolConfig(**honest, dataset="augmented", augment="mixup"),
            registry.DetectorConfig("logreg"),
        ),
        (
            "logreg paper",
            protocols.ProtocolConfig(protocol="paper", paper_splits=2, seed=3),
            registry.DetectorConfig("logreg"),
        ),
    ]


def _table(results, grid):
    rows = [tables.result_row(n, results[(p, d)], d.backbone, "-") for n, p, d in grid]
    return tables.to_markdown(rows)


def test_ray_tables_equal_in_process_tables(local_ray, tmp_path):
    ds, grid = data.load_dataset(), _grid()
    here, failed_here = fold_tasks.evaluate_grid(ds, grid, runner.GridConfig())
    cache = str(tmp_path / "cache")
    on_ray, failed_ray = fold_tasks.evaluate_grid(
        ds, grid, runner.GridConfig(ray_address="local", task_cache=cache)
    )
    assert failed_here == failed_ray == []
    assert _table(on_ray, grid) == _table(here, grid)
    for _, p, d in grid:
        a, b = here[(p, d)]["folds"], on_ray[(p, d)]["folds"]
        assert len(a) == len(b) == protocols.n_folds(p)
        for fa, fb in zip(a, b):  # exactly equal, not just equal once rounded
            assert fa["roc_auc"] == fb["roc_auc"] and fa["accuracy"] == fb["accuracy"]
            assert fa["confusion_matrix"] == fb["confusion_matrix"]
            assert fa["n_train"] == fb["n_train"]
    assert len(os.listdir(cache)) == sum(protocols.n_folds(p) for _, p, _ in grid)


def test_failing_task_on_ray_is_retried_once_and_reported(local_ray, tmp_path):
    log = str(tmp_path / "log.txt")
    tasks = [
        keys.make_task(f"t{x}", grid_tasks.fail_if, x=x, bad=2.0, log_path=log)
        for x in (1.0, 2.0, 3.0, 4.0)
    ]
    report = runner.run_tasks(tasks, ray_address="local", retries=1)
    assert report.results == [10.0, None, 30.0, 40.0]
    assert [str(f) for f in report.failures] == ["t2.0: ValueError: bad input 2.0"]
    with open(log, encoding="utf-8") as f:
        assert f.read().splitlines().count("attempt 2.0") == 2


def test_jax_steps_on_ray_workers_equal_this_process_bit_for_bit(local_ray):
    tasks = [keys.make_task(f"vae{s}", grid_tasks.jax_steps, seed=s) for s in (0, 1)]
    here = runner.run_tasks(tasks).results
    there = runner.run_tasks(tasks, ray_address="local").results
    for a, b in zip(here, there):
        assert len(a) == len(b) > 0
        for u, v in zip(a, b):
            assert u.dtype == v.dtype and u.tobytes() == v.tobytes()
    assert any(not np.array_equal(u, v) for u, v in zip(here[0], here[1]))  # seeds matter
