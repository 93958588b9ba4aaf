"""absl flags generated from frozen config dataclasses (the one place flags meet configs).

A flag's default and help come from the dataclass (help: its docstring's ``Attributes:``
entry). ``group.build(base)`` replaces in ``base`` (class defaults or a recipe) only the
fields whose flags were given, so presets and explicit flags compose: explicit flags win.
Nested parts (``VAEConfig.network``) are flagged by leaf name (``--latent_dim``;
``drill_jax.config_tree``). ``key=`` names the flags ``--help`` shows; the rest are listed
by ``--helpfull``.

    group = config_flags.define(protocols.ProtocolConfig, fields=("n_splits", "seed"))
    config = group.build()
"""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from absl import flags

from drill_jax import config_tree
from experiments import flag_parsers

FLAGS = flags.FLAGS
flags.disclaim_key_flags()  # flags defined here belong to the experiment that asks for them


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
        changes.update({config_tree.resolve(self.cls, k): v for k, v in fixed.items()})
        try:
            return config_tree.build_nested(self.cls, base, changes)
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
    kind, optional = config_tree.unwrap_optional(kind)
    if parser is not None:
        as_list = isinstance(default, tuple) or kind is tuple
        as_list = as_list or typing.get_origin(kind) in (tuple, collections.abc.Sequence)
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
        flags.DEFINE(flag_parsers.OptionalParser(kind), flag, default, text, **where)
    elif kind in (int, float, str):
        define = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}
        define[kind](flag, default, text, **where)
    elif kind is tuple or typing.get_origin(kind) is tuple:
        shown = None if default is None else [("none" if v is None else str(v)) for v in default]
        flags.DEFINE_list(flag, shown, text, **where)
        names = default and all(isinstance(v, str) for v in default)
        return flag_parsers.parse_names if names else flag_parsers.parse_tuple
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
    names = fields or [k for k, v in config_tree.field_paths(cls).items() if v]
    flag_to_path, parse_of = {}, {}
    for field in names:
        path = config_tree.resolve(cls, field)
        owner, leaf = config_tree.owner(cls, path), path[-1]
        flag = rename.get(field, leaf)
        doc = config_tree.docstring_help(owner).get(leaf)
        text = help.get(field) or doc or leaf.replace("_", " ")
        module = None if key is None or field in key else __name__
        kind, default = typing.get_type_hints(owner)[leaf], config_tree.get_path(base, path)
        choice, parser = choices.get(field), parsers.get(field)
        parse = _define_one(flag, kind, default, text, choice, parser, module)
        if parse is not None:
            parse_of[flag] = parse
        flag_to_path[flag] = path
    return FlagGroup(cls, flag_to_path, parse_of)
