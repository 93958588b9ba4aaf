"""'logreg': standardised logistic regression on the clip's mean log-Mel band energies
(``classify.baselines``)."""

from __future__ import annotations

import dataclasses

from drill_jax.classify import baselines

READS = ()


@dataclasses.dataclass(frozen=True)
class Config:
    """c: inverse L2 strength."""

    c: float = 1.0


def configure(config: Config, detector) -> Config:
    """``config`` unchanged: the detector's fields do not apply."""
    del detector
    return config


def seconds_per_fit(config: Config) -> float:
    """Rough seconds of one fit at ~200 clips on a 2-core CPU."""
    del config
    return 0.1


def make_fit_predict(config: Config):
    """fit_predict(train_fs, test_fs, seed) -> P [N_test, C]."""

    def fit_predict(train_fs, test_fs, seed):
        n_classes = int(max(train_fs.labels.max(), test_fs.labels.max())) + 1
        fitted = baselines.fit_baseline(
            "logreg",
            train_fs.unpadded(),
            train_fs.labels,
            train_fs.lengths,
            seed,
            n_classes,
            C=config.c,
        )
        return baselines.baseline_proba(fitted, test_fs.unpadded(), test_fs.lengths)

    return fit_predict
