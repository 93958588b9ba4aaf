"""Tests for drill_jax.grid.runner in this process: retries and failures, the disk cache,
and resuming a grid whose process was killed (SIGKILL) part-way."""

import os
import signal
import subprocess
import sys
import time

import pytest

from drill_jax.grid import keys, runner
from tests.grid import grid_tasks

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _grid(log, n=5, sleep_s=0.0):
    return [
        keys.make_task(
            f"sq{i}", grid_tasks.square, x=float(i), seed=i, log_path=log, sleep_s=sleep_s
        )
        for i in range(n)
    ]


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().split()


def test_failing_task_is_retried_once_then_reported_and_the_rest_completes(tmp_path):
    log = str(tmp_path / "log.txt")
    tasks = [
        keys.make_task(f"t{x}", grid_tasks.fail_if, x=x, bad=2.0, log_path=log)
        for x in (1.0, 2.0, 3.0)
    ]
    report = runner.run_tasks(tasks, retries=1)
    assert report.results == [10.0, None, 30.0]
    assert [(f.name, f.error_type, f.reason) for f in report.failures] == [
        ("t2.0", "ValueError", "bad input 2.0")  # first line of the message only
    ]
    assert str(report.failures[0]) == "t2.0: ValueError: bad input 2.0"
    assert report.computed == ["t1.0", "t3.0"] and not report.ok
    with open(log, encoding="utf-8") as f:
        attempts = f.read().splitlines()
    assert attempts.count("attempt 2.0") == 2  # first try + one retry
    assert attempts.count("attempt 1.0") == attempts.count("attempt 3.0") == 1
    with pytest.raises(runner.TasksFailed, match="t2.0: ValueError: bad input 2.0"):
        raise runner.TasksFailed(report.failures)


def test_cached_tasks_are_loaded_not_recomputed(tmp_path):
    log, cache = str(tmp_path / "log.txt"), str(tmp_path / "cache")
    first = runner.run_tasks(_grid(log), cache_dir=cache)
    assert len(_lines(log)) == 3 * 5 and len(os.listdir(cache)) == 5
    again = runner.run_tasks(_grid(log) + _grid(log, n=7)[5:], cache_dir=cache)
    assert again.cached == [f"sq{i}" for i in range(5)] and again.computed == ["sq5", "sq6"]
    assert again.results[:5] == first.results
    assert len(_lines(log)) == 3 * 7  # only the two new tasks ran


def test_duplicate_names_are_refused(tmp_path):
    tasks = _grid(str(tmp_path / "log"), n=1) * 2
    with pytest.raises(ValueError, match="unique"):
        runner.run_tasks(tasks)


_CHILD = r"""
import sys
from drill_jax.grid import runner
from tests.grid import test_runner
runner.run_tasks(test_runner._grid(sys.argv[1], n=6, sleep_s=0.3), cache_dir=sys.argv[2])
"""


def test_killed_run_resumes_with_only_the_missing_tasks(tmp_path):
    log, cache = str(tmp_path / "log.txt"), str(tmp_path / "cache")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, log, cache], cwd=_REPO, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        done = [f for f in os.listdir(cache) if f.endswith(".pkl")] if os.path.isdir(cache) else []
        if len(done) >= 2:
            child.send_signal(signal.SIGKILL)  # no clean-up, as a crash or a lost host
            break
        time.sleep(0.02)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
    cached_before = {f for f in os.listdir(cache) if f.endswith(".pkl")}
    assert 2 <= len(cached_before) < 6
    assert not [f for f in os.listdir(cache) if not f.endswith(".pkl")]  # no partial files
    started_before = len(_lines(log)) // 3

    tasks = _grid(log, n=6, sleep_s=0.3)  # the same tasks (sleep_s is part of the key)
    report = runner.run_tasks(tasks, cache_dir=cache)
    missing = [t.name for t in tasks if t.key + ".pkl" not in cached_before]
    assert report.computed == missing and len(report.cached) == len(cached_before)
    assert len(_lines(log)) // 3 == started_before + len(missing)
    assert report.results == runner.run_tasks(_grid(str(tmp_path / "fresh"), n=6)).results
