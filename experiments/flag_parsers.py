"""Parsers of flag values into config field values (``experiments.config_flags``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from absl import flags


class OptionalParser(flags.ArgumentParser):
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


def parse_tuple(values: Optional[Sequence[str]]) -> Optional[tuple]:
    """A comma-list flag's strings -> tuple of None / int / float / str (None: None)."""
    return None if values is None else tuple(_element(v) for v in values)


def parse_names(values: Optional[Sequence[str]]) -> Optional[tuple]:
    """A comma-list flag of names (backbones, methods) -> tuple of the names as written,
    'none' included (None: None)."""
    return None if values is None else tuple(v.strip() for v in values)


def parse_band(values: Optional[Sequence[str]]) -> Optional[tuple]:
    """``--band_hz=LOW,HIGH`` -> (low Hz, high Hz); an empty edge is None (a high- or a
    low-pass alone)."""
    if values is None:
        return None
    if len(values) != 2:
        raise ValueError(f"--band_hz needs LOW,HIGH (one edge may be empty), got {values}")
    return tuple(None if v.strip() == "" else float(v) for v in values)
