"""The DCASE task-2 job: train every chosen detector on the normal training recordings, score
the test recordings, write the official per-section CSV files and the results table (AUC
source, AUC target, pAUC, harmonic mean; baseline twin first).

The baseline twin (``dcase_ae``) trains one model per machine type, as the official code.
The outlier-exposure detector (``oe``) trains ONE model on every machine type of the job
(the leading DCASE systems' practice: more classes to tell apart make a richer embedding),
then scores each machine type's recordings against its own training recordings; a job
given one machine type trains on that one alone. Each machine type's PRNG key derives from
its name (CRC-32), so a machine type's hold-out and twin do not depend on the others.

Decision thresholds come from recordings held out of training: ``holdout_fraction`` of the
source-domain training recordings of each section (whole recordings, chosen by the key) are
trained on by no detector. A distribution is fitted to their scores per machine type and
its ``threshold_quantile`` (0.9) point is the threshold, so that about 10 % of normal files
are flagged: a gamma for the twin (the official baseline's rule, there fitted on training
losses); a normal for ``oe``, whose fused score is a sum of standardised components with no
lower bound (``thresholds``), and whose held-out recordings also set the score norms: each
is scored under the norms of the others (``fusion.leave_one_out_fused``).
"""

from __future__ import annotations

import dataclasses
import os
import time
import zlib
from typing import Callable, Optional, Sequence

import jax
import numpy as np
import tqdm
from absl import logging

from drill_jax import files
from drill_jax.asd import autoencoder, fusion, outlier
from drill_jax.data import dcase
from drill_jax.detection import registry
from drill_jax.detection.thresholds import choose_threshold
from drill_jax.evaluation import dcase as ev


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """What the job runs.

    Attributes:
      detectors: names from ``DETECTORS``, reported in this order (baseline twin first).
      ae, oe: the recipes of the baseline twin and the outlier-exposure detector.
      holdout_fraction: share of each section's source training recordings held out for
        thresholds and score calibration (at least 3, leaving 1 or more).
      threshold_quantile: quantile of the distribution fitted to held-out normal scores
        (each detector's ``Detector.threshold_rule``).
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
    """Recordings of one machine type: waveforms with their FileInfo."""

    waveforms: tuple
    infos: tuple
    sample_rate: int

    def take(self, idx) -> "Split":
        return Split(tuple(self.waveforms[i] for i in idx), tuple(self.infos[i] for i in idx),
                     self.sample_rate)

    def column(self, name: str) -> np.ndarray:
        return column(self.infos, name)


def column(infos: Sequence[dcase.FileInfo], name: str) -> np.ndarray:
    """[N] object array of one FileInfo field."""
    return np.array([getattr(i, name) for i in infos], dtype=object)


@dataclasses.dataclass(frozen=True)
class Machine:
    """One machine type as the detectors see it: the training recordings they fit on, and
    the queries they score: ``n_held`` held-out training recordings (for the threshold),
    then the test recordings. ``key``: this machine type's PRNG key."""

    fit_on: Split
    queries: Split
    n_held: int
    key: jax.Array


def name_key(root: jax.Array, name: str) -> jax.Array:
    """A key of its own for ``name`` (a machine type, a detector): fold_in of its CRC-32."""
    return jax.random.fold_in(root, zlib.crc32(name.encode("utf-8")))


def split_machine(config: "JobConfig", train: Split, test: Split, root: jax.Array) -> Machine:
    """Holds out ``config.holdout_fraction`` of each section's source training recordings."""
    machine = train.infos[0].machine_type
    split_key, fit_key = jax.random.split(name_key(root, machine))
    held = holdout(train.infos, config.holdout_fraction, split_key)
    if not held.any():
        raise ValueError(f"{machine}: no training recordings to hold out for the threshold "
                         "(needs >= 2 source-domain recordings in a section)")
    kept_out = train.take(np.flatnonzero(held))
    queries = Split(kept_out.waveforms + test.waveforms, kept_out.infos + test.infos,
                    test.sample_rate)
    return Machine(train.take(np.flatnonzero(~held)), queries, len(kept_out.infos), fit_key)


