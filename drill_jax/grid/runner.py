"""Runs a grid of tasks in this process (default) or on Ray, with a disk cache and retries.

``run_tasks(tasks)`` calls every task here, one after another: no server to start.
``ray_address='local'`` starts Ray on this machine (``workers`` CPUs, one task per CPU);
any other address (``ray://host:10001``, ``host:6379``, ``auto``) joins that cluster, whose
nodes must have drill_jax installed (the same commit). Either way each finished result is
written to ``cache_dir`` at once (by the driver, so a cluster needs no shared disk), a
rerun loads cached tasks instead of running them, a task that raises is retried
``retries`` times and then reported by name with a one-line reason, and the other tasks
still run. Results come back in task order.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Optional

from absl import logging

from drill_jax.grid import cache, keys


@dataclasses.dataclass(frozen=True)
class GridConfig:
    """Where and how the tasks of a grid run.

    Attributes:
      ray_address: None = every task in this process; 'local' = start Ray on this machine;
        else the address of a running Ray cluster (e.g. ray://head:10001 or auto).
      task_cache: folder where finished tasks are stored by key (None = no cache); a
        rerun with the same folder loads them, so a killed run resumes.
      task_retries: times a failing task is run again before it is reported as failed.
      ray_workers: CPUs (= parallel tasks) of a local Ray (None = every CPU here).
    """

    ray_address: Optional[str] = None
    task_cache: Optional[str] = None
    task_retries: int = 1
    ray_workers: Optional[int] = None

    def __post_init__(self):
        if self.task_retries < 0:
            raise ValueError(f"task_retries: must be >= 0, got {self.task_retries}")
        if self.ray_workers is not None and self.ray_workers < 1:
            raise ValueError(f"ray_workers: must be >= 1, got {self.ray_workers}")
        if self.ray_address is not None and not self.ray_address.strip():
            raise ValueError("ray_address: empty; use 'local' or a cluster address")


@dataclasses.dataclass(frozen=True)
class Failure:
    """A task that failed after its retries: its name, key, exception type and one line."""

    name: str
    key: str
    error_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.error_type}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class GridReport:
    """What ``run_tasks`` did. results[i] belongs to tasks[i] (None where it failed)."""

    results: list
    failures: list
    computed: list  # names of the tasks run now
    cached: list  # names of the tasks loaded from the cache
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return not self.failures


class TasksFailed(RuntimeError):
    """Raised by callers that need every task: lists each failed task on one line."""

    def __init__(self, failures: Sequence[Failure]):
        self.failures = list(failures)
        super().__init__(
            f"{len(self.failures)} task(s) failed: " + "; ".join(str(f) for f in self.failures)
        )


def one_line(err: BaseException) -> str:
    """The first non-empty line of ``str(err)`` (or the exception type's name)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def run_grid(
    tasks: Sequence[keys.Task],
    grid: GridConfig,
    progress: Optional[Callable[[str], None]] = None,
) -> GridReport:
    """``run_tasks`` with the placement, cache and retries of ``grid``."""
    return run_tasks(
        tasks,
        cache_dir=grid.task_cache,
        ray_address=grid.ray_address,
        retries=grid.task_retries,
        workers=grid.ray_workers,
        progress=progress,
    )


def run_tasks(
    tasks: Sequence[keys.Task],
    cache_dir: Optional[str] = None,
    ray_address: Optional[str] = None,
    retries: int = 1,
    workers: Optional[int] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> GridReport:
    """Runs ``tasks`` (see the module docstring). Tasks with equal keys run once."""
    say = progress or (lambda msg: logging.info("%s", msg))
    names = [t.name for t in tasks]
    dupes = [n for n, c in collections.Counter(names).items() if c > 1]
    if dupes:
        raise ValueError(f"task names must be unique in a grid; repeated: {dupes[:5]}")
    t0 = time.perf_counter()
    by_key: dict[str, Any] = {}
    cached, todo, seen = [], [], set()
    for task in tasks:
        if task.key in seen:
            continue
        seen.add(task.key)
        hit, value = cache.load(cache_dir, task)
        if hit:
            by_key[task.key] = value
            cached.append(task.name)
        else:
            todo.append(task)
    if cached:
        say(f"{len(cached)} of {len(tasks)} task(s) loaded from {cache_dir}")
    failed: dict[str, Failure] = {}

    def finished(task, value):
        cache.store(cache_dir, task, value)
        by_key[task.key] = value
        say(f"task {len(by_key) - len(cached)}/{len(todo)} done: {task.name}")

    def gave_up(task, error_type, reason):
        failed[task.key] = Failure(task.name, task.key, error_type, reason)
        say(f"task failed after {retries} retr{'y' if retries == 1 else 'ies'}: {failed[task.key]}")

    if ray_address is None:
        _run_here(todo, retries, finished, gave_up, say)
    else:
        _run_on_ray(todo, ray_address, retries, workers, finished, gave_up)
    results = [by_key.get(t.key) for t in tasks]
    failures = [dataclasses.replace(failed[t.key], name=t.name) for t in tasks if t.key in failed]
    return GridReport(
        results,
        failures,
        [t.name for t in todo if t.key not in failed],
        cached,
        time.perf_counter() - t0,
    )


def _run_here(todo, retries, finished, gave_up, say) -> None:
    for task in todo:
        for attempt in range(retries + 1):
            try:
                value = task.fn(**task.kwargs)
            except Exception as err:  # a task's failure must not stop the grid
                if attempt < retries:
                    say(f"task {task.name} failed ({type(err).__name__}: {one_line(err)}); retry")
                    continue
                gave_up(task, type(err).__name__, one_line(err))
            else:
                finished(task, value)
            break


def _call(fn, /, **kwargs):
    """Runs one task on a Ray worker (top-level so Ray can ship it by reference)."""
    return fn(**kwargs)


def connect_ray(ray_address: str, workers: Optional[int] = None):
    """Imports ray and connects: an already initialised Ray is reused; 'local' starts one
    with ``workers`` CPUs whose workers import this checkout's drill_jax."""
    try:
        import ray  # only a Ray run needs it
    except ImportError as err:
        raise ValueError(f"ray_address={ray_address!r} needs ray: {err}") from None
    if ray.is_initialized():
        return ray
    if ray_address == "local":
        # Workers start from this process's environment: put the checkout we run from on
        # their path so they import the same drill_jax (and tasks' own modules).
        paths = [p for p in (os.getcwd(), *sys.path) if p and os.path.isdir(p)]
        env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
        with warnings.catch_warnings():  # Ray's fork+exec of its servers is safe
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            ray.init(
                address="local",  # a new instance, even if `ray start` runs one here
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": env},
            )
    else:
        ray.init(address=ray_address, log_to_driver=False)
    return ray


def _run_on_ray(todo, ray_address, retries, workers, finished, gave_up) -> None:
    if not todo:
        return
    ray = connect_ray(ray_address, workers)
    remote = ray.remote(_call).options(num_cpus=1, max_retries=retries, retry_exceptions=True)
    shared = _shared_refs(ray, todo)
    pending = {}
    for task in todo:
        kwargs = {k: shared.get(id(v), v) for k, v in task.kwargs.items()}
        pending[remote.remote(task.fn, **kwargs)] = task
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            task = pending.pop(ref)
            try:
                value = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None) or err
                gave_up(task, type(cause).__name__, one_line(cause))
            except ray.exceptions.RayError as err:  # worker died, object lost, ...
                gave_up(task, type(err).__name__, one_line(err))
            else:
                finished(task, value)


def _shared_refs(ray, todo) -> dict:
    """{id(value): ObjectRef} for argument values (not plain scalars) passed to several
    tasks, e.g. the dataset: put in Ray's object store once instead of once per task."""
    counts, values = collections.Counter(), {}
    for task in todo:
        for v in task.kwargs.values():
            if v is None or isinstance(v, (bool, int, float, str)):
                continue
            counts[id(v)] += 1
            values[id(v)] = v
    return {i: ray.put(values[i]) for i, c in counts.items() if c > 1}
