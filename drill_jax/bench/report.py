"""Benchmark targets and reports: target records, Markdown tables, benchmark.json / .md.

A target is {"name", "target", "measured", "met"} with ``met`` a bool; ``at_least`` and
``at_most`` count a missing measurement (None / NaN) as not met. ``write_report`` writes
the report JSON and its Markdown table atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from drill_jax import files
from drill_jax.bench.suite_config import SUITES


def target(name: str, description: str, measured: Any, met: bool) -> dict:
    """One target record: {"name", "target", "measured", "met"} with ``met`` a bool."""
    if not name or not description:
        raise ValueError("a target needs a name and a description")
    return {"name": str(name), "target": str(description), "measured": measured, "met": bool(met)}


def at_least(name: str, value: Optional[float], threshold: float, unit: str = "x") -> dict:
    """Target ``value >= threshold``; a missing value (None / NaN) counts as not met."""
    ok = value is not None and np.isfinite(value) and value >= threshold
    shown = None if value is None or not np.isfinite(value) else float(value)
    return target(name, f">= {threshold:g}{unit}", shown, ok)


def at_most(name: str, value: Optional[float], threshold: float, unit: str = "") -> dict:
    """Target ``value <= threshold``; a missing value (None / NaN) counts as not met."""
    ok = value is not None and np.isfinite(value) and value <= threshold
    shown = None if value is None or not np.isfinite(value) else float(value)
    return target(name, f"<= {threshold:g}{unit}", shown, ok)


def all_of(name: str, parts: Sequence[dict]) -> dict:
    """A target met when every part is met; ``measured`` lists the parts' figures."""
    if not parts:
        raise ValueError("all_of needs at least one part")
    description = " and ".join(f"{p['name']} {p['target']}" for p in parts)
    measured = {p["name"]: p["measured"] for p in parts}
    return target(name, description, measured, all(p["met"] for p in parts))


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "met" if value else "NOT met"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def format_table(rows: Sequence[dict], columns: Optional[Sequence[str]] = None) -> str:
    """A Markdown table of ``rows`` (dicts); columns default to the keys in first-seen order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def format_targets(targets: Sequence[dict]) -> str:
    """The targets as a Markdown table (name, target, measured, met / NOT met)."""
    return format_table(targets, ("name", "target", "measured", "met"))


def check_targets(targets: Sequence[dict]) -> None:
    """Raises ValueError unless each target has exactly name/target/measured/met, met a bool."""
    for t in targets:
        if set(t) != {"name", "target", "measured", "met"}:
            raise ValueError(f"target must have keys name, target, measured, met: {t}")
        if not isinstance(t["met"], bool):
            raise ValueError(f"target {t['name']!r}: met must be a bool, got {t['met']!r}")


def write_report(out_dir: str, report: dict, table: str, stem: str = "benchmark") -> tuple:
    """Writes ``<stem>.json`` (the report) and ``<stem>.md`` (the table) atomically.

    ``report`` must hold a ``targets`` list (checked with ``check_targets``).
    Returns (json_path, markdown_path).
    """
    check_targets(report.get("targets", []))
    json_path = os.path.join(out_dir, f"{stem}.json")
    md_path = os.path.join(out_dir, f"{stem}.md")
    files.atomic_write_json(json_path, report)
    files.atomic_write_text(md_path, table)
    return json_path, md_path


def report_table(report: dict) -> str:
    """Markdown: environment line, one table per suite, then the targets table."""
    env = report["environment"]
    parts = [
        f"# drill_jax benchmark ({env['time_utc']})\n",
        f"device: {env['backend']} / {env['device_kind']} x{env['device_count']}, "
        f"{env['cpu_count']} CPU cores, load average (1, 5, 15 min) at start "
        f"{env['loadavg_1_5_15']}, at end {env.get('loadavg_1_5_15_end')}; "
        f"jax {env['versions']['jax']}, torch {env['versions']['torch']}, "
        f"librosa {env['versions']['librosa']}\n",
    ]
    for name in SUITES:
        if name in report:
            parts.append(f"\n## {name}\n\n" + format_table(report[name]["rows"]))
    parts.append("\n## targets\n\n" + format_targets(report["targets"]))
    return "".join(parts)
