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


def jax_steps(seed: int, steps: int = 3) -> list:
    """Parameters (NumPy) of a small tanh MLP after ``steps`` jitted gradient steps on a
    seeded batch: JAX work (random draws, matmuls, reductions, autodiff) whose bits can be
    compared across processes. (The project's Flax steps take ~10 s to import and compile
    in every fresh worker on a busy 2-core machine.)"""
    import jax
    import jax.numpy as jnp

    k_x, k_w1, k_w2 = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(k_x, (32, 16))
    y = jnp.sin(x.sum(axis=1, keepdims=True))
    params = [jax.random.normal(k_w1, (16, 32)) / 4, jax.random.normal(k_w2, (32, 1)) / 6]

    @jax.jit
    def step(params):
        def loss(p):
            return jnp.mean((jnp.tanh(x @ p[0]) @ p[1] - y) ** 2)

        grads = jax.grad(loss)(params)
        return [w - 0.1 * g for w, g in zip(params, grads)]

    for _ in range(steps):
        params = step(params)
    return [np.asarray(w) for w in params]
