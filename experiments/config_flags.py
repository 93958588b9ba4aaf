"""absl flags generated from the library's frozen config dataclasses (the one place where
flags meet configs).

Every default lives in the dataclass; a flag's default and help text are read from it
(help: the field's entry in the class docstring's ``Attributes:`` section). A config is
built by replacing, in a base instance (the class defaults or a named preset), only the
fields whose flags were given on the command line, so ``--quick`` style presets and
explicit flags compose: explicit flags win.

    group = config_flags.define(protocols.ProtocolConfig, fields=("n_splits", "seed"))
    ...
    config = group.build()                     # ProtocolConfig with the flags applied
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from absl import flags

FLAGS = flags.FLAGS
# Flags defined here belong to the experiment that asked for them (they show in its --help).
flags.disclaim_key_flags()


class _OptionalParser(flags.ArgumentParser):
    """A number or 'none' (an empty value is None too)."""

    def __init__(self, kind: type):
        self.kind = kind

    def parse(self, argument):
        if argument is None or isinstance(argument, (int, float)):
            return argument
        text = str(argument).strip()
        if text.lower() in ("", "none"):
            return None
        try:
            return self.kind(text)
        except ValueError:
            raise ValueError(
                f"expected a {self.kind.__name__} or 'none', got {argument!r}"
            ) from None

    def flag_type(self) -> str:
        return f"{self.kind.__name__} or none"


def _element(text: str) -> Any:
    """One list element: '' or 'none' -> None, else int, float or the string itself."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_tuple(values: Sequence[str]) -> tuple:
    """A comma-list flag's strings -> tuple of None / int / float / str."""
    return tuple(_element(v) for v in values)


def parse_band(values: Optional[Sequence[str]]) -> Optional[tuple]:
    """``--band_hz=LOW,HIGH`` -> (low Hz, high Hz); an empty edge is None (a high- or a
    low-pass alone)."""
    if values is None:
        return None
    if len(values) != 2:
        raise ValueError(f"--band_hz needs LOW,HIGH (one edge may be empty), got {values}")
    return tuple(None if v.strip() == "" else float(v) for v in values)


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


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if (origin is typing.Union or origin is types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return kind, False


@dataclasses.dataclass
class FlagGroup:
    """The flags of one config class: flag name -> field name, plus how to build it."""

    cls: type
    flag_to_field: dict
    parsers: dict

    def values(self) -> dict:
        """{field: value} for the flags given on the command line."""
        out = {}
        for flag, field in self.flag_to_field.items():
            if FLAGS[flag].present:
                value = FLAGS[flag].value
                parse = self.parsers.get(flag)
                out[field] = parse(value) if parse else value
        return out

    def build(self, base: Any = None, **fixed) -> Any:
        """A ``cls`` made of ``base``'s fields (default: the class defaults), the values of
        the flags given on the command line, then ``fixed``; constructed once, so only the
        final combination is validated. A config error is re-raised naming the flag."""
        kwargs = {}
        if base is not None:
            kwargs = {f.name: getattr(base, f.name) for f in dataclasses.fields(self.cls)}
        kwargs.update(self.values())
        kwargs.update(fixed)
        try:
            return self.cls(**kwargs)
        except ValueError as err:
            raise ValueError(self.name_flag(str(err))) from None

    def name_flag(self, message: str) -> str:
        """'field: reason' -> '--flag: reason' when the field has a flag here."""
        field_to_flag = {v: k for k, v in self.flag_to_field.items()}
        head, sep, rest = message.partition(":")
        if sep and head.strip() in field_to_flag:
            return f"--{field_to_flag[head.strip()]}:{rest}"
        return message


def define(
    cls: type,
    fields: Optional[Sequence[str]] = None,
    *,
    rename: Optional[Mapping[str, str]] = None,
    choices: Optional[Mapping[str, Sequence[str]]] = None,
    help: Optional[Mapping[str, str]] = None,
    parsers: Optional[Mapping[str, Callable]] = None,
    defaults: Any = None,
) -> FlagGroup:
    """Defines one absl flag per field of the dataclass ``cls`` (or per name in ``fields``).

    Args:
      fields: the fields to expose (default: every field of a simple type).
      rename: {field: flag name} where the flag is called otherwise (e.g. 'vae_epochs').
      choices: {field: allowed values} (an enum flag).
      help: {field: text} overriding the docstring's entry.
      parsers: {field: f(flag value) -> field value} for fields with their own syntax.
      defaults: an instance whose values are shown as the flags' defaults (default: the
        class defaults).
    """
    hints = typing.get_type_hints(cls)
    docs = docstring_help(cls)
    base = defaults if defaults is not None else cls()
    rename, choices = dict(rename or {}), dict(choices or {})
    help, parsers = dict(help or {}), dict(parsers or {})
    names = list(fields) if fields is not None else [f.name for f in dataclasses.fields(cls)]
    flag_to_field, flag_parsers = {}, {}
    for field in names:
        flag = rename.get(field, field)
        default = getattr(base, field)
        text = help.get(field) or docs.get(field) or field.replace("_", " ")
        kind, optional = _unwrap_optional(hints[field])
        if field in parsers:
            as_list = (
                isinstance(default, tuple) or typing.get_origin(kind) is tuple or kind is tuple
            )
            shown = None if default is None else [("" if v is None else str(v)) for v in default]
            if as_list:
                flags.DEFINE_list(flag, shown, text)
            else:
                flags.DEFINE_string(flag, None if default is None else str(default), text)
            flag_parsers[flag] = parsers[field]
        elif field in choices:
            flags.DEFINE_enum(flag, default, list(choices[field]), text)
        elif kind is bool:
            flags.DEFINE_boolean(flag, default, text)
        elif kind in (int, float) and optional:
            flags.DEFINE(_OptionalParser(kind), flag, default, text)
        elif kind is int:
            flags.DEFINE_integer(flag, default, text)
        elif kind is float:
            flags.DEFINE_float(flag, default, text)
        elif kind is str:
            flags.DEFINE_string(flag, default, text)
        elif kind is tuple or typing.get_origin(kind) is tuple:
            shown = (
                None if default is None else [("none" if v is None else str(v)) for v in default]
            )
            flags.DEFINE_list(flag, shown, text)
            if default and all(isinstance(v, str) for v in default):
                # Names (backbones, methods): kept as written, 'none' included.
                flag_parsers[flag] = lambda v: None if v is None else tuple(s.strip() for s in v)
            else:
                flag_parsers[flag] = lambda v: None if v is None else parse_tuple(v)
        else:
            raise TypeError(f"{cls.__name__}.{field}: no flag type for {hints[field]!r}")
        flag_to_field[flag] = field
    return FlagGroup(cls, flag_to_field, flag_parsers)
