"""Tests for drill_jax.evaluation.pipeline and .tables: run plans, result files, table rows."""

import dataclasses
import json
import os

import numpy as np
import pytest

from drill_jax.classify import bridge, registry
from drill_jax.evaluation import pipeline, protocols, tables
from tests.toys import toy_dataset as _toy_dataset

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time


def test_paper_runs_cover_both_protocols_crops_and_methods():
    config = pipeline.PaperConfig()
    runs = pipeline.paper_runs(config)
    t2 = [(d.backbone, p.protocol, p.dataset, p.crop) for t, _, p, d in runs if t == "table2"]
    expected = {
        (b, pr, ds, c)
        for pr in ("paper", "honest")
        for ds in ("original", "augmented")
        for b, c in [("jax_cnn", None), ("jax_cnn", 2000), ("mobilenet_v2", None)]
    }
    assert len(t2) == len(expected) and set(t2) == expected
    aug = {(p.augment, p.crop) for t, _, p, _ in runs if t == "augmentation"}
    assert aug == {(m, c) for m in config.augment_methods for c in (None, 2000)}
    assert all(p.protocol == "honest" for t, _, p, _ in runs if t == "augmentation")
    t1 = {(d.backbone, d.weights, p.protocol) for t, _, p, d in runs if t == "table1"}
    assert t1 == {
        (b, w, pr)
        for b, w in [("alexnet", "none"), ("mobilenet_v2", "imagenet")]
        for pr in ("paper", "honest")
    }
    det = {(d.backbone, p.protocol, p.augment, p.crop) for t, _, p, d in runs if t == "detectors"}
    assert det == {(b, "honest", "none", c) for b in config.detectors for c in (None, 2000)}
    torch_protocols = [p for _, _, p, d in runs if d.backbone in ("alexnet", "mobilenet_v2")]
    assert all(p.n_repeats == 1 and p.paper_splits == 1 for p in torch_protocols)
    # identical evaluations are shared between tables (run once)
    keys = [(p, d) for _, _, p, d in runs]
    assert len(set(keys)) < len(keys)


def test_estimate_grows_with_folds_and_vae():
    d = registry.DetectorConfig("jax_cnn")
    small = protocols.ProtocolConfig(n_splits=5, n_repeats=1)
    big = protocols.ProtocolConfig(n_splits=5, n_repeats=4)
    vae = protocols.ProtocolConfig(n_splits=5, n_repeats=1, augment="vae", dataset="augmented")
    assert pipeline.estimate_seconds(big, d) == pytest.approx(
        4 * pipeline.estimate_seconds(small, d)
    )
    assert pipeline.estimate_seconds(vae, d) > pipeline.estimate_seconds(small, d)


def test_run_classification_writes_result_and_table(tmp_path):
    ds = _toy_dataset(n_per_class=10)
    p = protocols.ProtocolConfig(n_splits=2, n_repeats=1)
    d = registry.DetectorConfig("logreg")
    result = pipeline.run_classification(ds, p, d, out_dir=str(tmp_path))
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["summary"]["n_folds"] == 2 and saved["label"] == protocols.HONEST_LABEL
    md = (tmp_path / "table.md").read_text()
    assert "logreg" in md and protocols.HONEST_LABEL in md
    acc = result["summary"]["metrics"]["accuracy"]["mean"]
    assert result["row"]["accuracy"].startswith(f"{100 * acc:.1f}")
    assert sorted(os.listdir(tmp_path)) == ["result.json", "table.csv", "table.json", "table.md"]


def _fake_result(accs, base_acc=0.5):
    def summary(values):
        v = np.asarray(values)
        return {"mean": v.mean(), "std": v.std(ddof=1), "ci_low": v.min(), "ci_high": v.max()}

    m = {"accuracy": summary(accs), "balanced_accuracy": summary(accs), "roc_auc": summary(accs)}
    base = {"metrics": {"accuracy": summary([base_acc, base_acc])}}
    return {
        "summary": {"n_folds": len(accs), "metrics": m},
        "config": {"protocol": "paper", "dataset": "augmented", "augment": "vae", "crop": None},
        "baselines": {"chance": base, "majority": base, "clip_length": base},
    }


def test_result_row_and_markdown_csv(tmp_path):
    row = tables.result_row("x", _fake_result([0.9, 1.0]), "alexnet", "none", 94.12)
    assert row["accuracy"] == "95.0 +- 7.1" and row["accuracy_ci95"] == "[90.0, 100.0]"
    assert row["paper"] == "94.12" and row["chance"] == "50.0" and row["crop"] == "none"
    md = tables.to_markdown([row])
    assert md.splitlines()[0].startswith("| row | protocol") and "| x | paper | alexnet" in md
    csv_text = tables.to_csv([row])
    assert csv_text.splitlines()[1].startswith("x,paper,alexnet,none,augmented,vae,none,2,")
    tables.write_table(str(tmp_path / "t"), "Title", [row], "a note")
    assert json.loads((tmp_path / "t.json").read_text())["rows"][0]["paper"] == "94.12"
    assert (tmp_path / "t.md").read_text().startswith("## Title\n\na note\n")


