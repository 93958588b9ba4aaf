"""The detector comparison: every backbone on the same honest folds, the nested headline, and
each classical candidate scored on the test folds (labelled as chosen there).

``compare_detectors`` runs ``pipeline.run_classification`` for each backbone (same
ProtocolConfig, so the same folds, crop and band) and ``candidate_rows`` scores every
``classical.CANDIDATES`` recipe on those outer folds: picking the best of those rows after
the fact is choosing on the test folds, which is why the tables keep them apart from the
nested figure of ``backbone='auto'``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Optional, Sequence

import numpy as np
import sklearn.metrics

from drill_jax import data as data_lib
from drill_jax.classify import classical, registry
from drill_jax.evaluation import examples, pipeline, protocols

DEFAULT_BACKBONES = (
    "jax_cnn",
    "logreg",
    "clip_lr",
    "clip_svm",
    "clip_ensemble",
    "cnn_svm",
    "auto",
)


def candidate_rows(ds: data_lib.Dataset, config: protocols.ProtocolConfig) -> list:
    """Each classical candidate on the honest outer folds of ``config`` (real sounds, crop
    and band of ``config``): mean balanced accuracy and ROC-AUC over folds."""
    if config.protocol != "honest" or config.augment != "none":
        raise ValueError("candidate rows are for the honest protocol without augmentation")
    real = examples.crop_examples(examples.Examples.real(ds), config.crop)
    settings = examples.fold_feature_settings(config.features, ds.sample_rate, real.lengths)
    y = (real.labels == ds.positive_index).astype(int)
    feats = classical.variant_features(
        list(real.waveforms), ds.sample_rate, settings.band_hz, classical.FEATURE_VARIANTS
    )
    splits = examples.honest_splits(ds, config)
    rows = []
    for recipe in classical.CANDIDATES:
        ba, auc = [], []
        for k, (tr, te) in enumerate(splits):
            fitted = classical.fit(
                recipe, feats[recipe.features][tr], y[tr], config.seed * 1000 + k
            )
            p = classical.predict_positive(fitted, feats[recipe.features][te])
            ba.append(sklearn.metrics.balanced_accuracy_score(y[te], p >= 0.5))
            auc.append(sklearn.metrics.roc_auc_score(y[te], p))
        rows.append(
            {
                "candidate": recipe.name,
                "balanced_accuracy": float(np.mean(ba)),
                "roc_auc": float(np.mean(auc)),
                "folds": len(splits),
            }
        )
    return rows


def compare_detectors(
    ds: data_lib.Dataset,
    config: protocols.ProtocolConfig,
    backbone_names: Sequence[str] = DEFAULT_BACKBONES,
    out_dir: Optional[str] = None,
) -> dict:
    """Every backbone on the same folds; returns {'rows', 'results', 'candidates', 'seconds'}."""
    t0 = time.perf_counter()
    results, rows = {}, []
    for name in backbone_names:
        d = registry.DetectorConfig(backbone=name)
        sub = None if out_dir is None else f"{out_dir}/{name}"
        r = pipeline.run_classification(ds, config, d, sub, name=f"{name}")
        results[name] = r
        rows.append(r["row"])
    candidates = []
    if config.protocol == "honest" and config.augment == "none":
        candidates = candidate_rows(ds, config)
    return {
        "rows": rows,
        "results": results,
        "candidates": candidates,
        "config": dataclasses.asdict(config),
        "seconds": time.perf_counter() - t0,
    }


def candidates_markdown(rows: list) -> str:
    """The candidates block, labelled as chosen on the test folds."""
    lines = [
        "Each candidate on the outer test folds. Picking the best row here is choosing on "
        "the test folds (optimistic); the honest figure is the nested `auto` row above.",
        "",
        "| candidate (chosen on the test folds) | balanced accuracy | ROC-AUC | folds |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['candidate']} | {100 * r['balanced_accuracy']:.1f} | "
            f"{100 * r['roc_auc']:.1f} | {r['folds']} |"
        )
    return "\n".join(lines) + "\n"
