"""'clip_lr', 'clip_svm', 'clip_ensemble' and 'auto': scikit-learn models on clip features
(``classify.classical``). A fixed entry averages its recipes; 'auto' (no recipes) picks the
``top`` candidates by grouped cross-validation on each training side only and averages them,
so the held-out fold never takes part in the choice."""

from __future__ import annotations

import dataclasses

import numpy as np

from drill_jax.classify import classical

READS = ()


@dataclasses.dataclass(frozen=True)
class Config:
    """recipes: the fitted recipes, averaged; () = choose ``top`` of ``classical.CANDIDATES``
    per training side."""

    recipes: tuple = ()
    top: int = 3


# The registered recipes: 'clip_lr', 'clip_svm', 'clip_ensemble'.
LR = Config((classical.Recipe("all", "lr", lr_c=0.03),))
SVM = Config((classical.Recipe("all", "svm", svm_c=10.0),))
ENSEMBLE = Config((classical.Recipe("all", "ensemble"),))


def configure(config: Config, detector) -> Config:
    """``config`` unchanged: the detector's fields do not apply."""
    del detector
    return config


def seconds_per_fit(config: Config) -> float:
    """Rough seconds of one fit at ~200 clips on a 2-core CPU ('auto': the inner CV)."""
    return 0.1 if config.recipes else 4.0


def _check(train_fs, test_fs) -> None:
    for name, fs in (("training", train_fs), ("held-out", test_fs)):
        if fs.waveforms is None or fs.settings is None:
            raise ValueError(
                f"clip-feature backbones compute their own features and need the {name} "
                "sounds; feature-side augmentation (specaugment) has none"
            )
    labels = np.concatenate([train_fs.labels, test_fs.labels])
    if labels.max() > 1 or len(np.unique(train_fs.labels)) != 2:
        raise ValueError(f"clip-feature backbones need two classes, got {np.unique(labels)}")


def make_fit_predict(config: Config):
    """fit_predict(train_fs, test_fs, seed) -> P [N_test, 2]; 'auto' returns (P, {'recipes':
    chosen names, 'inner': every candidate's inner scores}). The clip features of each sound
    are computed once per evaluation (a memo held by this fit_predict)."""
    memo: dict = {}

    def fit_predict(train_fs, test_fs, seed):
        _check(train_fs, test_fs)
        rate, band = train_fs.settings.sample_rate, train_fs.settings.band_hz

        def feats(fs, recipes):
            variants = sorted({r.features for r in recipes})
            return classical.variant_features(fs.waveforms, rate, band, variants, memo)

        recipes, info = config.recipes, None
        if not recipes:
            recipes, table = classical.choose_recipes(
                feats(train_fs, classical.CANDIDATES),
                train_fs.labels,
                train_fs.origin,
                top=config.top,
                seed=seed,
            )
            info = {"recipes": [r.name for r in recipes], "inner": dict(table)}
        fitted = classical.fit_many(recipes, feats(train_fs, recipes), train_fs.labels, seed)
        p1 = classical.predict_many(fitted, feats(test_fs, recipes))
        proba = np.stack([1.0 - p1, p1], axis=1)
        return proba if info is None else (proba, info)

    return fit_predict
