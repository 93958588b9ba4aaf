"""Top-level task functions for the grid tests (importable by subprocesses and Ray workers)."""

from __future__ import annotations

import os
import time

import numpy as np


def _log(log_path, line):
    with open(log_path, "a", encoding="utf-8") as f:  # O_APPEND: one whole line per write
        f.write(line + "\n")


def square(x: float, seed: int, log_path: str, sleep_s: float = 0.0) -> dict:
    """Logs its start, sleeps, returns x**2 plus a seeded draw (deterministic)."""
    _log(log_path, f"start {x} {os.getpid()}")
    time.sleep(sleep_s)
    return {"x2": x * x, "draw": float(np.random.default_rng(seed).normal())}


def fail_if(x: float, bad: float, log_path: str) -> float:
    """Raises ValueError for x == bad (logging every attempt), else returns 10 x."""
    _log(log_path, f"attempt {x}")
    if x == bad:
        raise ValueError(f"bad input {x}\nsecond line of the message")
    return 10 * x
