"""Atomic file output: a crash never leaves half a result on disk."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np


def atomic_write(path: str, write_fn) -> None:
    """Calls ``write_fn(tmp_path)`` then renames tmp_path onto ``path`` (same folder)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Writes a text file atomically (UTF-8)."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes a binary file atomically."""

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_json(path: str, obj: Any) -> None:
    """Writes ``obj`` as indented JSON atomically."""
    atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def read_json(path: str) -> Any:
    """The JSON value in ``path``; a missing file or invalid JSON is a one-line error naming
    the file (FileNotFoundError / ValueError)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def atomic_save_npy(path: str, array: np.ndarray) -> None:
    """Saves one array in .npy format atomically."""

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))

    atomic_write(path, write)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