def _run_ae(config: "JobConfig", m: Machine, progress: bool) -> dict:
    """Baseline twin, per machine type: {'dcase_ae_mse', 'dcase_ae_mahalanobis'}: [Q]."""
    vec = autoencoder.file_vectors(config.ae, m.fit_on.waveforms, m.fit_on.sample_rate)
    model = autoencoder.fit(config.ae, vec, m.fit_on.column("domain") == "target", m.key,
                            progress)
    q_vec = autoencoder.file_vectors(config.ae, m.queries.waveforms, m.queries.sample_rate)
    scores = autoencoder.score(config.ae, model, q_vec)
    return {f"dcase_ae_{name}": s for name, s in scores.items()}


def _oe_inputs(config: "JobConfig", m: Machine, progress: bool) -> dict:
    """What joint outlier exposure needs of one machine type (features, not waveforms)."""
    del progress
    machine = m.fit_on.infos[0].machine_type
    labels, names = dcase.metadata_classes(m.fit_on.infos)
    if config.oe.classes == "recordings":
        labels, names = np.arange(len(labels)), tuple(i.name for i in m.fit_on.infos)
    return {
        "train": outlier.inputs(config.oe, m.fit_on.waveforms, m.fit_on.sample_rate),
        "queries": outlier.inputs(config.oe, m.queries.waveforms, m.queries.sample_rate),
        "classes": np.array([f"{machine}|{names[c]}" for c in labels], dtype=object),
        "pools": np.array([f"{machine}|{s}" for s in m.fit_on.column("section")], dtype=object),
        "query_pools": np.array([f"{machine}|{s}" for s in m.queries.column("section")],
                                dtype=object),
        "domains": m.fit_on.column("domain").astype(str),
        "query_domains": m.queries.column("domain").astype(str),
        "n_held": m.n_held,
    }


def _oe_joint(config: "JobConfig", prepared: list, key: jax.Array, progress: bool) -> list:
    """ONE outlier-exposure model for every machine type of the job: its classes are
    (machine type, section, attributes or domain); each machine type's queries are scored
    (once) against the training recordings of their own machine type and section; the score
    fusion is calibrated per domain on the held-out queries (source domain) and on the
    training recordings of the other domains (``outlier.calibrated``). Each held-out query
    is scored under the norms of the other held-out ones (``fusion.leave_one_out_fused``):
    the threshold, fitted to those scores, then sees them as new recordings.
    -> [{'oe': [Q]}] per machine type."""
    def cat(name, held_only=False):
        return np.concatenate([p[name][:p["n_held"]] if held_only else p[name] for p in prepared])

    train = outlier.concat([p["train"] for p in prepared])
    _, labels = np.unique(cat("classes"), return_inverse=True)
    model = outlier.fit(config.oe, train, labels, cat("pools"), cat("domains"), key, progress)
    comps = [outlier.components(config.oe, model, p["queries"], p["query_pools"])
             for p in prepared]
    held = {name: np.concatenate([c[name][:p["n_held"]] for c, p in zip(comps, prepared)])
            for name in comps[0]}
    held_pools, held_domains = cat("query_pools", True), cat("query_domains", True)
    model = outlier.calibrated(config.oe, model, held, held_pools, held_domains, train)
    scores = [outlier.fused(config.oe, model, c, p["query_pools"])
              for c, p in zip(comps, prepared)]
    if config.oe.fusion != "none":
        held_scores = fusion.leave_one_out_fused(held, held_pools, held_domains,
                                                 np.unique(model.domains), model.domain_norms)
        ends = np.cumsum([p["n_held"] for p in prepared])
        for s, p, part in zip(scores, prepared, np.split(held_scores, ends[:-1])):
            s[:p["n_held"]] = part
    return [{"oe": s} for s in scores]


@dataclasses.dataclass(frozen=True)
class Detector:
    """How the job runs a detector: ``prepare(config, machine, progress)`` per machine type
    while its recordings are loaded, then ``finish(config, prepared list, key, progress)`` ->
    one {score name: [Q] query scores} per machine type; ``threshold_rule``: the
    ``thresholds.RULES`` name its thresholds are fitted with."""

    prepare: Callable
    finish: Callable
    threshold_rule: str = "gamma"


def _per_machine(config, prepared: list, key, progress) -> list:
    """``finish`` of a detector whose ``prepare`` already scored each machine type."""
    del config, key, progress
    return prepared


