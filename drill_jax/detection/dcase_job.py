"""The DCASE task-2 job: per machine type, train every chosen detector on the normal training
recordings, score the test recordings, write the official per-section CSV files and the
results table (AUC source, AUC target, pAUC, harmonic mean; baseline twin first).

Decision thresholds come from recordings held out of training: ``holdout_fraction`` of the
source-domain training recordings of each section (whole recordings, chosen by the key) are
used by no detector for anything but their scores, to which a gamma distribution is fitted
per machine type; its ``threshold_quantile`` (0.9) point is the threshold (the official
baseline's rule, there fitted on training losses), so about 10 % of normal files are flagged.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional, Sequence

import jax
import numpy as np
import tqdm
from absl import logging

from drill_jax import files
from drill_jax.asd import autoencoder, outlier
from drill_jax.data import dcase
from drill_jax.detection.thresholds import choose_threshold
from drill_jax.evaluation import dcase as ev


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """What the job runs.

    Attributes:
      detectors: names from ``DETECTORS``, reported in this order (baseline twin first).
      ae, oe: the recipes of the baseline twin and the outlier-exposure detector.
      holdout_fraction: share of each section's source training recordings held out for
        thresholds (at least 1 when a section has >= 2 source recordings).
      threshold_quantile: gamma-fit quantile of held-out normal scores.
      seed: the root PRNG seed.
      sample_rate: expected rate in Hz (None: the first file's).
    """

    detectors: tuple = ("dcase_ae", "oe")
    ae: autoencoder.AEConfig = autoencoder.AEConfig()
    oe: outlier.OEConfig = outlier.OEConfig()
    holdout_fraction: float = 0.1
    threshold_quantile: float = 0.9
    seed: int = 0
    sample_rate: Optional[int] = None

    def __post_init__(self):
        for d in self.detectors:
            runner(d)
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")


@dataclasses.dataclass(frozen=True)
class Split:
    """One machine type's recordings: waveforms with their FileInfo."""

    waveforms: tuple
    infos: tuple
    sample_rate: int

    def take(self, idx) -> "Split":
        return Split(tuple(self.waveforms[i] for i in idx), tuple(self.infos[i] for i in idx),
                     self.sample_rate)

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(i, name) for i in self.infos], dtype=object)


def _run_ae(config: JobConfig, train: Split, queries: Split, key, progress: bool) -> dict:
    """Baseline twin: {'dcase_ae_mse': [Q], 'dcase_ae_mahalanobis': [Q]} query scores."""
    vec = autoencoder.file_vectors(config.ae, train.waveforms, train.sample_rate)
    model = autoencoder.fit(config.ae, vec, train.column("domain") == "target", key, progress)
    q_vec = autoencoder.file_vectors(config.ae, queries.waveforms, queries.sample_rate)
    scores = autoencoder.score(config.ae, model, q_vec)
    return {f"dcase_ae_{name}": s for name, s in scores.items()}


def _run_oe(config: JobConfig, train: Split, queries: Split, key, progress: bool) -> dict:
    """Outlier exposure with the file-name metadata classes: {'oe': [Q]} query scores."""
    labels = dcase.metadata_classes(train.infos)[0]
    if config.oe.classes == "recordings":
        labels = np.arange(len(train.infos))
    data = outlier.inputs(config.oe, train.waveforms, train.sample_rate)
    model = outlier.fit(config.oe, data, labels, train.column("section"),
                        train.column("domain"), key, progress)
    q_data = outlier.inputs(config.oe, queries.waveforms, queries.sample_rate)
    return {"oe": outlier.score(config.oe, model, q_data, queries.column("section"))}


DETECTORS = {"dcase_ae": _run_ae, "oe": _run_oe}


def runner(name: str):
    """The function that trains and scores detector ``name``."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown DCASE detector {name!r}; one of {sorted(DETECTORS)}") from None


def holdout(infos: Sequence[dcase.FileInfo], fraction: float, key) -> np.ndarray:
    """[N] bool: the held-out training recordings, ``ceil(fraction * n)`` random ones of each
    section's n source-domain recordings (none when n < 2)."""
    out = np.zeros(len(infos), bool)
    sections = sorted({i.section for i in infos})
    for j, sec in enumerate(sections):
        pool = np.array([k for k, i in enumerate(infos)
                         if i.section == sec and i.domain != "target"])
        n_out = max(0, min(int(np.ceil(fraction * pool.size)), pool.size - 1))
        if n_out:
            perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, j), pool.size))
            out[pool[perm[:n_out]]] = True
    return out


