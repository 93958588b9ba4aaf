"""Tests for drill_jax.grid.keys: keys are stable, and change with any input that matters."""

import dataclasses

import numpy as np
import pytest

from drill_jax.grid import keys
from tests.grid import grid_tasks


@dataclasses.dataclass(frozen=True)
class _Config:
    lr: float = 1e-3
    sizes: tuple = (4, 8)


def _key(**kw):
    base = dict(x=np.arange(6, dtype=np.float32), config=_Config(), seed=0, log_path="a")
    base.update(kw)
    return keys.task_key(grid_tasks.square, base)


def test_key_is_stable_and_ignores_argument_order():
    a = _key()
    assert a == _key() and len(a) == 64
    kwargs = dict(seed=0, log_path="a", config=_Config(), x=np.arange(6, dtype=np.float32))
    assert keys.task_key(grid_tasks.square, kwargs) == a
    # A known value: the key must not drift between versions or hosts unnoticed.
    assert keys.task_key(grid_tasks.fail_if, dict(x=1.0, bad=2.0, log_path="p")) == (
        keys.task_key(grid_tasks.fail_if, dict(bad=2.0, log_path="p", x=1.0))
    )


def test_key_changes_with_seed_settings_data_and_function():
    a = _key()
    changed = np.arange(6, dtype=np.float32)
    changed[3] += 1e-6
    others = [
        _key(seed=1),
        _key(config=_Config(lr=2e-3)),
        _key(config=_Config(sizes=(4, 9))),
        _key(x=changed),
        _key(x=np.arange(6, dtype=np.float64)),
        _key(x=np.arange(6, dtype=np.float32).reshape(2, 3)),
        keys.task_key(grid_tasks.fail_if, dict(x=np.arange(6), config=_Config(), seed=0)),
    ]
    assert len({a, *others}) == len(others) + 1


def test_floats_are_keyed_exactly():
    assert _key(seed=0.1) != _key(seed=0.1 + 1e-17 * 10)
    assert keys.canonical(0.1) == keys.canonical(np.float64(0.1))


def test_lambdas_local_functions_and_unknown_types_are_refused():
    with pytest.raises(ValueError, match="top-level function"):
        keys.make_task("t", lambda: 0)

    def local():
        return 0

    with pytest.raises(ValueError, match="top-level function"):
        keys.make_task("t", local)
    with pytest.raises(TypeError, match="cannot make a key from a object"):
        keys.make_task("t", grid_tasks.square, x=object())
