"""Frozen config dataclasses as trees: nested fields by leaf name or path, building a
config from a base and changes, and each field's help from the class docstring.

A field whose type is a dataclass is a part (``VAEConfig.network``); its fields are leaves
named by their own name ('latent_dim') when no other part shares it, else by their path
('network.latent_dim'). ``experiments.config_flags`` turns these into flags.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any


def docstring_help(cls: type) -> dict:
    """{field: help} from the ``Attributes:`` section of ``cls``'s docstring. An entry
    ``a, b: text`` gives both names that text; continuation lines are joined."""
    doc = cls.__doc__ or ""
    if "Attributes:" not in doc:
        return {}
    section = doc.split("Attributes:", 1)[1]
    out, current, indent = {}, [], None
    for line in section.splitlines():
        m = re.match(r"^(\s+)([a-z_][\w, ]*):\s*(.*)$", line)
        if m and indent is None:
            indent = len(m.group(1))  # entries sit at the first entry's indentation
        names = (
            [n.strip() for n in m.group(2).split(",")] if m and len(m.group(1)) == indent else []
        )
        if names and all(re.fullmatch(r"[a-z_]\w*", n) for n in names):
            current = names
            for n in current:
                out[n] = m.group(3).strip()
        elif line.strip() and current:
            for n in current:
                out[n] += " " + line.strip()
        elif not line.strip() and out:
            current = []
    return out


def unwrap_optional(kind: Any) -> tuple[Any, bool]:
    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if (origin is typing.Union or origin is types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return kind, False


def field_paths(cls: type) -> dict:
    """{leaf name: path} over the fields of ``cls``, nested dataclass fields expanded
    ('latent_dim' -> ('network', 'latent_dim')); a leaf name two parts share maps to None."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            inner = {k: (f.name,) + v if v else None for k, v in field_paths(hints[f.name]).items()}
        else:
            inner = {f.name: (f.name,)}
        for leaf, path in inner.items():
            out[leaf] = None if leaf in out else path
    return out


def resolve(cls: type, name: str) -> tuple:
    """A field of ``cls`` itself (a part included), a leaf name or a dotted path -> the
    field's path in ``cls``."""
    if "." in name:
        return tuple(name.split("."))
    if name in {f.name for f in dataclasses.fields(cls)}:
        return (name,)
    path = field_paths(cls).get(name, ())
    if path is None:
        raise ValueError(f"{cls.__name__}: field name {name!r} is ambiguous; give its path")
    if not path:
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    return path


def owner(cls: type, path: tuple) -> type:
    """The dataclass that holds the last field of ``path``."""
    for name in path[:-1]:
        cls = typing.get_type_hints(cls)[name]
    return cls


def get_path(obj: Any, path: tuple) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


def field_default(cls: type, name: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def build_nested(cls: type, base: Any, changes: Mapping[tuple, Any]) -> Any:
    """A ``cls`` made of ``base``'s fields (None: the class defaults) with ``changes``
    {path: value} applied; each changed part is rebuilt from its own base."""
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {} if base is None else {name: getattr(base, name) for name in names}
    hints = typing.get_type_hints(cls)
    for name in dict.fromkeys(p[0] for p in changes):
        if len(next(p for p in changes if p[0] == name)) == 1:
            kwargs[name] = changes[(name,)]
            continue
        inner = {p[1:]: v for p, v in changes.items() if p[0] == name}
        part_base = kwargs[name] if name in kwargs else field_default(cls, name)
        kwargs[name] = build_nested(hints[name], part_base, inner)
    return cls(**kwargs)


def changes(base: Any, other: Any) -> dict:
    """{dotted path: value} of the leaves where ``other`` differs from ``base`` (one class;
    parts are compared field by field)."""
    out = {}
    for f in dataclasses.fields(base):
        a, b = getattr(base, f.name), getattr(other, f.name)
        if dataclasses.is_dataclass(a) and type(a) is type(b):
            out.update({f"{f.name}.{k}": v for k, v in changes(a, b).items()})
        elif a != b:
            out[f.name] = b
    return out
