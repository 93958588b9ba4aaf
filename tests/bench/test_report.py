"""Tests for drill_jax.bench.report: targets, Markdown tables and written reports."""

import json
import os

import jax
import pytest

from drill_jax.bench import report as bench_report
from drill_jax.bench import timing


def test_targets_structure_and_rules():
    ok = bench_report.at_least("vae speed-up", 3.5, 3.0)
    bad = bench_report.at_most("p99 latency", 2.5, 2.0, " ms")
    missing = bench_report.at_least("paper", None, 1.0)
    nan = bench_report.at_most("diff", float("nan"), 1e-4)
    for t in (ok, bad, missing, nan):
        assert set(t) == {"name", "target", "measured", "met"}
        assert isinstance(t["met"], bool)
    assert ok["met"] and ok["target"] == ">= 3x" and ok["measured"] == 3.5
    assert not bad["met"] and bad["target"] == "<= 2 ms"
    assert not missing["met"] and missing["measured"] is None
    assert not nan["met"] and nan["measured"] is None
    assert bench_report.at_least("edge", 3.0, 3.0)["met"]  # the bound itself is met
    both = bench_report.all_of("features", [ok, bad])
    assert not both["met"] and both["measured"] == {"vae speed-up": 3.5, "p99 latency": 2.5}
    assert bench_report.all_of("one", [ok])["met"]


def test_check_targets_rejects_malformed():
    bench_report.check_targets([bench_report.target("a", "b", 1.0, True)])
    with pytest.raises(ValueError, match="keys"):
        bench_report.check_targets([{"name": "a", "met": True}])
    with pytest.raises(ValueError, match="bool"):
        bench_report.check_targets([{"name": "a", "target": "b", "measured": 1, "met": 1}])


def test_table_and_report_written(tmp_path):
    targets = [bench_report.at_least("speed-up", 12.3456, 10.0)]
    table = bench_report.format_targets(targets)
    lines = table.strip().splitlines()
    assert lines[0] == "| name | target | measured | met |"
    assert lines[2] == "| speed-up | >= 10x | 12.35 | met |"
    assert "NOT met" in bench_report.format_targets([bench_report.at_least("s", 1.0, 2.0)])
    report = {"environment": timing.environment(), "targets": targets}
    json_path, md_path = bench_report.write_report(str(tmp_path), report, table)
    with open(json_path) as f:
        loaded = json.load(f)
    assert loaded["targets"] == targets
    assert loaded["environment"]["backend"] == "cpu"
    assert loaded["environment"]["versions"]["jax"] == jax.__version__
    with open(md_path) as f:
        assert f.read() == table
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]  # atomic: no leftovers
    with pytest.raises(ValueError):
        bench_report.write_report(str(tmp_path), {"targets": [{"name": "x"}]}, "")
