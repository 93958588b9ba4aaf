"""Tests for drill_jax.evaluation.fold_tasks: folds as grid tasks give the same results as
``protocols.evaluate``, are cached by key, and failures leave the other rows complete."""

import dataclasses
import json

import pytest

from drill_jax.classify import bridge, registry
from drill_jax.evaluation import fold_tasks, pipeline, protocols
from drill_jax.grid import runner
from tests.toys import toy_dataset

_LOGREG = registry.DetectorConfig("logreg")
_REAL_FOLD = fold_tasks.fold_task


@pytest.mark.parametrize(
    "config",
    [
        protocols.ProtocolConfig(n_splits=3, n_repeats=1, dataset="augmented", augment="mixup"),
        protocols.ProtocolConfig(protocol="paper", paper_splits=2, seed=4),
    ],
    ids=["honest-mixup", "paper"],
)
def test_task_path_equals_the_plain_loop(config):
    ds = toy_dataset(n_per_class=8)
    plain = pipeline.run_classification(ds, config, _LOGREG)
    tasks = pipeline.run_classification(ds, config, _LOGREG, grid=runner.GridConfig())
    assert plain["row"] == tasks["row"] and plain["label"] == tasks["label"]
    for a, b in zip(plain["folds"], tasks["folds"], strict=True):
        a, b = dict(a), dict(b)
        a.pop("fit_seconds"), b.pop("fit_seconds")
        assert a == b


def test_folds_are_cached_and_a_rerun_computes_nothing(tmp_path):
    ds = toy_dataset(n_per_class=8)
    config = protocols.ProtocolConfig(n_splits=2, n_repeats=1)
    grid = runner.GridConfig(task_cache=str(tmp_path))
    first = pipeline.run_classification(ds, config, _LOGREG, grid=grid)
    assert len(list(tmp_path.iterdir())) == 2
    calls = []
    original = fold_tasks.fold_task

    def counting(**kw):
        calls.append(kw["fold"])
        return original(**kw)

    tasks = fold_tasks.evaluation_tasks(fold_tasks.portable(ds), ("x", config, _LOGREG))
    again = runner.run_tasks(
        [dataclasses.replace(t, fn=counting) for t in tasks], cache_dir=str(tmp_path)
    )
    assert calls == [] and len(again.cached) == 2
    assert [r["accuracy"] for r in again.results] == [f["accuracy"] for f in first["folds"]]
    # Another seed is another task: nothing cached for it.
    other = fold_tasks.evaluation_tasks(ds, ("x", dataclasses.replace(config, seed=1), _LOGREG))
    assert not {t.key for t in other} & {t.key for t in tasks}


def test_batch_folds_cannot_run_as_tasks():
    ds = toy_dataset(n_per_class=6)
    batched = registry.DetectorConfig("jax_cnn", batch_folds=True)
    with pytest.raises(ValueError, match="batch_folds"):
        pipeline.run_classification(
            ds, protocols.ProtocolConfig(), batched, grid=runner.GridConfig()
        )


def _fake_fold(ds, config, detector, vae_config, fold):
    """Logreg folds on the real sounds only (no VAE: seconds, not minutes); 'alexnet' has no
    ImageNet file; 'vgg16' always fails."""
    if detector.backbone == "alexnet" and detector.weights == "imagenet":
        raise bridge.WeightsUnavailableError("no ImageNet file here")
    if detector.backbone == "vgg16":
        raise RuntimeError(f"worker lost on fold {fold}")
    plain = dataclasses.replace(config, dataset="original", augment="none")
    return _REAL_FOLD(ds, plain, _LOGREG, None, fold)


def test_failed_rows_are_reported_and_the_others_complete(monkeypatch):
    monkeypatch.setattr(fold_tasks, "fold_task", _fake_fold)
    ds = toy_dataset(n_per_class=6)
    p = protocols.ProtocolConfig(n_splits=2, n_repeats=1)
    rows = [
        ("ok", p, _LOGREG),
        ("alex", p, registry.DetectorConfig("alexnet", weights="imagenet")),
        ("vgg", p, registry.DetectorConfig("vgg16")),
    ]
    results, failed = fold_tasks.evaluate_grid(ds, rows, runner.GridConfig())
    assert results[(p, _LOGREG)]["summary"]["n_folds"] == 2
    assert results[(p, rows[1][2])] is None and results[(p, rows[2][2])] is None
    assert [str(f) for f in failed] == [
        "vgg / fold 1: RuntimeError: worker lost on fold 0",
        "vgg / fold 2: RuntimeError: worker lost on fold 1",
    ]  # the unavailable weights are a skip, not a failure (as without tasks)
    results, failed = fold_tasks.evaluate_grid(
        ds, rows[:2], runner.GridConfig(), weights_fallback=True
    )
    fallback = results[(p, rows[1][2])]
    assert fallback["weights_fallback"] == "no ImageNet file here" and not failed
    assert fallback["detector"]["weights"] == "none"


def test_paper_tables_leave_out_failed_rows_and_list_them(monkeypatch, tmp_path):
    monkeypatch.setattr(fold_tasks, "fold_task", _fake_fold)
    ds = toy_dataset(n_per_class=6)
    config = pipeline.PaperConfig(
        backbone="logreg", table2_backbones=(), table1_backbones=("alexnet", "vgg16"),
        torch_weights="imagenet", crops=(None,), augment_methods=("none",), n_splits=2,
        n_repeats=1, paper_splits=1, torch_folds=2, weights_fallback=True,
    )  # fmt: skip
    monkeypatch.setattr(pipeline, "run_classification", None)  # every row must be a task
    rows, failed = pipeline.run_tables(ds, config, str(tmp_path), grid=runner.GridConfig())
    assert [r["row"] for r in rows["table1"]] == [
        "alexnet [imagenet] (paper)",  # trained from scratch: ImageNet file unavailable
        "alexnet [imagenet] (honest)",
    ]
    assert {r["weights"] for r in rows["table1"]} == {"none (ImageNet unavailable)"}
    assert len(rows["table2"]) == 4 and len(rows["augmentation"]) == 1  # logreg rows
    saved = (tmp_path / "results.json").read_text()
    assert json.loads(saved)["failed_tasks"] == failed  # returned and written alike
    assert failed == [
        "vgg16 [imagenet] (paper) / split 1: RuntimeError: worker lost on fold 0",
        "vgg16 [imagenet] (honest) / fold 1: RuntimeError: worker lost on fold 0",
        "vgg16 [imagenet] (honest) / fold 2: RuntimeError: worker lost on fold 1",
    ]