DETECTORS = {
    "dcase_ae": Detector(_run_ae, _per_machine),  # gamma, as the official baseline
    # the saved dcase_oe's rule ('normal': a sum of standardised components, ``thresholds``)
    "oe": Detector(_oe_inputs, _oe_joint, registry.threshold_rule("dcase_oe")),
}


def runner(name: str) -> Detector:
    """How to run detector ``name``."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown DCASE detector {name!r}; one of {sorted(DETECTORS)}") from None


def holdout(infos: Sequence[dcase.FileInfo], fraction: float, key) -> np.ndarray:
    """[N] bool: the held-out training recordings, ``max(3, ceil(fraction * n))`` random ones
    of each section's n source-domain recordings, leaving at least one (3 points make a gamma
    fit; 2 a score norm)."""
    out = np.zeros(len(infos), bool)
    sections = sorted({i.section for i in infos})
    for j, sec in enumerate(sections):
        pool = np.array([k for k, i in enumerate(infos)
                         if i.section == sec and i.domain != "target"])
        n_out = max(0, min(max(3, int(np.ceil(fraction * pool.size))), pool.size - 1))
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


def _write_sections(det: str, infos: tuple, scores: np.ndarray, threshold: float,
                    out_dir: str) -> list[dict]:
    """Official files of every section of one detector on one machine type's test files
    (``infos``, ``scores`` [N]); metrics where labels are known."""
    out = []
    sections = column(infos, "section")
    for sec in sorted(set(sections)):
        idx = np.flatnonzero(sections == sec)
        part = tuple(infos[i] for i in idx)
        machine = part[0].machine_type
        ev.write_official_files(os.path.join(out_dir, det), machine, sec,
                                [i.name for i in part], scores[idx], threshold)
        labels, domains = column(part, "label"), column(part, "domain")
        if any(v is None for v in labels) or len(set(labels)) < 2:
            continue
        out.append({"detector": det, "machine_type": machine, "section": sec,
                    "threshold": threshold,
                    **ev.section_metrics(labels.astype(int), scores[idx], domains.astype(str))})
    return out


def run(config: JobConfig, root: str, out_dir: str,
        machine_types: Optional[Sequence[str]] = None, progress: bool = True) -> list[dict]:
    """The whole job on every machine type (all by default): per-machine-type detectors
    train on each, joint ones once on all of them; official files to ``out_dir/<detector>/``,
    ``results.md`` / ``results.csv`` / ``config.json`` in ``out_dir`` (all written
    atomically). Returns the result rows (``ev.summary_rows``)."""
    found = dcase.machine_types(root)
    chosen = list(machine_types) if machine_types else found
    missing = [m for m in chosen if m not in found]
    if missing:
        raise FileNotFoundError(f"{root}: no machine type(s) {missing}; found {found}")
    files.atomic_write_json(os.path.join(out_dir, "config.json"), dataclasses.asdict(config))
    key = jax.random.key(config.seed)
    prepared, tests = {d: [] for d in config.detectors}, []
    for mt in tqdm.tqdm(chosen, desc="machine types", disable=not progress):
        train, test, _ = load_machine(root, mt, config.sample_rate)
        m = split_machine(config, train, test, key)
        for d in config.detectors:
            prepared[d].append(runner(d).prepare(config, m, progress))
        tests.append((m.queries.infos[m.n_held:], m.n_held))
    results = []
    for d in config.detectors:
        rule = runner(d).threshold_rule
        for (infos, n_held), scores in zip(
                tests, runner(d).finish(config, prepared[d], name_key(key, d), progress)):
            for det, s in scores.items():
                threshold, _ = choose_threshold(s[:n_held], rule, config.threshold_quantile)
                results += _write_sections(det, infos, s[n_held:], threshold, out_dir)
    rows = ev.summary_rows(results) if results else []
    files.atomic_write_text(os.path.join(out_dir, "results.csv"), ev.results_csv(rows))
    files.atomic_write_text(os.path.join(out_dir, "results.md"), ev.results_markdown(rows))
    return rows


def time_one_machine(config: JobConfig, root: str, machine_type: str, out_dir: str) -> float:
    """Wall seconds to load, train, score and write one machine type (the benchmark's timing
    of the default detector: pass a config whose ``detectors`` is the one to time)."""
    start = time.perf_counter()
    run(config, root, out_dir, [machine_type], progress=False)
    return time.perf_counter() - start
