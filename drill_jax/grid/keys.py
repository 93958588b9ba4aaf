"""Tasks and their keys: a stable hash of the function, its canonical settings and its data.

A task is one call ``fn(**kwargs)`` of a top-level (importable, picklable) function. Its key
is the SHA-256 of the function's module and qualified name and of a canonical form of every
argument: dataclasses by type name and fields, arrays by dtype, shape and a SHA-256 of their
bytes (the data fingerprint), floats exactly (``float.hex``). The seed is one of the
arguments, so the same settings with another seed are another task. Equal keys mean equal
inputs, in any process and on any host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

KEY_VERSION = 1  # bump when the canonical form changes (old cache entries then miss)


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """One call ``fn(**kwargs)``; ``name`` (unique in a grid) is what reports show."""

    name: str
    fn: Callable
    kwargs: Mapping
    key: str


def function_name(fn: Callable) -> str:
    """'module.qualname' of a top-level function; ValueError for lambdas and local functions
    (another process could not import them)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValueError(
            f"task function {qualname or fn!r} must be a top-level function of an importable "
            "module (no lambda, local function or __main__), so other processes can run it"
        )
    return f"{module}.{qualname}"


def canonical(obj: Any) -> Any:
    """A JSON-able form of ``obj`` that is equal exactly when the inputs are equal.

    Supported: None, bool, int, float, str, NumPy scalars and arrays (and anything
    ``np.asarray`` takes with a ``__array__``), lists, tuples, dicts with str keys,
    dataclass instances, top-level functions. TypeError otherwise.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return {"float": value.hex()} if math.isfinite(value) else {"float": repr(value)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"dataclass": f"{type(obj).__module__}.{type(obj).__qualname__}", **fields}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        return array_fingerprint(np.asarray(obj))
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, Mapping):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"task arguments: dict keys must be strings, got {list(obj)[:3]}")
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if callable(obj):
        return {"function": function_name(obj)}
    raise TypeError(f"task arguments: cannot make a key from a {type(obj).__name__}")


def array_fingerprint(array: np.ndarray) -> dict:
    """dtype, shape and SHA-256 of the C-ordered bytes of ``array``."""
    array = np.ascontiguousarray(array)
    if array.dtype == object:
        raise TypeError("task arguments: object arrays have no stable fingerprint")
    digest = hashlib.sha256(array.tobytes()).hexdigest()
    return {"array": str(array.dtype), "shape": list(array.shape), "sha256": digest}


def task_key(fn: Callable, kwargs: Mapping) -> str:
    """SHA-256 hex of (key version, function name, canonical kwargs)."""
    payload = {"v": KEY_VERSION, "fn": function_name(fn), "kwargs": canonical(dict(kwargs))}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_task(name: str, fn: Callable, **kwargs) -> Task:
    """A Task calling ``fn(**kwargs)``, keyed by ``task_key``."""
    if not name:
        raise ValueError("a task needs a non-empty name")
    return Task(name, fn, dict(kwargs), task_key(fn, kwargs))