def load_machine(root: str, machine_type: str, sample_rate: Optional[int]) -> tuple:
    """(train Split, test Split, skipped files) of one machine type; bad names and unreadable
    files are skipped and logged (one line each)."""
    infos, bad = dcase.scan_machine(root, machine_type)
    data, kept, unreadable = dcase.load_files(infos, sample_rate)
    bad = list(bad) + list(unreadable)
    for b in bad:
        logging.warning("skipped %s", b)
    whole = Split(data.waveforms, kept, data.sample_rate)
    train = whole.take([k for k, i in enumerate(kept) if i.split == "train"])
    test = whole.take([k for k, i in enumerate(kept) if i.split == "test"])
    if not train.infos or not test.infos:
        raise FileNotFoundError(f"{os.path.join(root, machine_type)}: needs readable train and "
                                f"test recordings ({len(train.infos)}, {len(test.infos)} found)")
    return train, test, bad


def run_machine(config: JobConfig, train: Split, test: Split, out_dir: str,
                progress: bool = False) -> list[dict]:
    """Trains and scores every detector of ``config`` on one machine type, writes the official
    files to ``out_dir/<detector>/``, and returns one result dict per (detector, section)
    with labelled test files (keys detector, machine_type, section, ``ev.METRICS``, threshold).
    """
    machine = train.infos[0].machine_type
    key = jax.random.fold_in(jax.random.key(config.seed), sum(machine.encode()))
    split_key, fit_key = jax.random.split(key)
    held = holdout(train.infos, config.holdout_fraction, split_key)
    if not held.any():
        raise ValueError(f"{machine}: no training recordings to hold out for the threshold "
                         "(needs >= 2 source-domain recordings in a section)")
    fit_on, kept_out = train.take(np.flatnonzero(~held)), train.take(np.flatnonzero(held))
    queries = Split(kept_out.waveforms + test.waveforms, kept_out.infos + test.infos,
                    test.sample_rate)
    n_held = len(kept_out.infos)
    results = []
    for name in config.detectors:
        scores = runner(name)(config, fit_on, queries, fit_key, progress)
        for det, s in scores.items():
            threshold, _ = choose_threshold(s[:n_held], "gamma", config.threshold_quantile)
            results += _write_sections(det, test, s[n_held:], threshold, out_dir)
    return results


def _write_sections(det: str, test: Split, scores: np.ndarray, threshold: float,
                    out_dir: str) -> list[dict]:
    """Official files of every section of one detector; metrics where labels are known."""
    out = []
    sections = test.column("section")
    for sec in sorted(set(sections)):
        idx = np.flatnonzero(sections == sec)
        part = test.take(idx)
        machine = part.infos[0].machine_type
        ev.write_official_files(os.path.join(out_dir, det), machine, sec,
                                [i.name for i in part.infos], scores[idx], threshold)
        labels, domains = part.column("label"), part.column("domain")
        if any(v is None for v in labels) or len(set(labels)) < 2:
            continue
        out.append({"detector": det, "machine_type": machine, "section": sec,
                    "threshold": threshold,
                    **ev.section_metrics(labels.astype(int), scores[idx], domains.astype(str))})
    return out


def run(config: JobConfig, root: str, out_dir: str,
        machine_types: Optional[Sequence[str]] = None, progress: bool = True) -> list[dict]:
    """The whole job: every machine type (all by default), official files, ``results.md`` /
    ``results.csv`` / ``config.json`` in ``out_dir`` (all written atomically). Returns the
    result rows (``ev.summary_rows``)."""
    found = dcase.machine_types(root)
    chosen = list(machine_types) if machine_types else found
    missing = [m for m in chosen if m not in found]
    if missing:
        raise FileNotFoundError(f"{root}: no machine type(s) {missing}; found {found}")
    files.atomic_write_json(os.path.join(out_dir, "config.json"), dataclasses.asdict(config))
    results = []
    for mt in tqdm.tqdm(chosen, desc="machine types", disable=not progress):
        train, test, _ = load_machine(root, mt, config.sample_rate)
        results += run_machine(config, train, test, out_dir, progress)
    rows = ev.summary_rows(results) if results else []
    files.atomic_write_text(os.path.join(out_dir, "results.csv"), ev.results_csv(rows))
    files.atomic_write_text(os.path.join(out_dir, "results.md"), ev.results_markdown(rows))
    return rows


def time_one_machine(config: JobConfig, root: str, machine_type: str, out_dir: str) -> float:
    """Wall seconds to load, train, score and write one machine type (the benchmark's timing
    of the default detector: pass a config whose ``detectors`` is the one to time)."""
    start = time.perf_counter()
    train, test, _ = load_machine(root, machine_type, config.sample_rate)
    run_machine(config, train, test, out_dir)
    return time.perf_counter() - start
