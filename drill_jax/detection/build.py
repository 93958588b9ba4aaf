"""Training any registered detector model on a ``data.Dataset``, with thresholds that mean
something.

* Supervised models fit on every sound (both classes); their thresholds are fixed
  (``TrainConfig.threshold`` on P(anomaly), for windows and files alike).
* Label-free models fit on NORMAL sounds only. ``holdout`` of the normal RECORDINGS (whole
  ``Dataset.groups``: never clips of one recording on both sides) is kept out of fitting;
  the held-out recordings are scored as ``experiments.detect`` scores files (every window,
  one clip apart), and the window threshold comes from their window scores and the file
  threshold from their file scores (``aggregate`` of each recording's windows), both by
  ``threshold_rule`` at ``quantile`` (DCASE: gamma, 0.9; by default the model's own rule,
  ``registry.threshold_rule``). So about 10 % of normal files and windows of that machine
  lie above their thresholds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import jax
import numpy as np

from drill_jax import data, features
from drill_jax.detection import registry, scoring, thresholds
from drill_jax.detection.detector import Detector


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How any detector model is trained and its thresholds chosen.

    Attributes:
      clip_samples: samples per scored clip (None = the shortest training sound).
      train_hop: train on every window of each sound at this hop (samples), as a stream
        shows them; None = the first clip of each sound only.
      holdout: label-free models: fraction of the normal recordings (whole groups) kept out
        of fitting; the thresholds come from their scores (0 = from the training clips'
        scores, optimistic on tiny data).
      threshold_rule: label-free models: 'gamma' (DCASE), 'normal' or 'percentile'
        (``thresholds``); None: the model's own (``registry.threshold_rule``).
      quantile: label-free models: the normal-score quantile used as threshold.
      aggregate: a file's score from its window scores: 'mean', 'max' or 'median'.
      threshold: supervised models: the threshold on P(anomaly).
      seed: root seed (hold-out split and model fit).
    """

    clip_samples: Optional[int] = None
    train_hop: Optional[int] = None
    holdout: float = 0.25
    threshold_rule: Optional[str] = None
    quantile: float = 0.9
    aggregate: str = "mean"
    threshold: float = 0.5
    seed: int = 0

    def __post_init__(self):
        if self.threshold_rule is not None:
            thresholds.one_of("threshold_rule", self.threshold_rule, thresholds.RULES)
        thresholds.one_of("aggregate", self.aggregate, thresholds.AGGREGATES)
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile: must be in (0, 1), got {self.quantile}")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout: must be in [0, 1), got {self.holdout}")


def anomaly_mask(ds: data.Dataset) -> np.ndarray:
    """[N] bool: sounds of the positive class (``ds.positive_class``, else a class named
    'anomaly'); all False for normal-only data."""
    name = ds.positive_class or "anomaly"
    if name not in ds.class_names:
        return np.zeros(len(ds), bool)
    return ds.labels == ds.class_names.index(name)


def window_dataset(ds: data.Dataset, clip_samples: int, hop: Optional[int]) -> data.Dataset:
    """Every sound's first clip (or every window at ``hop``) as a Dataset of clips
    [clip_samples]; each clip keeps its sound's label and group."""
    clips, owner = data.sound_windows(ds.waveforms, clip_samples, hop, ds.paths)
    sub = ds.subset(owner)
    return dataclasses.replace(sub, waveforms=tuple(clips), starts=np.zeros(len(owner), np.int64))


