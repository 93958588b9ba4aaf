"""Tests for drill_jax.benchmarking: statistics, warm-up accounting, targets and reports."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax.bench import benchmarking


class FakeClock:
    """A clock that a fake timed function advances by known amounts."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _fake_fn(clock, durations):
    it = iter(durations)

    def fn():
        clock.now += next(it)
        return np.zeros(3)

    return fn


def test_summarize_known_values():
    s = benchmarking.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s["n"] == 5
    assert s["median"] == s["p50"] == 3.0
    assert s["mean"] == 3.0 and s["min"] == 1.0 and s["max"] == 5.0
    assert s["p10"] == pytest.approx(1.4) and s["p90"] == pytest.approx(4.6)
    assert s["p99"] == pytest.approx(4.96)
    assert s["iqr"] == pytest.approx(2.0)
    assert s["rel_spread"] == pytest.approx((4.6 - 1.4) / 3.0)


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        benchmarking.summarize([])
    with pytest.raises(ValueError, match="finite"):
        benchmarking.summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="non-negative"):
        benchmarking.summarize([1.0, -1.0])


def test_time_calls_separates_first_call_and_counts_repeats():
    clock = FakeClock()
    # warm-up: 10 s (the "compile") then 0.5 s; timed: 1, 3, 2 s.
    fn = _fake_fn(clock, [10.0, 0.5, 1.0, 3.0, 2.0])
    t = benchmarking.time_calls(fn, repeats=3, warmup=2, items_per_call=8, clock=clock)
    assert t.first_call_s == 10.0
    assert t.times_s == (1.0, 3.0, 2.0)
    assert t.median_s == 2.0
    assert t.items_per_s == 4.0
    summary = t.summary()
    assert summary["first_call_s"] == 10.0 and summary["items_per_s"] == 4.0
    assert summary["n"] == 3


def test_time_calls_without_warmup_has_no_first_call():
    clock = FakeClock()
    t = benchmarking.time_calls(_fake_fn(clock, [1.0, 1.0]), repeats=2, warmup=0, clock=clock)
    assert t.first_call_s is None and t.times_s == (1.0, 1.0)
    with pytest.raises(ValueError, match="repeats"):
        benchmarking.time_calls(lambda: None, repeats=0)


def test_time_step_loop_threads_state():
    clock = FakeClock()

    def step(state):
        clock.now += 0.25
        return state + 1

    t, final = benchmarking.time_step_loop(step, 0, repeats=4, warmup=1, clock=clock)
    assert final == 5  # 1 warm-up + 4 timed calls, each fed the previous output
    assert t.times_s == (0.25,) * 4 and t.first_call_s == 0.25


def test_time_calls_waits_for_jax_results():
    f = jax.jit(lambda x: jnp.sum(x * x))
    t = benchmarking.time_calls(lambda: f(jnp.ones(16)), repeats=3, warmup=1)
    assert len(t.times_s) == 3 and all(v >= 0 for v in t.times_s)
    assert benchmarking.compile_seconds(jax.jit(lambda x: x + 1), jnp.ones(4)) > 0


def test_targets_structure_and_rules():
    ok = benchmarking.at_least("vae speed-up", 3.5, 3.0)
    bad = benchmarking.at_most("p99 latency", 2.5, 2.0, " ms")
    missing = benchmarking.at_least("paper", None, 1.0)
    nan = benchmarking.at_most("diff", float("nan"), 1e-4)
    for t in (ok, bad, missing, nan):
        assert set(t) == {"name", "target", "measured", "met"}
        assert isinstance(t["met"], bool)
    assert ok["met"] and ok["target"] == ">= 3x" and ok["measured"] == 3.5
    assert not bad["met"] and bad["target"] == "<= 2 ms"
    assert not missing["met"] and missing["measured"] is None
    assert not nan["met"] and nan["measured"] is None
    assert benchmarking.at_least("edge", 3.0, 3.0)["met"]  # the bound itself is met
    both = benchmarking.all_of("features", [ok, bad])
    assert not both["met"] and both["measured"] == {"vae speed-up": 3.5, "p99 latency": 2.5}
    assert benchmarking.all_of("one", [ok])["met"]


def test_check_targets_rejects_malformed():
    benchmarking.check_targets([benchmarking.target("a", "b", 1.0, True)])
    with pytest.raises(ValueError, match="keys"):
        benchmarking.check_targets([{"name": "a", "met": True}])
    with pytest.raises(ValueError, match="bool"):
        benchmarking.check_targets([{"name": "a", "target": "b", "measured": 1, "met": 1}])


def test_table_and_report_written(tmp_path):
    targets = [benchmarking.at_least("speed-up", 12.3456, 10.0)]
    table = benchmarking.format_targets(targets)
    lines = table.strip().splitlines()
    assert lines[0] == "| name | target | measured | met |"
    assert lines[2] == "| speed-up | >= 10x | 12.35 | met |"
    assert "NOT met" in benchmarking.format_targets([benchmarking.at_least("s", 1.0, 2.0)])
    report = {"environment": benchmarking.environment(), "targets": targets}
    json_path, md_path = benchmarking.write_report(str(tmp_path), report, table)
    with open(json_path) as f:
        loaded = json.load(f)
    assert loaded["targets"] == targets
    assert loaded["environment"]["backend"] == "cpu"
    assert loaded["environment"]["versions"]["jax"] == jax.__version__
    with open(md_path) as f:
        assert f.read() == table
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]  # atomic: no leftovers
    with pytest.raises(ValueError):
        benchmarking.write_report(str(tmp_path), {"targets": [{"name": "x"}]}, "")
