"""Runs the benchmark suites and writes ``benchmark.json`` / ``benchmark.md``.

The suites live in ``suite_vae``, ``suite_features``, ``suite_detect``, ``suite_folds``,
``suite_paper``, ``suite_devices``, ``suite_generators`` and ``suite_dcase``; their sizes in
``suite_config.SuiteConfig``. The paper suite's run is timed by the caller and injected
(``time_paper``): the library never runs ``experiments/``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Optional

from absl import logging

from drill_jax.bench.report import report_table, write_report
from drill_jax.bench.suite_config import SUITES, SuiteConfig
from drill_jax.bench.suite_dcase import dcase_suite
from drill_jax.bench.suite_detect import detect_suite
from drill_jax.bench.suite_devices import devices_suite
from drill_jax.bench.suite_features import features_suite
from drill_jax.bench.suite_folds import folds_suite
from drill_jax.bench.suite_generators import generators_suite
from drill_jax.bench.suite_paper import PaperTiming, paper_suite
from drill_jax.bench.suite_vae import vae_suite
from drill_jax.bench.timing import environment


def run_suites(
    suite: SuiteConfig,
    only: Sequence[str],
    out_dir: str,
    repo_dir: str,
    time_paper: Optional[Callable[[str], PaperTiming]] = None,
) -> dict:
    """Runs the chosen suites, writes ``benchmark.json`` and ``benchmark.md`` to ``out_dir``.

    Returns the report: {"environment", "suite_config", "<suite>": {...}, "targets", "table"}.
    The report is rewritten after every suite, so a crash keeps the finished ones.
    ``repo_dir`` is the working directory of the devices suite's subprocesses.
    ``time_paper(work_dir)`` runs and times the paper script's quick run when the "paper"
    suite is chosen (in its turn, so ``suite_seconds`` includes it); None reports the
    paper suite as not available.
    """
    unknown = [s for s in only if s not in SUITES]
    if unknown or not only:
        raise ValueError(f"choose suites among {SUITES}, got {list(only)}")
    work = os.path.join(out_dir, "work")
    os.makedirs(work, exist_ok=True)
    report = {
        "environment": environment(),
        "suite_config": dataclasses.asdict(suite),
        "targets": [],
    }
    for name in SUITES:
        if name not in only:
            continue
        logging.info("benchmark suite %s ...", name)
        start = time.perf_counter()
        if name == "vae":
            result = vae_suite(suite)
        elif name == "features":
            result = features_suite(suite)
        elif name == "detect":
            result = detect_suite(suite, work)
        elif name == "folds":
            result = folds_suite(suite)
        elif name == "paper":
            result = paper_suite(None if time_paper is None else time_paper(work))
        elif name == "generators":
            result = generators_suite(suite)
        elif name == "dcase":
            result = dcase_suite(suite, work)
        else:
            result = devices_suite(suite, repo_dir)
        result["suite_seconds"] = time.perf_counter() - start
        report[name] = result
        report["targets"] = [t for s in SUITES if s in report for t in report[s]["targets"]]
        report["environment"]["loadavg_1_5_15_end"] = environment()["loadavg_1_5_15"]
        table = report_table(report)
        report["table"] = table
        write_report(out_dir, report, table)
    return report
