"""Tests for drill_jax.bench.timing: statistics, warm-up accounting, compile time."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax.bench import timing


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
    s = timing.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s["n"] == 5
    assert s["median"] == s["p50"] == 3.0
    assert s["mean"] == 3.0 and s["min"] == 1.0 and s["max"] == 5.0
    assert s["p10"] == pytest.approx(1.4) and s["p90"] == pytest.approx(4.6)
    assert s["p99"] == pytest.approx(4.96)
    assert s["iqr"] == pytest.approx(2.0)
    assert s["rel_spread"] == pytest.approx((4.6 - 1.4) / 3.0)


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        timing.summarize([])
    with pytest.raises(ValueError, match="finite"):
        timing.summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="non-negative"):
        timing.summarize([1.0, -1.0])


def test_time_calls_separates_first_call_and_counts_repeats():
    clock = FakeClock()
    # warm-up: 10 s (the "compile") then 0.5 s; timed: 1, 3, 2 s.
    fn = _fake_fn(clock, [10.0, 0.5, 1.0, 3.0, 2.0])
    t = timing.time_calls(fn, repeats=3, warmup=2, items_per_call=8, clock=clock)
    assert t.first_call_s == 10.0
    assert t.times_s == (1.0, 3.0, 2.0)
    assert t.median_s == 2.0
    assert t.items_per_s == 4.0
    summary = t.summary()
    assert summary["first_call_s"] == 10.0 and summary["items_per_s"] == 4.0
    assert summary["n"] == 3


def test_time_calls_without_warmup_has_no_first_call():
    clock = FakeClock()
    t = timing.time_calls(_fake_fn(clock, [1.0, 1.0]), repeats=2, warmup=0, clock=clock)
    assert t.first_call_s is None and t.times_s == (1.0, 1.0)
    with pytest.raises(ValueError, match="repeats"):
        timing.time_calls(lambda: None, repeats=0)


def test_time_step_loop_threads_state():
    clock = FakeClock()

    def step(state):
        clock.now += 0.25
        return state + 1

    t, final = timing.time_step_loop(step, 0, repeats=4, warmup=1, clock=clock)
    assert final == 5  # 1 warm-up + 4 timed calls, each fed the previous output
    assert t.times_s == (0.25,) * 4 and t.first_call_s == 0.25


def test_time_calls_waits_for_jax_results():
    f = jax.jit(lambda x: jnp.sum(x * x))
    t = timing.time_calls(lambda: f(jnp.ones(16)), repeats=3, warmup=1)
    assert len(t.times_s) == 3 and all(v >= 0 for v in t.times_s)
    assert timing.compile_seconds(jax.jit(lambda x: x + 1), jnp.ones(4)) > 0
