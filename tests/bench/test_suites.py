"""Tests for drill_jax.bench.suites and suite_paper: the injected paper timing, the report
layout, and that the library never imports or runs the repository's ``experiments/``."""

import ast
import dataclasses
import json
import os

import pytest

import drill_jax
from drill_jax.bench import suite_config, suite_paper, suites

LABEL = "paper: some.script --quick wall time"


def test_paper_suite_ok_run():
    timing = suite_paper.PaperTiming(LABEL, 12.5, 0, "-m some.script --quick", "warnings\n")
    result = suite_paper.paper_suite(timing)
    assert result["rows"] == [{"figure": LABEL, "wall s": 12.5, "status": "ok"}]
    assert result["targets"] == [
        {
            "name": "paper --quick wall time (2 CPU cores)",
            "target": "<= 30 s",
            "measured": 12.5,
            "met": True,
        }
    ]
    assert result["figures"] == {
        "available": True,
        "ok": True,
        "wall_s": 12.5,
        "returncode": 0,
        "command": "-m some.script --quick",
        "stderr_tail": None,
    }


def test_paper_suite_failed_and_timed_out_runs():
    failed = suite_paper.paper_suite(suite_paper.PaperTiming(LABEL, 3.0, 1, "cmd", "a\nboom\n"))
    assert failed["rows"][0]["status"] == "failed (rc=1): ['boom']"
    assert not failed["figures"]["ok"] and failed["figures"]["stderr_tail"] == "a\nboom\n"
    tail = "timed out after 5.0 s"
    timed_out = suite_paper.paper_suite(suite_paper.PaperTiming(LABEL, 5.0, None, "cmd", tail))
    assert timed_out["rows"][0]["status"] == f"failed (rc=None): ['{tail}']"
    assert timed_out["figures"]["returncode"] is None
    assert timed_out["targets"][0]["met"] is False  # a failed run cannot meet the target


def test_paper_suite_not_available():
    missing = suite_paper.paper_suite(suite_paper.PaperTiming(LABEL, unavailable="x.py missing"))
    assert missing == {
        "rows": [{"figure": LABEL, "status": "not available (x.py missing)"}],
        "targets": [],
        "figures": {"available": False},
    }
    none = suite_paper.paper_suite(None)
    assert none["figures"] == {"available": False}
    assert none["rows"][0]["status"].startswith("not available")
    with pytest.raises(ValueError, match="wall_s"):
        suite_paper.PaperTiming(LABEL)  # a run without its measurement


def test_run_suites_times_the_injected_paper_run(tmp_path):
    calls = []

    def time_paper(work_dir):
        calls.append(work_dir)
        return suite_paper.PaperTiming(LABEL, 1.5, 0, "-m some.script --quick")

    out = str(tmp_path)
    report = suites.run_suites(suite_config.SuiteConfig(), ["paper"], out, out, time_paper)
    assert calls == [os.path.join(out, "work")]
    assert set(report) == {"environment", "suite_config", "targets", "paper", "table"}
    assert set(report["paper"]) == {"rows", "targets", "figures", "suite_seconds"}
    assert report["paper"]["figures"]["wall_s"] == 1.5
    with open(os.path.join(out, "benchmark.json")) as f:
        loaded = json.load(f)
    assert loaded["paper"]["rows"] == report["paper"]["rows"]
    config = json.loads(json.dumps(dataclasses.asdict(suite_config.SuiteConfig())))
    assert loaded["suite_config"] == config
    with open(os.path.join(out, "benchmark.md")) as f:
        table = f.read()
    assert table == report["table"]
    assert "\n## paper\n" in table and LABEL in table and "\n## targets\n" in table


def test_run_suites_without_paper_run_and_bad_names(tmp_path):
    report = suites.run_suites(suite_config.SuiteConfig(), ["paper"], str(tmp_path), "")
    assert report["paper"]["figures"] == {"available": False}
    with pytest.raises(ValueError, match="choose suites"):
        suites.run_suites(suite_config.SuiteConfig(), ["nope"], str(tmp_path), "")
    with pytest.raises(ValueError, match="choose suites"):
        suites.run_suites(suite_config.SuiteConfig(), [], str(tmp_path), "")


def test_suite_config_fields_are_the_report_keys():
    assert suite_config.SUITES == (
        "vae",
        "features",
        "detect",
        "folds",
        "paper",
        "devices",
        "generators",
        "dcase",
    )
    assert [f.name for f in dataclasses.fields(suite_config.SuiteConfig)] == [
        "vae_batch_sizes",
        "vae_repeats",
        "vae_warmup",
        "torch_reference",
        "torch_threads",
        "feature_clips",
        "feature_samples",
        "librosa_clips",
        "feature_repeats",
        "detect_repeats",
        "alexnet_repeats",
        "device_counts",
        "devices_batch",
        "devices_repeats",
        "folds_splits",
        "folds_repeats",
        "paper_timeout_s",
        "dcase_counts",
        "dcase_seconds",
        "dcase_sample_rate",
        "dcase_clip_seconds",
        "seed",
    ]


def _docstring_nodes(tree):
    nodes = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                nodes.add(id(body[0].value))
    return nodes


def _runs_module(node) -> list:
    """Modules a ``[..., "-m", "<module>", ...]`` list or tuple literal would run."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return []
    items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
    return [m for flag, m in zip(items, items[1:]) if flag == "-m" and isinstance(m, str)]


def test_library_never_imports_or_runs_experiments():
    """No module of drill_jax imports ``experiments`` or runs ``python -m experiments...``;
    no code string in drill_jax.bench names it (docstrings may refer to the scripts)."""
    root = os.path.dirname(drill_jax.__file__)
    offenders = []
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            in_bench = os.path.basename(folder) == "bench"
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            docstrings = _docstring_nodes(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if in_bench and id(node) not in docstrings and "experiments" in node.value:
                        offenders.append(f"{path}:{node.lineno}: {node.value!r}")
                    continue
                else:
                    modules = _runs_module(node)
                if any(m == "experiments" or m.startswith("experiments.") for m in modules):
                    offenders.append(f"{path}:{node.lineno}: imports or runs {modules}")
    assert not offenders, offenders
