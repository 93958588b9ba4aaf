"""VAE checkpoints: params, Adam state, batch statistics, step, epoch, loop key, history and
config in one msgpack file, written atomically; loading refuses another config or key."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from drill_jax import files, training

CHECKPOINT = "checkpoint.msgpack"  # the file name of every generator's training checkpoint

# Fields that may change between an interrupted run and its resumption, at any depth of the
# config (``train.epochs`` too): the epochs, and everything about synthesis.
RESUMABLE_FIELDS = ("epochs", "synthesis")


def _leaves(obj, prefix: str = "") -> dict:
    """{dotted path: value} of a JSON config's leaves, the resumable fields left out."""
    out = {}
    for key, value in obj.items():
        if key in RESUMABLE_FIELDS:
            continue
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def save_checkpoint(path, state, config, epoch: int, loop_key, history) -> None:
    """Writes ``state`` (a trainer.TrainState) and the run's position to ``path``."""
    payload = {
        "state": serialization.to_state_dict(
            {
                "params": state.params,
                "opt_state": state.opt_state,
                "batch_stats": state.batch_stats,
                "step": state.step,
            }
        ),
        "epoch": epoch,
        "loop_key": np.asarray(jax.random.key_data(loop_key)),
        "history": json.dumps([r.to_json() for r in history]),
        "config": json.dumps(dataclasses.asdict(config)),
    }
    files.atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def load_checkpoint(path, state, config, loop_key) -> tuple:
    """(state with the saved arrays, epochs done, history); ``state`` gives the structure."""
    with open(path, "rb") as f:
        payload = serialization.msgpack_restore(f.read())
    saved = _leaves(json.loads(payload["config"]))
    now = _leaves(json.loads(json.dumps(dataclasses.asdict(config))))
    diff = sorted(k for k in set(now) | set(saved) if saved.get(k) != now.get(k))
    if diff:
        raise ValueError(f"{path}: checkpoint config differs in {diff}; cannot resume")
    if not np.array_equal(payload["loop_key"], np.asarray(jax.random.key_data(loop_key))):
        raise ValueError(f"{path}: checkpoint was made with another key (seed); cannot resume")
    target = {
        "params": state.params,
        "opt_state": state.opt_state,
        "batch_stats": state.batch_stats,
        "step": state.step,
    }
    restored = serialization.from_state_dict(target, payload["state"])
    state = state.replace(
        params=restored["params"],
        opt_state=restored["opt_state"],
        batch_stats=restored["batch_stats"],
        step=jnp.asarray(restored["step"]),
    )
    history = [training.EpochRecord.from_json(r) for r in json.loads(payload["history"])]
    return state, int(payload["epoch"]), history
