"""Supervised detectors trained on both classes, wrapped as saved Detectors: the JAX CNN, and
the classical recipes on clip features (``train_classical_detector``; with ``recipes=None``
the recipes are chosen by grouped cross-validation on the training sounds, as
``backbone='auto'`` does inside each evaluation fold)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import numpy as np

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.classify import classical, cnn
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import scoring
from drill_jax.detection.detector import Detector
from drill_jax.evaluation import metrics


def train_supervised_detector(
    waveforms,
    labels: np.ndarray,
    class_names,
    sample_rate: int,
    positive_index: int = 0,
    clip_samples: Optional[int] = None,
    config: Optional[cnn.ClassifierConfig] = None,
    key: Optional[jax.Array] = None,
    threshold: float = 0.5,
    val_waveforms=None,
    val_labels=None,
    settings: Optional[features.FeatureSettings] = None,
    info: Optional[dict] = None,
    train_hop: Optional[int] = None,
) -> Detector:
    """Trains the jax_cnn classifier on sounds and wraps it as a supervised Detector.

    Every sound is cut to its first ``clip_samples`` samples (default: the shortest sound;
    bundled data: 2000), so all clips have the same length and no padding (which would
    leak the clip-length confound) enters the features. Score = P(positive class);
    ``threshold`` 0.5 = the argmax decision. ``train_hop`` (samples): train on every window
    of every sound at this hop instead of the first clip only (``sound_windows``). With
    validation sounds, their metrics (ROC-AUC, pAUC, TPR/FPR at the threshold, first clip of
    each sound) are stored in the detector. ``settings``: how clips become features
    (default: the paper's at ``sample_rate``); its ``clip_samples`` is set to the clip length.
    """
    labels, settings, clips, owner = _training_clips(
        waveforms, labels, sample_rate, clip_samples, settings, train_hop
    )
    clip_samples = settings.clip_samples
    config = dataclasses.replace(config or cnn.ClassifierConfig(), n_classes=len(class_names))
    x = features.extract(settings, clips)
    key = jax.random.key(config.seed) if key is None else key
    state, history = cnn.fit(x, labels[owner], config, key)
    detector = _wrap(
        "jax_cnn",
        settings,
        class_names,
        positive_index,
        threshold,
        config,
        detector_lib.classifier_variables(state),
        dict(info or {}, final_train_loss=float(history[-1].train_loss)),
        labels,
        owner,
        train_hop,
    )
    if val_waveforms is not None:
        vy = np.asarray(val_labels) == positive_index
        vs = scoring.score_clips(detector, data_lib.crop_sounds(val_waveforms, clip_samples))
        detector = dataclasses.replace(
            detector,
            metrics={"validation": metrics.detection_metrics(vy, vs, detector.threshold)},
        )
    return detector


def save_supervised_detector(
    ds: data_lib.Dataset,
    result: dict,
    path: str,
    crop: Optional[int] = None,
    seed: int = 0,
    settings: Optional[features.FeatureSettings] = None,
) -> str:
    """Trains the jax_cnn on every sound of ``ds`` and saves it as a detector directory.

    Each sound gives its first ``crop`` samples (default: the shortest sound's length, so
    no padding enters the features); the evaluation's summary metrics are stored with it.
    """
    positive = metrics.positive_index(ds.class_names)
    detector = train_supervised_detector(
        ds.waveforms,
        ds.labels,
        ds.class_names,
        ds.sample_rate,
        positive_index=positive,
        clip_samples=crop,
        key=jax.random.key(seed),
        settings=settings,
        info={"evaluation": {"label": result["label"], "row": result["row"]}},
    )
    means = {k: v["mean"] for k, v in result["summary"]["metrics"].items()}
    detector = dataclasses.replace(detector, metrics={"evaluation_mean": means})
    detector_lib.save_detector(path, detector)
    return path


def train_classical_detector(
    waveforms,
    labels: np.ndarray,
    class_names,
    sample_rate: int,
    positive_index: int = 0,
    clip_samples: Optional[int] = None,
    recipes=None,
    train_hop: Optional[int] = None,
    threshold: float = 0.5,
    settings: Optional[features.FeatureSettings] = None,
    info: Optional[dict] = None,
    seed: int = 0,
) -> Detector:
    """Trains classical recipes (``classify.classical``) on clip features and wraps them as
    a supervised Detector (model 'clip_classical'); score = P(anomaly).

    Clips: every sound's first ``clip_samples`` samples (default: the shortest sound), or
    with ``train_hop`` every window of every sound at that hop. ``recipes`` None: the three
    best candidates by repeated grouped 5-fold cross-validation on these sounds (windows of
    one sound stay in one fold), recorded with their inner scores in ``info['recipe']``.
    The band of ``settings`` (default the paper's) is applied before the clip features.
    """
    labels, settings, clips, owner = _training_clips(
        waveforms, labels, sample_rate, clip_samples, settings, train_hop
    )
    y = (labels[owner] == positive_index).astype(np.int64)
    band = settings.band_hz

    def feats(variants):
        return {v: classical.clip_features(v, list(clips), sample_rate, band) for v in variants}

    chosen = None
    if recipes is None:
        pool = feats(sorted({r.features for r in classical.CANDIDATES}))
        recipes, table = classical.choose_recipes(pool, y, owner, seed=seed)
        chosen = {"rule": "top 3 by inner ROC-AUC (2 x grouped 5-fold)", "inner": dict(table)}
    recipes = tuple(recipes)
    fitted = classical.fit_many(recipes, feats(sorted({r.features for r in recipes})), y, seed)
    return _wrap(
        "clip_classical",
        settings,
        class_names,
        positive_index,
        threshold,
        classical.ClassicalConfig(recipes),
        classical.export_arrays(fitted),
        dict(info or {}, recipe=dict(chosen or {}, recipes=[r.name for r in recipes])),
        labels,
        owner,
        train_hop,
    )


def _training_clips(waveforms, labels, sample_rate, clip_samples, settings, train_hop):
    """(labels [N] int64, settings with clip_samples set, clips [M, L], owner [M]): every
    sound's first ``clip_samples`` samples (default the shortest sound), or every window at
    ``train_hop``. One-line errors for mismatched labels or sample rates."""
    labels = np.asarray(labels, np.int64)
    if len(waveforms) != labels.shape[0]:
        raise ValueError(f"{len(waveforms)} sounds but {labels.shape[0]} labels")
    clip_samples = int(clip_samples or min(np.asarray(w).shape[0] for w in waveforms))
    settings = dataclasses.replace(
        settings or features.FeatureSettings(sample_rate=int(sample_rate)),
        clip_samples=clip_samples,
    )
    if settings.sample_rate != int(sample_rate):
        raise ValueError(
            f"feature settings are for {settings.sample_rate} Hz, the sounds are {sample_rate} Hz"
        )
    clips, owner = data_lib.sound_windows(waveforms, clip_samples, train_hop)
    return labels, settings, clips, owner


def _wrap(
    model,
    settings,
    class_names,
    positive_index,
    threshold,
    config,
    variables,
    info,
    labels,
    owner,
    train_hop,
) -> Detector:
    """A supervised Detector (score P(anomaly), fixed threshold) with its training record."""
    return Detector(
        kind="supervised",
        model=model,
        settings=settings,
        class_names=tuple(class_names),
        positive_index=int(positive_index),
        threshold=float(threshold),
        threshold_rule=f"fixed {threshold:g} on P({class_names[positive_index]})",
        score_name="p_anomaly",
        model_config=config,
        variables=variables,
        info=dict(
            info,
            n_train=int(labels.size),
            n_train_clips=int(owner.size),
            train_hop=train_hop,
            n_train_per_class={c: int(np.sum(labels == i)) for i, c in enumerate(class_names)},
        ),
    )
