"""Finished tasks on disk: ``<cache_dir>/<key>.pkl``, written atomically, so a killed run
leaves only whole entries and a rerun loads them instead of computing them again."""

from __future__ import annotations

import os
import pickle
from typing import Any, Optional

from absl import logging

from drill_jax import files
from drill_jax.grid import keys

_SUFFIX = ".pkl"


def entry_path(cache_dir: str, key: str) -> str:
    """Where the result of the task with ``key`` is stored."""
    return os.path.join(cache_dir, key + _SUFFIX)


def load(cache_dir: Optional[str], task: keys.Task) -> tuple[bool, Any]:
    """(True, result) when ``task`` finished before; (False, None) otherwise. An entry that
    cannot be read, or that belongs to another key, is logged and treated as missing."""
    if not cache_dir:
        return False, None
    path = entry_path(cache_dir, task.key)
    if not os.path.exists(path):
        return False, None
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f)
    except Exception as err:  # a foreign or damaged file: recompute, say so
        logging.warning("task cache %s unreadable (%s); recomputing %s", path, err, task.name)
        return False, None
    if not isinstance(entry, dict) or entry.get("key") != task.key:
        logging.warning("task cache %s holds another key; recomputing %s", path, task.name)
        return False, None
    return True, entry["result"]


def store(cache_dir: Optional[str], task: keys.Task, result: Any) -> None:
    """Writes ``result`` (picklable) for ``task`` atomically; no-op without a cache_dir."""
    if not cache_dir:
        return
    entry = {
        "key": task.key,
        "name": task.name,
        "function": keys.function_name(task.fn),
        "result": result,
    }
    files.atomic_write_bytes(
        entry_path(cache_dir, task.key), pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    )
