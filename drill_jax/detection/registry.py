"""The saved-detector models by name: the only place a model name becomes a module.

Every model is one module of ``drill_jax.detection.models``; its entry here is the module
itself or an object of the module (for models made by a shared helper) exporting:

* ``KIND``: 'supervised' (fits on both classes; score P(anomaly)) or 'unsupervised' (fits
  on normal clips only; label-free);
* ``SCORE_NAME``, ``SCORE_MEANING``: what its score is (higher = more anomalous);
* ``Config``: a frozen dataclass of its settings (written to and read from JSON by
  ``config_to_json`` / ``config_from_json`` here; nested dataclasses are fine);
* ``fit(config, clips: data.Dataset, settings, key) -> family.Fitted``: trains on a Dataset
  whose sounds are clips of exactly ``settings.clip_samples`` samples (groups = their
  recordings; positive_class = the anomaly class) and returns the complete config, a pytree
  of NumPy arrays and a training record;
* ``score(config, settings, arrays, clips [N, clip_samples]) -> [N]`` float64 scores;
* ``check(config, settings, arrays, where)``: ValueError unless loaded arrays fit the config;
* optionally ``THRESHOLD_RULE``: the ``thresholds.RULES`` name a label-free model's
  thresholds are fitted with unless the training config names one ('gamma' without it).

A label-free model of clip features is its module's ``MODEL``, a ``labelfree.ClipModel``
made from the module's ``Config``, ``fit_features(config, [N, D]) -> arrays`` and
``score_features(arrays, [M, D]) -> [M]``, which it also exports; ``label_free()`` lists
those, the members an ensemble can average. The ensemble's entry is an
``ensemble.Ensemble`` given that lookup (the ensemble module cannot import this registry,
which lists it).

Saving and loading go through the one detector format (``detection.detector``); training,
thresholds and file scores through ``detection.build`` and ``detection.scoring``, for every
model alike.

Adding a model: write ``drill_jax/detection/models/<name>.py`` with the names above, add one
line ``"<name>": <module>`` (or ``<module>.MODEL``) to ``MODELS`` below; the parametrised
test in ``tests/detection/test_registry.py`` then trains, saves, loads and scores it, and
``experiments.train_detector --model=<name>`` offers it.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from drill_jax.detection import family
from drill_jax.detection.models import (
    clip_classical,
    dcase_ae,
    dcase_oe,
    ensemble,
    gmm,
    jax_cnn,
    knn,
    mahalanobis,
    vae,
    zscore,
)

KINDS = ("supervised", "unsupervised")
_LABEL_FREE = ("fit_features", "score_features")  # what an ensemble member exports


def get(name: str) -> Any:
    """The model called ``name`` (its module or its module's entry object); one-line
    ValueError listing the names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown detector model {name!r}; one of {sorted(MODELS)}") from None


def threshold_rule(name: str) -> str:
    """The threshold rule of the model called ``name``: its ``THRESHOLD_RULE``, else 'gamma'
    (the DCASE baselines')."""
    return getattr(get(name), "THRESHOLD_RULE", "gamma")


def label_free() -> dict:
    """The registered models an ensemble can average: name -> entry with ``fit_features``
    and ``score_features`` (label-free scorers of clip features)."""
    return {n: m for n, m in MODELS.items() if all(hasattr(m, f) for f in _LABEL_FREE)}


MODELS = {
    "clip_classical": clip_classical,
    "jax_cnn": jax_cnn,
    "zscore": zscore.MODEL,
    "mahalanobis": mahalanobis.MODEL,
    "knn": knn.MODEL,
    "gmm": gmm.MODEL,
    "ensemble": ensemble.Ensemble(label_free),
    "vae": vae,
    "dcase_ae": dcase_ae,
    "dcase_oe": dcase_oe,
}
DEFAULT = {"supervised": "clip_classical", "unsupervised": "ensemble"}


def config_to_json(config: Any) -> dict:
    """A model config -> JSON-able dict."""
    return family.config_to_json(config)


def config_from_json(name: str, obj: dict) -> Any:
    """Model ``name``'s config from ``config_to_json``'s dict."""
    return family.config_from_json(get(name).Config, obj)


def simple_fields(cls: type) -> list:
    """The fields of a model Config that hold plain values (not nested configs or
    recipes): what a command-line flag can set."""
    hints = typing.get_type_hints(cls)
    nested = [f for f in dataclasses.fields(cls) if _holds_dataclass(hints[f.name])]
    return [f for f in dataclasses.fields(cls) if f not in nested]


def _holds_dataclass(hint: Any) -> bool:
    return dataclasses.is_dataclass(hint) or any(_holds_dataclass(a) for a in typing.get_args(hint))
