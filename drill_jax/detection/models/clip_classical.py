"""Supervised ``clip_classical``: the recipes of ``classify.classical`` (standardised logistic
regression / RBF-SVM on clip features, band-passed by the settings' band) stored as arrays;
score = the mean over recipes of each model's P(anomaly). With ``recipes`` None the three best
candidates by repeated grouped 5-fold cross-validation on the training clips are chosen
(windows of one recording stay in one fold) and recorded in the fitted config."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from drill_jax import data, features
from drill_jax.classify import classical
from drill_jax.detection import family

KIND = "supervised"
SCORE_NAME = "p_anomaly"
SCORE_MEANING = "mean over the classical recipes of P(anomaly) (0..1)"
_ARRAYS = {
    "lr": ("coef", "intercept", "mean", "scale"),
    "svm": ("dual", "gamma", "intercept", "mean", "scale", "support"),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """The classical detector's recipes.

    Attributes:
      recipes: the classical recipes whose probabilities are averaged; None = chosen by
        grouped cross-validation on the training clips (top 3 by inner ROC-AUC).
      seed: seed of the cross-validation folds and the models.
    """

    recipes: Optional[tuple[classical.Recipe, ...]] = None
    seed: int = 0

    def __post_init__(self):
        if self.recipes is not None:
            if not self.recipes:
                raise ValueError("recipes: a classical detector needs at least one recipe")
            items = tuple(
                r if isinstance(r, classical.Recipe) else classical.Recipe(**dict(r))
                for r in self.recipes
            )
            object.__setattr__(self, "recipes", items)


def _features(clips: np.ndarray, settings: features.FeatureSettings, recipes) -> dict:
    variants = sorted({r.features for r in recipes})
    return classical.variant_features(clips, settings.sample_rate, settings.band_hz, variants)


def fit(
    config: Config, clips: data.Dataset, settings: features.FeatureSettings, key
) -> family.Fitted:
    """Fits the recipes (chosen first when None) on clips [N, settings.clip_samples]."""
    del key  # scikit-learn models: the config's seed
    x = np.stack(clips.waveforms)
    y = (clips.labels == clips.positive_index).astype(np.int64)
    info = {}
    recipes = config.recipes
    if recipes is None:
        pool = _features(x, settings, classical.CANDIDATES)
        recipes, table = classical.choose_recipes(pool, y, clips.groups, seed=config.seed)
        info = {"rule": "top 3 by inner ROC-AUC (2 x grouped 5-fold)", "inner": dict(table)}
    config = dataclasses.replace(config, recipes=tuple(recipes))
    fitted = classical.fit_many(
        config.recipes, _features(x, settings, config.recipes), y, config.seed
    )
    info["recipes"] = [r.name for r in config.recipes]
    return family.Fitted(config, classical.export_arrays(fitted), {"recipe": info})


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """P(anomaly) [N] float64 of clips [N, settings.clip_samples]."""
    feats = _features(np.asarray(clips, np.float32), settings, config.recipes)
    return classical.predict_arrays(arrays, config.recipes, feats).astype(np.float64)


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless there is one entry per recipe with its models' arrays (their sizes
    vary with the support vectors, so the structure is checked, not the shapes)."""
    del settings
    if config.recipes is None:
        raise ValueError(f"{where}: a saved classical detector must list its recipes")
    family.check_keys(arrays, tuple(f"r{i}" for i in range(len(config.recipes))), where)
    for i, recipe in enumerate(config.recipes):
        models = recipe.models
        family.check_keys(arrays[f"r{i}"], models, f"{where}: recipe {i} ({recipe.name})")
        for m in models:
            family.check_keys(arrays[f"r{i}"][m], _ARRAYS[m], f"{where}: recipe {i} {m}")
