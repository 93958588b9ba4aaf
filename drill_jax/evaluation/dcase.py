"""DCASE task-2 scoring: AUC (source, target), pAUC, the official harmonic mean, and the
official per-section CSV files (anomaly scores and decisions) and result tables."""

from __future__ import annotations

import csv
import io
import os
import sys
from typing import Sequence

import numpy as np
import scipy.stats
import sklearn.metrics as skm

from drill_jax.evaluation import tables
from drill_jax.files import atomic_write_text

MAX_FPR = 0.1
METRICS = ("auc_source", "auc_target", "pauc")


def _check(labels, scores, domains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, np.float64)
    d = np.asarray(domains)
    if y.ndim != 1 or s.shape != y.shape or d.shape != y.shape:
        raise ValueError(f"labels, scores, domains must be 1-D of equal length, got "
                         f"{y.shape}, {s.shape}, {d.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return y.astype(np.int64), s, d


def domain_auc(labels, scores, domains, domain: str) -> float:
    """ROC-AUC of the normal files of ``domain`` against ALL anomalous files (every domain).

    labels [N] 0/1 (1 = anomaly), scores [N] higher = more anomalous, domains [N] str.
    This is DCASE's 'AUC (source)' / 'AUC (target)' since 2023: the official baseline keeps
    files whose domain is ``domain`` or whose label is anomalous, then calls
    ``sklearn.metrics.roc_auc_score``. NaN when there is no normal file of ``domain``.
    """
    y, s, d = _check(labels, scores, domains)
    keep = (d == domain) | (y == 1)
    if not np.any(y[keep] == 0) or not np.any(y[keep] == 1):
        return float("nan")
    return float(skm.roc_auc_score(y[keep], s[keep]))


def pauc(labels, scores, max_fpr: float = MAX_FPR) -> float:
    """Partial AUC over FPR in [0, max_fpr] of all files of a section (both domains).

    As the official baseline: ``sklearn.metrics.roc_auc_score(y, s, max_fpr=0.1)``, which is
    the McClish (1989) *standardised* partial AUC (0.5 = chance, 1 = perfect), not the raw
    area divided by max_fpr as DCASE's task description writes it; we match the code.
    """
    y, s, _ = _check(labels, scores, np.zeros(len(np.asarray(labels))))
    return float(skm.roc_auc_score(y, s, max_fpr=max_fpr))


def section_metrics(labels, scores, domains) -> dict:
    """{'auc_source', 'auc_target', 'pauc'} of one section's test files."""
    return {
        "auc_source": domain_auc(labels, scores, domains, "source"),
        "auc_target": domain_auc(labels, scores, domains, "target"),
        "pauc": pauc(labels, scores),
    }


def harmonic_mean(values) -> float:
    """Harmonic mean, each value floored at machine epsilon (the official code's guard
    against zeros); NaN values are left out."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(scipy.stats.hmean(np.maximum(v, sys.float_info.epsilon)))


def official_score(section_results: Sequence[dict]) -> float:
    """DCASE's official score of a set of sections: the harmonic mean over sections (and
    machine types) of their AUC (source), AUC (target) and pAUC together."""
    return harmonic_mean([r[m] for r in section_results for m in METRICS])


def official_file_names(machine_type: str, section: str) -> tuple[str, str]:
    """('anomaly_score_<machine>_section_<XX>_test.csv', 'decision_result_<...>_test.csv')."""
    stem = f"{machine_type}_section_{section}_test.csv"
    return f"anomaly_score_{stem}", f"decision_result_{stem}"


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_official_files(
    out_dir: str, machine_type: str, section: str, file_names, scores, threshold: float
) -> tuple[str, str]:
    """Writes the two official CSV files of one section, atomically, as the official baseline:
    no header, one row per test file, ``file_name,score`` and ``file_name,0|1`` (1 when the
    score is above ``threshold``). Returns their paths."""
    scores = np.asarray(scores, np.float64)
    if len(file_names) != scores.shape[0]:
        raise ValueError(f"{len(file_names)} file names but {scores.shape[0]} scores")
    score_name, decision_name = official_file_names(machine_type, section)
    score_path = os.path.join(out_dir, score_name)
    decision_path = os.path.join(out_dir, decision_name)
    atomic_write_text(score_path, _csv_text(zip(file_names, (repr(float(s)) for s in scores))))
    atomic_write_text(decision_path, _csv_text(zip(file_names, (scores > threshold).astype(int))))
    return score_path, decision_path


def read_official_scores(path: str) -> dict:
    """{file name: score} of an ``anomaly_score_*.csv`` file."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    try:
        return {r[0]: float(r[1]) for r in rows}
    except (IndexError, ValueError):
        raise ValueError(f"{path}: expected rows 'file_name,score'") from None


RESULT_COLUMNS = ("detector", "machine_type", "section", "auc_source", "auc_target", "pauc",
                  "hmean")


def summary_rows(results: Sequence[dict]) -> list[dict]:
    """Per-section result dicts (keys detector, machine_type, section and ``METRICS``) ->
    rows of the results table: every section, then per (detector, machine type) the
    harmonic mean over its sections ('hmean' section), then per detector 'all' (the
    official score over every machine type), detectors in the order first seen."""
    rows = []
    for r in results:
        rows.append({**{k: r[k] for k in RESULT_COLUMNS[:6]}, "hmean": official_score([r])})
    detectors = list(dict.fromkeys(r["detector"] for r in results))
    for det in detectors:
        mine = [r for r in results if r["detector"] == det]
        for mt in dict.fromkeys(r["machine_type"] for r in mine):
            rs = [r for r in mine if r["machine_type"] == mt]
            rows.append({"detector": det, "machine_type": mt, "section": "hmean",
                         **{m: harmonic_mean([r[m] for r in rs]) for m in METRICS},
                         "hmean": official_score(rs)})
        rows.append({"detector": det, "machine_type": "all", "section": "hmean",
                     **{m: harmonic_mean([r[m] for r in mine]) for m in METRICS},
                     "hmean": official_score(mine)})
    return rows


def _formatted(rows: Sequence[dict], metric) -> list[dict]:
    """Rows with the metric columns of ``RESULT_COLUMNS`` turned into text by ``metric``."""
    return [{c: r[c] if c in RESULT_COLUMNS[:3] else metric(r[c]) for c in RESULT_COLUMNS}
            for r in rows]


def results_csv(rows: Sequence[dict]) -> str:
    """The results table as CSV text (header ``RESULT_COLUMNS``, metrics to 4 decimals)."""
    return tables.to_csv(_formatted(rows, lambda v: f"{v:.4f}"), RESULT_COLUMNS)


def results_markdown(rows: Sequence[dict]) -> str:
    """The results table as Markdown (metrics in %, one decimal)."""
    return tables.to_markdown(_formatted(rows, lambda v: f"{100 * v:.1f}"), RESULT_COLUMNS)
