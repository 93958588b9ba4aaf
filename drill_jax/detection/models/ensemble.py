"""Label-free ``ensemble``: the mean of label-free scorers' scores, each standardised by its
own scores of the normal training clips (median -> 0, 90th percentile -> 1), so that members
on different scales weigh alike (``detection.labelfree``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from drill_jax import data, features
from drill_jax.detection import family, labelfree

KIND = "unsupervised"
SCORE_NAME = "ensemble"
SCORE_MEANING = (
    "mean of label-free scores, each standardised on the normal training clips (median 0, "
    "90th percentile 1); higher = less normal"
)


@dataclasses.dataclass(frozen=True)
class Config:
    """The label-free ensemble.

    Attributes:
      members: label-free scorers averaged (``labelfree.SCORERS``).
      features: the feature set each member reads (one per member).
    """

    members: tuple[str, ...] = ("zscore", "mahalanobis")
    features: tuple[str, ...] = ("logmel64", "shape")

    def __post_init__(self):
        if not self.members or len(self.members) != len(self.features):
            raise ValueError("members: one feature set per member, at least one member")
        bad = [m for m in self.members if m not in labelfree.SCORERS]
        bad += [f for f in self.features if f not in labelfree.FEATURE_SETS]
        if bad:
            raise ValueError(
                f"members: unknown {bad}; scorers {labelfree.SCORERS}, "
                f"features {labelfree.FEATURE_SETS}"
            )


def _member_scores(config: Config, settings, arrays: dict, clips) -> list:
    """Raw scores of every member, [N] each."""
    out = []
    for i, (name, feats) in enumerate(zip(config.members, config.features)):
        x = labelfree.clip_features(feats, clips, settings)
        out.append(labelfree.score(name, arrays[f"m{i}"], x))
    return out


def fit(
    config: Config, clips: data.Dataset, settings: features.FeatureSettings, key
) -> family.Fitted:
    """Fits every member on normal clips [N, settings.clip_samples] and its standardiser
    on its own scores of those clips (deterministic; ``key`` unused)."""
    del key
    x = np.stack(clips.waveforms)
    arrays = {
        f"m{i}": labelfree.fit(name, labelfree.clip_features(feats, x, settings))
        for i, (name, feats) in enumerate(zip(config.members, config.features))
    }
    raw = _member_scores(config, settings, arrays, x)
    arrays["standard"] = np.stack([labelfree.standardiser(s) for s in raw])
    return family.Fitted(config, arrays, {})


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
    raw = _member_scores(config, settings, arrays, np.asarray(clips, np.float32))
    std = arrays["standard"]
    return np.mean([(s - std[i, 0]) / std[i, 1] for i, s in enumerate(raw)], axis=0)


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless there is one member state per member and a [members, 2] standardiser."""
    keys = tuple(f"m{i}" for i in range(len(config.members))) + ("standard",)
    family.check_keys(arrays, keys, where)
    if np.shape(arrays["standard"]) != (len(config.members), 2):
        raise ValueError(f"{where}: standardiser shape {np.shape(arrays['standard'])}")