@pytest.mark.parametrize("protocol", ["honest"])
def test_folds_fitted_together_give_the_same_evaluation(protocol):
    ds = _toy_dataset(n_per_class=10)
    p = protocols.ProtocolConfig(protocol=protocol, n_splits=3, n_repeats=1, paper_splits=2)
    small = dict(backbone="jax_cnn", epochs=6)
    one = pipeline.run_classification(ds, p, registry.DetectorConfig(**small, batch_folds=False))
    many = pipeline.run_classification(ds, p, registry.DetectorConfig(**small, batch_folds=True))
    assert len(one["folds"]) == len(many["folds"]) == (3 if protocol == "honest" else 2)
    for a, b in zip(one["folds"], many["folds"]):
        assert a["accuracy"] == b["accuracy"] and a["n_train"] == b["n_train"]
        assert a["roc_auc"] == pytest.approx(b["roc_auc"], abs=1e-9)
        assert a["confusion_matrix"] == b["confusion_matrix"]


def test_unloadable_imagenet_weights_fall_back_to_scratch_only_when_asked(monkeypatch, tmp_path):
    ds = _toy_dataset(n_per_class=6)
    one = protocols.ProtocolConfig(n_splits=2, n_repeats=1)
    result = pipeline.run_classification(ds, one, registry.DetectorConfig("logreg"))
    calls = []

    def fake_run(ds, p, d, vae_config=None, name=None):  # no training: one stored result
        calls.append((d.backbone, d.weights))
        if d.backbone == "alexnet" and d.weights == "imagenet":
            raise bridge.WeightsUnavailableError("no ImageNet file here")
        return dict(result)

    monkeypatch.setattr(pipeline, "run_classification", fake_run)
    config = pipeline.PaperConfig(
        backbone="logreg",
        table2_backbones=(),
        table1_backbones=("alexnet",),
        torch_weights="imagenet",
        crops=(None,),
        augment_methods=("none",),
    )
    skipped, _ = pipeline.run_tables(ds, config, str(tmp_path / "a"))
    assert skipped["table1"] == [] and ("alexnet", "none") not in calls
    with_fallback = dataclasses.replace(config, weights_fallback=True)
    rows, failed = pipeline.run_tables(ds, with_fallback, str(tmp_path / "b"))
    assert [r["weights"] for r in rows["table1"]] == ["none (ImageNet unavailable)"] * 2
    assert ("alexnet", "none") in calls and failed == []


def test_summary_lines_name_the_best_honest_row_of_each_table_and_where_the_files_are():
    def row(name, accs, protocol):
        r = tables.result_row(name, _fake_result(accs), "jax_cnn", "-")
        return dict(r, protocol=protocol)

    best, worse = row("x", [0.9, 1.0], "honest"), row("y", [0.6, 0.7], "honest")
    leaky = row("z", [1.0, 1.0], "paper")
    results = {
        "out_dir": "runs/paper",
        "wall_seconds": 90.0,
        "tables": {"table2": [worse, leaky, best], "detectors": [worse], "table1": []},
        "failed_tasks": ["a / fold 1: RuntimeError: lost"],
    }
    lines = pipeline.summary_lines(results)
    assert 4 <= len(lines) <= 15 and "1.5 min" in lines[0] and "runs/paper" in lines[0]
    table2 = [line for line in lines if line.strip().startswith("table2:")]
    assert len(table2) == 1 and "best honest x:" in table2[0]
    assert "balanced accuracy 95.0" in table2[0] and "paper-protocol accuracy 100.0" in table2[0]
    assert not any(line.strip().startswith("table1:") for line in lines)  # no rows, no line
    assert any("1 tasks failed" in line for line in lines)
    assert any(line.strip().startswith("runs/paper/results.md") for line in lines)


def test_results_markdown_gathers_the_written_tables_in_order(tmp_path):
    row = tables.result_row("x", _fake_result([0.9, 1.0]), "jax_cnn", "-")
    tables.write_table(str(tmp_path / "b"), "Second", [row])
    tables.write_table(str(tmp_path / "a"), "First", [row])
    summary = {"wall_seconds": 60.0, "stages": {"vae": 1.0}, "failed_tasks": []}
    md = tables.results_markdown(str(tmp_path), ("a", "missing", "b"), {"seed": 0}, summary)
    assert md.index("## First") < md.index("## Second") and '{"seed": 0}' in md
    assert "Failed tasks" not in md and "Similarity" not in md


def test_paper_config_refuses_an_unknown_backbone_at_once():
    with pytest.raises(ValueError, match="unknown backbone 'alexnett'; one of"):
        pipeline.PaperConfig(table1_backbones=("alexnett",))


def test_paper_figures_only_beside_uncropped_paper_protocol_rows():
    assert tables.paper_figure("table2", "jax_cnn", "paper", "augmented", None) == 94.12
    assert tables.paper_figure("table1", "alexnet", "paper", "augmented", None) == 94.12
    assert tables.paper_figure("table1", "mobilenet_v2", "paper", "augmented", None) is None
    assert tables.paper_figure("table2", "jax_cnn", "paper", "original", 2000) is None
    assert tables.paper_figure("table2", "jax_cnn", "honest", "original", None) is None
