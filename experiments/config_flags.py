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

Nested configs (a field whose type is a dataclass, as ``VAEConfig.network``) are flagged
by their leaf names (``--latent_dim`` sets ``network.latent_dim``); a leaf name that two
parts share must be asked for by its dotted path and renamed. ``key=`` names the flags
that ``--help`` shows; the others are listed by ``--helpfull`` only.
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


def _resolve(cls: type, name: str) -> tuple:
    """A leaf name or a dotted path -> the field's path in ``cls``."""
    if "." in name:
        return tuple(name.split("."))
    path = field_paths(cls).get(name, ())
    if path is None:
        raise ValueError(f"{cls.__name__}: field name {name!r} is ambiguous; give its path")
    if not path:
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    return path


def _owner(cls: type, path: tuple) -> type:
    """The dataclass that holds the last field of ``path``."""
    for name in path[:-1]:
        cls = typing.get_type_hints(cls)[name]
    return cls


def _get(obj: Any, path: tuple) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


def _default(cls: type, name: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def build_nested(cls: type, base: Any, changes: Mapping[tuple, Any]) -> Any:
    """A ``cls`` made of ``base``'s fields (None: the class defaults) with ``changes``
    {path: value} applied; each changed part is rebuilt from its own base."""
    kwargs = {} if base is None else {f.name: getattr(base, f.name) for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for name in dict.fromkeys(p[0] for p in changes):
        if len(next(p for p in changes if p[0] == name)) == 1:
            kwargs[name] = changes[(name,)]
            continue
        inner = {p[1:]: v for p, v in changes.items() if p[0] == name}
        part_base = kwargs[name] if name in kwargs else _default(cls, name)
        kwargs[name] = build_nested(hints[name], part_base, inner)
    return cls(**kwargs)


@dataclasses.dataclass
class FlagGroup:
    """The flags of one config class: flag name -> field path, plus how to build it."""

    cls: type
    flag_to_path: dict
    parsers: dict

    def values(self) -> dict:
        """{field path: value} for the flags given on the command line."""
        out = {}
        for flag, path in self.flag_to_path.items():
            if FLAGS[flag].present:
                value = FLAGS[flag].value
                parse = self.parsers.get(flag)
                out[path] = parse(value) if parse else value
        return out

    def build(self, base: Any = None, **fixed) -> Any:
        """A ``cls`` made of ``base``'s fields (default: the class defaults), the values of
        the flags given on the command line, then ``fixed`` (leaf names or top fields). A
        config error is re-raised naming the flag."""
        changes = self.values()
        changes.update({_resolve(self.cls, k): v for k, v in fixed.items()})
        try:
            return build_nested(self.cls, base, changes)
        except ValueError as err:
            raise ValueError(self.name_flag(str(err))) from None

    def name_flag(self, message: str) -> str:
        """'field: reason' -> '--flag: reason' when the field has a flag here."""
        field_to_flag = {v[-1]: k for k, v in self.flag_to_path.items()}
        head, sep, rest = message.partition(":")
        if sep and head.strip() in field_to_flag:
            return f"--{field_to_flag[head.strip()]}:{rest}"
        return message


def _define_one(flag, kind, default, text, choice, parser, module) -> Optional[Callable]:
    """Defines one flag (``module``: None = the calling experiment's, shown by --help);
    returns the parser its value needs, if any."""
    where = {} if module is None else {"module_name": module}
    kind, optional = _unwrap_optional(kind)
    if parser is not None:
        as_list = isinstance(default, tuple) or typing.get_origin(kind) is tuple or kind is tuple
        if as_list:
            shown = None if default is None else [("" if v is None else str(v)) for v in default]
            flags.DEFINE_list(flag, shown, text, **where)
        else:
            flags.DEFINE_string(flag, None if default is None else str(default), text, **where)
        return parser
    if choice is not None:
        flags.DEFINE_enum(flag, default, list(choice), text, **where)
    elif kind is bool:
        flags.DEFINE_boolean(flag, default, text, **where)
    elif kind in (int, float) and optional:
        flags.DEFINE(_OptionalParser(kind), flag, default, text, **where)
    elif kind in (int, float, str):
        define = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}
        define[kind](flag, default, text, **where)
    elif kind is tuple or typing.get_origin(kind) is tuple:
        shown = None if default is None else [("none" if v is None else str(v)) for v in default]
        flags.DEFINE_list(flag, shown, text, **where)
        if default and all(isinstance(v, str) for v in default):
            # Names (backbones, methods): kept as written, 'none' included.
            return lambda v: None if v is None else tuple(s.strip() for s in v)
        return lambda v: None if v is None else parse_tuple(v)
    else:
        raise TypeError(f"{flag}: no flag type for {kind!r}")
    return None


def define(
    cls: type,
    fields: Optional[Sequence[str]] = None,
    *,
    rename: Optional[Mapping[str, str]] = None,
    choices: Optional[Mapping[str, Sequence[str]]] = None,
    help: Optional[Mapping[str, str]] = None,
    parsers: Optional[Mapping[str, Callable]] = None,
    defaults: Any = None,
    key: Optional[Sequence[str]] = None,
) -> FlagGroup:
    """Defines one absl flag per field of the dataclass ``cls`` (or per name in ``fields``).

    Args:
      fields: the fields to expose: leaf names or dotted paths (default: every field of a
        simple type, nested parts expanded).
      rename: {field: flag name} where the flag is called otherwise (e.g. 'vae_epochs').
      choices: {field: allowed values} (an enum flag).
      help: {field: text} overriding the docstring's entry.
      parsers: {field: f(flag value) -> field value} for fields with their own syntax.
      defaults: an instance whose values are shown as the flags' defaults (default: the
        class defaults).
      key: the fields whose flags ``--help`` lists (default: all); the rest show under
        ``--helpfull``.
    """
    base = defaults if defaults is not None else cls()
    rename, choices = dict(rename or {}), dict(choices or {})
    help, parsers = dict(help or {}), dict(parsers or {})
    names = list(fields) if fields is not None else [k for k, v in field_paths(cls).items() if v]
    flag_to_path, flag_parsers = {}, {}
    for field in names:
        path = _resolve(cls, field)
        owner, leaf = _owner(cls, path), path[-1]
        flag = rename.get(field, leaf)
        text = help.get(field) or docstring_help(owner).get(leaf) or leaf.replace("_", " ")
        module = None if key is None or field in key else __name__
        parse = _define_one(
            flag,
            typing.get_type_hints(owner)[leaf],
            _get(base, path),
            text,
            choices.get(field),
            parsers.get(field),
            module,
        )
        if parse is not None:
            flag_parsers[flag] = parse
        flag_to_path[flag] = path
    return FlagGroup(cls, flag_to_path, flag_parsers)
