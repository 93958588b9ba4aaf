"""Result tables (Markdown, CSV, JSON) that put the paper's figures next to ours."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Optional, Sequence

from drill_jax import files
from drill_jax.evaluation import protocols

# Tran et al. 2022, accuracy in % on the 30 % validation split of the augmented set.
PAPER_TABLE_I = {
    "googlenet": 89.71,
    "alexnet": 94.12,
    "vgg16": 88.24,
    "vgg19": 85.29,
    "efficientnet_b0": 86.76,
}
# Table II: AlexNet, original 134 sounds vs augmented 230 sounds.
PAPER_TABLE_II = {"original": 87.5, "augmented": 94.12}

# The tables of the paper job, in the order results.md shows them.
PAPER_TABLES = {
    "table2": "Table II: original vs VAE-augmented training data",
    "augmentation": "Augmentation methods under the honest protocol",
    "table1": "Table I: backbones on the augmented data",
    "detectors": "Detectors on the real sounds under the honest protocol",
}

COLUMNS = (
    "row",
    "protocol",
    "backbone",
    "weights",
    "dataset",
    "augment",
    "crop",
    "folds",
    "accuracy",
    "accuracy_ci95",
    "balanced_accuracy",
    "roc_auc",
    "chance",
    "majority",
    "clip_length_only",
    "paper",
)


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}"


def result_row(
    name: str, result: dict, backbone: str, weights: str, paper: Optional[float] = None
) -> dict:
    """One table row from ``protocols.evaluate``'s result (percentages as strings)."""
    m = result["summary"]["metrics"]
    cfg = result["config"]
    acc = m["accuracy"]
    base = result["baselines"]
    return {
        "row": name,
        "protocol": cfg["protocol"],
        "backbone": backbone,
        "weights": weights,
        "dataset": cfg["dataset"],
        "augment": cfg["augment"],
        "crop": cfg["crop"] or "none",
        "folds": result["summary"]["n_folds"],
        "accuracy": f"{_pct(acc['mean'])} +- {_pct(acc['std'])}",
        # A t interval over few folds can pass 0 or 1; accuracy cannot, so it is clipped.
        "accuracy_ci95": f"[{_pct(max(acc['ci_low'], 0.0))}, {_pct(min(acc['ci_high'], 1.0))}]",
        "balanced_accuracy": _pct(m["balanced_accuracy"]["mean"]),
        "roc_auc": _pct(m["roc_auc"]["mean"]),
        "chance": _pct(base["chance"]["metrics"]["accuracy"]["mean"]),
        "majority": _pct(base["majority"]["metrics"]["accuracy"]["mean"]),
        "clip_length_only": _pct(base["clip_length"]["metrics"]["accuracy"]["mean"]),
        "paper": "" if paper is None else f"{paper:.2f}",
    }


def to_markdown(rows: Sequence[dict], columns: Sequence[str] = COLUMNS) -> str:
    """A GitHub Markdown table of ``rows`` (dicts keyed by ``columns``)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body]) + "\n"


def to_csv(rows: Sequence[dict], columns: Sequence[str] = COLUMNS) -> str:
    """CSV text of ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_table(stem: str, title: str, rows: Sequence[dict], note: str = "") -> None:
    """Writes ``stem``.md, .csv and .json atomically."""
    md = f"## {title}\n\n" + (note.strip() + "\n\n" if note else "") + to_markdown(rows)
    files.atomic_write_text(stem + ".md", md)
    files.atomic_write_text(stem + ".csv", to_csv(rows))
    files.atomic_write_json(stem + ".json", {"title": title, "note": note, "rows": list(rows)})


def _read(path: str) -> Optional[str]:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


def results_markdown(out_dir: str, stems: Sequence[str], config: dict, summary: dict) -> str:
    """results.md of the paper job: wall time, config, the tables ``out_dir``/<stem>.md (in
    order), the error audit, failed tasks and the similarity report, those that exist."""
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in summary["stages"].items())
    parts = [
        "# drill_jax: the paper's experiments, as measured\n",
        f"Wall time {summary['wall_seconds'] / 60:.1f} min ({stages}).\n",
        f"Config: `{json.dumps(config)}`\n",
    ]
    parts += [t for t in (_read(os.path.join(out_dir, s + ".md")) for s in stems) if t]
    audit_md = _read(os.path.join(out_dir, "audit.md"))
    if audit_md:
        parts.append(audit_md.replace("# Error audit", "## Error audit", 1))
    if summary.get("failed_tasks"):
        failed = "\n".join(f"- {line}" for line in summary["failed_tasks"])
        parts.append(f"## Failed tasks (their rows are left out)\n\n{failed}\n")
    sim_md = _read(os.path.join(out_dir, "similarity", "report.md"))
    if sim_md:
        parts.append("## Similarity of synthesized sounds\n\n" + sim_md)
    return "\n".join(parts)


def paper_figure(
    table: str, backbone: str, protocol: str, dataset: str, crop: Optional[int]
) -> Optional[float]:
    """The paper's figure for a row of the paper job (its protocol, uncropped), else None."""
    if protocol != "paper" or crop is not None:
        return None
    if table == "table2":  # the paper's AlexNet figure for the same protocol and data
        return PAPER_TABLE_II[dataset]
    if table == "table1":
        return PAPER_TABLE_I.get(backbone)
    return None


def paper_notes(backbone: str, torch_epochs: int) -> dict:
    """{table: the note printed under its title} for the paper job's tables."""
    return {
        "table2": "The paper column is the paper's AlexNet figure for the same protocol and "
        "data (Tran et al. 2022, Table II). Paper protocol rows: "
        + protocols.PAPER_LABEL
        + ". Honest rows: "
        + protocols.HONEST_LABEL
        + ". Accuracy in % as mean +- std over folds/splits; "
        "chance, majority and clip-length-only baselines are scored on the same folds.",
        "augmentation": protocols.HONEST_LABEL + f". {backbone} classifier; every method "
        "adds the same number of training examples per class.",
        "detectors": protocols.HONEST_LABEL + ". 'auto' chooses features x model inside each "
        "training fold (nested); clip_* are the classical detectors on clip features.",
        "table1": "Torchvision backbones trained on Mel images of the augmented data "
        f"({torch_epochs} epochs, paper recipe otherwise; weights as in the weights "
        "column: 'none' = trained from scratch).",
    }
