"""Label-free ``ensemble``: the mean of label-free scorers' scores, each standardised by its
own scores of the normal training clips (median -> 0, 90th percentile -> 1), so that members
on different scales weigh alike (``detection.labelfree``).

Its members are registered models, and the registry imports this module to list it; so the
registry's entry is an ``Ensemble`` given the registry's own lookup of the models that can be
members (any label-free model with ``fit_features`` / ``score_features``, e.g. a
``labelfree.ClipModel``), rather than this module importing the registry.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import numpy as np

from drill_jax import data, features
from drill_jax.detection import family, labelfree


@dataclasses.dataclass(frozen=True)
class Config:
    """The label-free ensemble.

    Attributes:
      members: registered label-free models averaged, each with its default settings but
        for the feature set it reads.
      features: the feature set each member reads (one per member).
    """

    members: tuple[str, ...] = ("zscore", "mahalanobis")
    features: tuple[str, ...] = ("logmel64", "shape")

    def __post_init__(self):
        if not self.members or len(self.members) != len(self.features):
            raise ValueError("members: one feature set per member, at least one member")
        for name in self.features:
            labelfree.feature_set(name)


def _feature_sets(config: Config, clips: np.ndarray, settings) -> dict:
    """{feature set: [N, D]} of clips [N, L], each set the members read computed once."""
    return {f: labelfree.clip_features(f, clips, settings) for f in dict.fromkeys(config.features)}


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """The ensemble model (the registry's functions and names) over the models that
    ``candidates()`` returns (name -> entry with ``Config``, ``fit_features``,
    ``score_features`` and ``check``)."""

    candidates: Callable[[], dict]
    KIND: ClassVar[str] = "unsupervised"
    SCORE_NAME: ClassVar[str] = "ensemble"
    SCORE_MEANING: ClassVar[str] = (
        "mean of label-free scores, each standardised on the normal training clips (median 0, "
        "90th percentile 1); higher = less normal"
    )
    Config: ClassVar[type] = Config

    def members(self, config: Config) -> list:
        """(entry, member config) of every member; one-line ValueError naming the members
        that are not label-free models and listing those that are."""
        table = self.candidates()
        bad = [m for m in config.members if m not in table]
        if bad:
            raise ValueError(f"members: {bad} are not label-free models; one of {sorted(table)}")
        return [
            (table[m], table[m].Config(features=f)) for m, f in zip(config.members, config.features)
        ]

    def fit(
        self, config: Config, clips: data.Dataset, settings: features.FeatureSettings, key
    ) -> family.Fitted:
        """Fits every member on normal clips [N, settings.clip_samples] and its standardiser
        on its own scores of those clips (deterministic; ``key`` unused)."""
        del key
        feats = _feature_sets(config, np.stack(clips.waveforms), settings)
        arrays, standard = {}, []
        for i, (entry, member) in enumerate(self.members(config)):
            x = feats[member.features]
            arrays[f"m{i}"] = entry.fit_features(member, x)
            standard.append(labelfree.standardiser(entry.score_features(arrays[f"m{i}"], x)))
        arrays["standard"] = np.stack(standard)
        return family.Fitted(config, arrays, {})

    def score(
        self, config: Config, settings: features.FeatureSettings, arrays: dict, clips
    ) -> np.ndarray:
        """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
        feats = _feature_sets(config, np.asarray(clips, np.float32), settings)
        std = arrays["standard"]
        standardised = []
        for i, (entry, member) in enumerate(self.members(config)):
            x = feats[member.features]
            standardised.append((entry.score_features(arrays[f"m{i}"], x) - std[i, 0]) / std[i, 1])
        return np.mean(standardised, axis=0)

    def check(self, config: Config, settings: features.FeatureSettings, arrays, where: str):
        """ValueError unless there is one member state per member, each its member's (the
        member's own ``check``), and a [members, 2] standardiser."""
        members = self.members(config)
        keys = tuple(f"m{i}" for i in range(len(members))) + ("standard",)
        family.check_keys(arrays, keys, where)
        if np.shape(arrays["standard"]) != (len(members), 2):
            raise ValueError(f"{where}: standardiser shape {np.shape(arrays['standard'])}")
        for i, (entry, member) in enumerate(members):
            entry.check(member, settings, arrays[f"m{i}"], f"{where} (member {i})")
