"""'jax_cnn': the Flax CNN of ``classify.cnn`` trained from scratch on the fold's log-Mel
features; every fold of an evaluation can be fitted at once (``classify.folds``)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax

from drill_jax.classify import cnn, folds

READS = ("epochs", "batch_folds")


@dataclasses.dataclass(frozen=True)
class Config:
    """network: the classifier and its training recipe. batch_folds: fit every fold of an
    evaluation together, vmapped over folds (the same models as one by one, to float
    tolerance); None = on accelerators only (on a 2-core CPU the vmapped fits were slower,
    0.7x, measured by ``experiments.benchmark --only=folds``)."""

    network: cnn.ClassifierConfig = cnn.ClassifierConfig()
    batch_folds: Optional[bool] = None


def configure(config: Config, detector) -> Config:
    """``config`` with the detector's ``epochs`` (None = the network's) and ``batch_folds``."""
    network = config.network
    if detector.epochs is not None:
        network = dataclasses.replace(network, epochs=detector.epochs)
    return Config(network, detector.batch_folds)


def seconds_per_fit(config: Config) -> float:
    """Rough seconds of one fit at ~200 clips on a 2-core CPU (measured at 60 epochs)."""
    return 0.5 * config.network.epochs / 60


def make_fit_predict(config: Config):
    """fit_predict(train_fs, test_fs, seed) -> P [N_test, C]. The seed goes in through the
    key only: the network config is a static jit argument, and a seed in it would recompile
    the train step for every fold."""

    def fit_predict(train_fs, test_fs, seed):
        state, _ = cnn.fit(train_fs.log_mel, train_fs.labels, config.network, jax.random.key(seed))
        return cnn.predict_proba(state, test_fs.log_mel)

    return fit_predict


def make_fit_predict_folds(config: Config):
    """fit_predict_folds([(train_fs, test_fs, seed), ...]) -> [P [N_test, C], ...] fitting
    every fold at once, or None where ``config.batch_folds`` (resolved) is off."""
    batched = config.batch_folds
    if batched is None:
        batched = jax.default_backend() != "cpu"
    if not batched:
        return None

    def fit_predict_folds(prepared: list) -> list:
        states, _ = folds.fit_folds(
            [tr.log_mel for tr, _, _ in prepared],
            [tr.labels for tr, _, _ in prepared],
            config.network,
            [jax.random.key(seed) for _, _, seed in prepared],
        )
        return [cnn.predict_proba(s, te.log_mel) for s, (_, te, _) in zip(states, prepared)]

    return fit_predict_folds
