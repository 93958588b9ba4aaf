"""Folds benchmark: the honest protocol of the JAX CNN, folds one by one vs all together.

Both runs evaluate the same folds of the bundled data (``protocols.evaluate`` through
``pipeline.run_classification``), once with ``batch_folds=False`` (the sequential loop) and
once with every fold's CNN fitted in one vmapped program (``classify.folds``); the ratio
of their wall times is the target. The two must give the same accuracies.
"""

from __future__ import annotations

import time

from drill_jax import data
from drill_jax.bench.report import at_least
from drill_jax.bench.suite_config import SuiteConfig
from drill_jax.classify import registry
from drill_jax.evaluation import pipeline, protocols


def folds_suite(suite: SuiteConfig) -> dict:
    """Wall time of the honest k x r protocol of the JAX CNN: sequential vs vmapped folds."""
    ds = data.load_dataset()
    config = protocols.ProtocolConfig(
        n_splits=suite.folds_splits, n_repeats=suite.folds_repeats, seed=suite.seed
    )
    # Warm-up (compiles both paths on a small protocol), then the timed runs.
    small = protocols.ProtocolConfig(n_splits=2, n_repeats=1, seed=suite.seed)
    results, seconds = {}, {}
    for name, batch in (("sequential", False), ("vmapped", True)):
        detector = registry.DetectorConfig(batch_folds=batch)
        pipeline.run_classification(ds, small, detector)
        start = time.perf_counter()
        results[name] = pipeline.run_classification(ds, config, detector)
        seconds[name] = time.perf_counter() - start
    ratio = seconds["sequential"] / seconds["vmapped"]
    accuracies = {n: [f["accuracy"] for f in r["folds"]] for n, r in results.items()}
    same = accuracies["sequential"] == accuracies["vmapped"]
    n = len(accuracies["vmapped"])
    rows = [
        {
            "figure": f"honest protocol, JAX CNN, {n} folds: sequential / vmapped s",
            "sequential s": seconds["sequential"],
            "vmapped s": seconds["vmapped"],
            "speed-up": ratio,
            "same fold accuracies": "yes" if same else "no (float differences flip a few)",
        }
    ]
    targets = [at_least(f"honest protocol of the JAX CNN ({n} folds) vs sequential", ratio, 3.0)]
    return {
        "rows": rows,
        "targets": targets,
        "figures": {"seconds": seconds, "speed_up": ratio, "fold_accuracies": accuracies},
    }
