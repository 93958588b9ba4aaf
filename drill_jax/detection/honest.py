"""Honest evaluation of the label-free detector (with the supervised one beside it).

Repeated stratified k-fold over the real sounds; per fold the VAE sees only the NORMAL
sounds of the training folds, and the held-out normal + held-out anomaly sounds are scored.
ROC-AUC and pAUC (FPR <= 0.1; sklearn ``roc_auc_score(max_fpr=0.1)``, McClish-standardised:
0.5 = chance) are reported per fold and as mean +- 95 % CI, next to the supervised jax_cnn
classifier and a label-free log-Mel z-score baseline on the same folds.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional

import jax
import numpy as np
from absl import logging

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.classify import classical, cnn
from drill_jax.detection import labelfree, scoring, unsupervised
from drill_jax.detection import supervised as supervised_lib
from drill_jax.evaluation import examples, metrics

_DEFAULT_CLASSIFIER = cnn.ClassifierConfig()
_DEFAULT_ANOMALY = unsupervised.AnomalyConfig()


def evaluate_honest(
    ds: data_lib.Dataset,
    config: unsupervised.AnomalyConfig = _DEFAULT_ANOMALY,
    n_splits: int = 5,
    n_repeats: int = 2,
    seed: int = 0,
    positive_index: int = 0,
    supervised: Optional[cnn.ClassifierConfig] = _DEFAULT_CLASSIFIER,
    progress: Optional[Callable[[str], None]] = None,
    settings: Optional[features.FeatureSettings] = None,
    labelfree_scorers: tuple = labelfree.SCORERS,
    classical_train_hop: Optional[int] = 1000,
    classical_recipes: Optional[tuple] = None,
) -> dict:
    """Repeated stratified k-fold evaluation of the unsupervised detector (and references).

    Per fold: the VAE is trained on the training folds' NORMAL sounds only; the held-out
    normal and held-out anomaly sounds are scored (each sound cut to ``clip_samples``,
    default the shortest sound: the clip-length confound cannot help). The supervised
    jax_cnn (trained on both classes of the training folds) and the log-Mel z-score baseline
    are scored on the same held-out sounds. Returns {'label', 'pauc_definition', 'config',
    'folds': [...], 'summary': {detector: {metric: mean_ci}}}. ``settings``: the log-Mel
    features of all three (default: the paper's at the dataset's rate).

    Also on the same folds: the label-free scorers of ``detection.labelfree`` (rows
    'labelfree_<name>', fitted on the training folds' normal sounds only, threshold the 0.9
    quantile of their training scores) and, unless ``classical_train_hop`` is negative, the
    supervised classical detector (``supervised.train_classical_detector``, recipes chosen
    inside each training side unless ``classical_recipes`` is given; row
    'clip_classical_supervised').
    """
    say = progress or (lambda msg: logging.info("%s", msg))
    normal_index = 1 - positive_index if len(ds.class_names) == 2 else None
    if normal_index is None:
        raise ValueError("evaluate_honest needs exactly two classes (anomaly, normal)")
    clip_samples = int(config.clip_samples or ds.lengths.min())
    config = dataclasses.replace(config, clip_samples=clip_samples)
    clips = data_lib.crop_sounds(ds.waveforms, clip_samples, ds.paths)  # scored: first clip
    settings = dataclasses.replace(
        settings or features.FeatureSettings(sample_rate=ds.sample_rate),
        clip_samples=clip_samples,
    )
    is_anom = ds.labels == positive_index
    lf_sets = _labelfree_sets(clips, settings) if labelfree_scorers else {}
    splits = data_lib.repeated_stratified_kfold(ds.labels, n_splits, n_repeats, seed, ds.groups)
    # Configs stay the same across folds (they are static for jit: one compilation);
    # each fold's randomness comes from its own key.
    root = jax.random.key(seed)
    folds = []
    for k, (tr, te) in enumerate(splits):
        t0 = time.perf_counter()
        tr_normal = tr[~is_anom[tr]]
        examples.assert_no_leak(ds.groups[tr_normal], ds.groups[te])
        key = jax.random.fold_in(root, k)
        det = unsupervised.train_unsupervised_detector(
            [ds.waveforms[i] for i in tr_normal],
            ds.sample_rate,
            config,
            key,
            ds.class_names,
            positive_index,
            settings=settings,
        )
        fold = {
            "fold": k,
            "n_train_normal": int(tr_normal.size),
            "n_test": int(te.size),
            "n_test_anomaly": int(is_anom[te].sum()),
            "leak_check": "passed",
        }
        fold["vae"] = metrics.detection_metrics(
            is_anom[te], scoring.score_clips(det, clips[te]), det.threshold
        )
        fold["vae"]["threshold"] = det.threshold
        base = unsupervised.logmel_zscore_scores(clips[tr_normal], clips[te], settings)
        base_thr, _ = unsupervised.choose_threshold(
            unsupervised.logmel_zscore_scores(clips[tr_normal], clips[tr_normal], settings),
            config.threshold_rule,
            config.quantile,
        )
        fold["logmel_zscore"] = metrics.detection_metrics(is_anom[te], base, base_thr)
        for name in labelfree_scorers:
            tr_s, te_s = labelfree.fit_score(
                name,
                {k: v[tr_normal] for k, v in lf_sets.items()},
                {k: v[te] for k, v in lf_sets.items()},
                seed,
            )
            thr, _ = unsupervised.percentile_threshold(tr_s, config.quantile)
            fold[f"labelfree_{name}"] = metrics.detection_metrics(is_anom[te], te_s, thr)
        if classical_train_hop is None or classical_train_hop >= 0:
            cls = supervised_lib.train_classical_detector(
                [ds.waveforms[i] for i in tr],
                ds.labels[tr],
                ds.class_names,
                ds.sample_rate,
                positive_index,
                clip_samples,
                recipes=classical_recipes,
                train_hop=classical_train_hop or None,
                settings=settings,
                seed=seed * 1000 + k,
            )
            fold["clip_classical_supervised"] = metrics.detection_metrics(
                is_anom[te], scoring.score_clips(cls, clips[te]), cls.threshold
            )
            fold["clip_classical_recipes"] = cls.info["recipe"]["recipes"]
        if supervised is not None:
            sup = supervised_lib.train_supervised_detector(
                [ds.waveforms[i] for i in tr],
                ds.labels[tr],
                ds.class_names,
                ds.sample_rate,
                positive_index,
                clip_samples,
                supervised,
                jax.random.fold_in(key, 1),
                train_hop=config.train_hop,
                settings=settings,
            )
            fold["jax_cnn_supervised"] = metrics.detection_metrics(
                is_anom[te], scoring.score_clips(sup, clips[te]), sup.threshold
            )
        fold["seconds"] = time.perf_counter() - t0
        folds.append(fold)
        say(
            f"fold {k + 1}/{len(splits)}: VAE ROC-AUC "
            f"{fold['vae'].get('roc_auc', float('nan')):.3f}"
            f" pAUC {fold['vae'].get('pauc', float('nan')):.3f}"
            + (
                f"; jax_cnn ROC-AUC {fold['jax_cnn_supervised'].get('roc_auc', float('nan')):.3f}"
                if supervised is not None
                else ""
            )
        )
    names = [n for n in ("vae", "jax_cnn_supervised", "logmel_zscore") if n in folds[0]]
    names += [n for n in folds[0] if n.startswith("labelfree_")]
    names += ["clip_classical_supervised"] if "clip_classical_supervised" in folds[0] else []
    summary = {
        name: {
            m: metrics.mean_ci([f[name].get(m, float("nan")) for f in folds])
            for m in ("roc_auc", "pauc", "tpr", "fpr", "accuracy")
        }
        for name in names
    }
    return {
        "label": "honest protocol: repeated stratified k-fold over real sounds; the VAE is "
        "trained on the training folds' NORMAL sounds only; held-out normal + held-out "
        "anomaly sounds scored",
        "pauc_definition": metrics.PAUC_DEFINITION,
        "detectors": {
            "vae": f"unsupervised VAE on {config.input_repr}, score {config.score}, threshold "
            f"{config.threshold_rule} {config.quantile:g} quantile of normal training scores",
            "jax_cnn_supervised": "supervised jax_cnn on band-passed log-Mel (uses anomaly "
            "labels), score P(anomaly), threshold 0.5",
            "logmel_zscore": "label-free baseline: mean squared z-score of log-Mel bands vs the "
            "normal training sounds",
            **{
                f"labelfree_{n}": f"label-free {n} on "
                + (
                    "+".join(labelfree.FEATURES[m] for m in labelfree.ENSEMBLE)
                    if n == "ensemble"
                    else labelfree.FEATURES[n]
                )
                + " features of the normal training sounds"
                for n in labelfree_scorers
            },
            "clip_classical_supervised": "supervised classical recipes on clip features "
            "(chosen inside each training side), score P(anomaly), threshold 0.5",
        },
        "config": {
            "anomaly": _jsonable(dataclasses.asdict(config)),
            "n_splits": n_splits,
            "n_repeats": n_repeats,
            "seed": seed,
            "clip_samples": clip_samples,
            "supervised": None if supervised is None else dataclasses.asdict(supervised),
        },
        "folds": folds,
        "summary": summary,
    }


def _labelfree_sets(clips, settings) -> dict:
    """The feature sets the label-free scorers read, per clip (nothing fitted):
    'logmel64' [N, frames * 64] and 'shape' [N, 31]."""
    lm = features.extract(dataclasses.replace(settings, n_mels=64), clips)
    shape = classical.clip_features("shape", list(clips), settings.sample_rate, settings.band_hz)
    return {"logmel64": lm.reshape(len(clips), -1).astype(np.float64), "shape": shape}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return list(obj)
    return obj