def split_recordings(
    groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit index, held-out index) over items, holding out ``fraction`` of the distinct
    recordings (groups) whole. Needs >= 2 recordings to fit and >= 1 held out."""
    uniq = np.unique(groups)
    n_hold = int(round(fraction * uniq.size)) if fraction > 0 else 0
    n_hold = max(n_hold, 1) if fraction > 0 else 0
    if uniq.size - n_hold < 2:
        raise ValueError(
            f"{uniq.size} normal recordings are too few for holdout={fraction} (need >= 2 to "
            "fit and >= 1 held out)"
        )
    held = np.random.default_rng(seed).permutation(uniq)[:n_hold]
    is_held = np.isin(groups, held)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def _labelfree_thresholds(
    det: Detector, normal: data.Dataset, hold: np.ndarray, clips: data.Dataset, config
):
    """(threshold, rule, file threshold, file rule, info) from the held-out recordings'
    window and file scores (or, with no hold-out, the scores of the training ``clips``)."""
    if hold.size:
        groups = normal.groups[hold]
        order = np.unique(groups)
        recordings = [
            np.concatenate([normal.waveforms[i] for i in hold[groups == g]]) for g in order
        ]
        file_s, window_s, _, _ = scoring.file_scores(det, recordings)
        where = f"{len(recordings)} held-out normal recordings (not trained on)"
    else:
        file_s = window_s = scoring.score_clips(det, np.stack(clips.waveforms))
        where = f"{len(file_s)} normal training clips (no hold-out: optimistic)"
    how = config.threshold_rule or registry.threshold_rule(det.model)
    thr, info = thresholds.choose_threshold(window_s, how, config.quantile)
    fthr, finfo = thresholds.choose_threshold(file_s, how, config.quantile)
    rule = f"{info['rule']} {config.quantile:g} quantile of the window scores of {where}"
    frule = f"{finfo['rule']} {config.quantile:g} quantile of the file scores ({config.aggregate}"
    frule += f" of its window scores) of {where}"
    return (
        thr,
        rule,
        fthr,
        frule,
        {"window_fit": info, "file_fit": finfo, "n_threshold_files": len(file_s)},
    )


def _classes(ds: data.Dataset, is_anom: np.ndarray) -> tuple[tuple, int]:
    """(class names, positive index) a detector trained on ``ds`` reports."""
    if not is_anom.any():
        return ("anomaly", "normal"), 0
    return tuple(ds.class_names), int(ds.labels[is_anom][0])


def train(
    ds: data.Dataset,
    model: str,
    model_config: Any,
    settings: features.FeatureSettings,
    config: TrainConfig = TrainConfig(),
    info: Optional[dict] = None,
) -> Detector:
    """Trains detector ``model`` (a registry name) with ``model_config`` on ``ds``.

    ``settings``: how clips become features at ``ds.sample_rate`` (``clip_samples`` is set
    here). The anomaly class is ``anomaly_mask``'s; data without one trains label-free
    models on every sound (class names ('anomaly', 'normal')). See the module docstring.
    """
    module = registry.get(model)
    if settings.sample_rate != ds.sample_rate:
        raise ValueError(
            f"feature settings are for {settings.sample_rate} Hz, the sounds are "
            f"{ds.sample_rate} Hz"
        )
    settings = dataclasses.replace(
        settings, clip_samples=int(config.clip_samples or ds.lengths.min())
    )
    is_anom = anomaly_mask(ds)
    names, pos = _classes(ds, is_anom)
    key = jax.random.key(config.seed)
    if module.KIND == "supervised":
        if not is_anom.any():
            raise ValueError(
                f"a supervised detector needs anomaly sounds (classes: {list(ds.class_names)})"
            )
        fit_ds = ds
    else:
        normal = ds.subset(np.flatnonzero(~is_anom))
        fit_idx, hold = split_recordings(normal.groups, config.holdout, config.seed)
        fit_ds = normal.subset(fit_idx)
    clips = window_dataset(fit_ds, settings.clip_samples, config.train_hop)
    clips = dataclasses.replace(
        clips, positive_class=names[pos] if module.KIND == "supervised" else None
    )
    fitted = module.fit(model_config, clips, settings, key)
    rule = f"fixed {config.threshold:g} on P({names[pos]})"
    det = Detector(
        model=model,
        settings=settings,
        class_names=names,
        positive_index=pos,
        threshold=config.threshold,
        threshold_rule=rule,
        file_threshold=config.threshold,
        file_threshold_rule=rule,
        model_config=fitted.config,
        variables=fitted.arrays,
        aggregate=config.aggregate,
    )
    record = dict(info or {}, **fitted.info, n_train_sounds=len(fit_ds), n_train_clips=len(clips))
    record["train_hop"] = config.train_hop
    if module.KIND == "unsupervised":
        thr, rule, fthr, frule, record["thresholds"] = _labelfree_thresholds(
            det, normal, hold, clips, config
        )
        det = dataclasses.replace(
            det, threshold=thr, threshold_rule=rule, file_threshold=fthr, file_threshold_rule=frule
        )
    return dataclasses.replace(det, info=record)
