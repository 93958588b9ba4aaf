"""What every saved-detector model shares: the result of a fit, configs as JSON, array checks.

A model module (``drill_jax.detection.models.*``, listed in ``detection.registry``) fits on a
``data.Dataset`` of clips and returns a ``Fitted``; its config is a frozen dataclass written to
and read from JSON here (nested dataclasses and tuples of them included).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, NamedTuple

import jax
import numpy as np


class Fitted(NamedTuple):
    """A fitted model: the complete config that scores (e.g. with the recipes a search chose),
    its arrays (a pytree of NumPy arrays, what the detector format stores) and a training
    record (JSON-able)."""

    config: Any
    arrays: Any
    info: dict


def config_to_json(config: Any) -> dict:
    """A frozen config dataclass (nested ones included) -> JSON-able dict (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def config_from_json(cls: type, obj: dict) -> Any:
    """``cls`` rebuilt from ``config_to_json``'s dict: lists become tuples, dicts of nested
    dataclass fields become those dataclasses. One-line ValueError for unknown fields."""
    if not isinstance(obj, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(obj).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)} (newer drill_jax?)")
    return cls(**{k: _value(hints[k], v) for k, v in obj.items()})


def _value(hint: Any, v: Any) -> Any:
    """A JSON value as the field type ``hint`` wants it."""
    for kind in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(kind) and isinstance(v, dict):
            return config_from_json(kind, v)
    if isinstance(v, list):
        return tuple(_value(Any, e) for e in v)
    return v


def check_like(template: Any, arrays: Any, where: str) -> None:
    """ValueError unless ``arrays`` has the tree structure and leaf shapes of ``template``."""
    same_tree = jax.tree.structure(template) == jax.tree.structure(arrays)
    want = [np.shape(v) for v in jax.tree.leaves(template)]
    got = [np.shape(v) for v in jax.tree.leaves(arrays)]
    if not same_tree or want != got:
        raise ValueError(f"{where}: parameter shapes do not match the model config")


def check_keys(arrays: Any, keys: tuple, where: str) -> None:
    """ValueError unless ``arrays`` is a dict with exactly ``keys``."""
    if not isinstance(arrays, dict) or sorted(arrays) != sorted(keys):
        got = sorted(arrays) if isinstance(arrays, dict) else type(arrays).__name__
        raise ValueError(f"{where}: expected arrays {sorted(keys)}, got {got}")
