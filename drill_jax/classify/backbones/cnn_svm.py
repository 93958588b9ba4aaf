"""'cnn_svm': the mean probability of the JAX CNN on short-window log-Mel and of 'clip_svm'."""

from __future__ import annotations

import dataclasses

import jax

from drill_jax import features
from drill_jax.classify import cnn
from drill_jax.classify.backbones import clip

READS = ("epochs",)


@dataclasses.dataclass(frozen=True)
class Config:
    """network: the CNN; svm: the clip-feature half; window_samples, overlap_samples, n_fft,
    n_mels: the CNN's short-window log-Mel (256-sample window, 128 hop, 64 bands: 14 frames
    of a 2000-sample clip); band, rate and dB clipping come from the evaluation's settings."""

    network: cnn.ClassifierConfig = cnn.ClassifierConfig()
    svm: clip.Config = clip.SVM
    window_samples: int = 256
    overlap_samples: int = 128
    n_fft: int = 256
    n_mels: int = 64


def configure(config: Config, detector) -> Config:
    """``config`` with the detector's ``epochs`` for the CNN (None = the network's)."""
    if detector.epochs is None:
        return config
    return dataclasses.replace(
        config, network=dataclasses.replace(config.network, epochs=detector.epochs)
    )


def seconds_per_fit(config: Config) -> float:
    """Rough seconds of one fit at ~200 clips on a 2-core CPU."""
    return 1.0 * config.network.epochs / 60 + clip.seconds_per_fit(config.svm)


def make_fit_predict(config: Config):
    """fit_predict(train_fs, test_fs, seed) -> P [N_test, 2]."""
    svm = clip.make_fit_predict(config.svm)

    def fit_predict(train_fs, test_fs, seed):
        p_svm = svm(train_fs, test_fs, seed)
        longest = max(len(w) for fs in (train_fs, test_fs) for w in fs.waveforms)
        short = dataclasses.replace(
            train_fs.settings,
            clip_samples=longest,
            window_samples=config.window_samples,
            overlap_samples=config.overlap_samples,
            n_fft=config.n_fft,
            n_mels=config.n_mels,
        )
        x_tr = features.extract(short, list(train_fs.waveforms))
        x_te = features.extract(short, list(test_fs.waveforms))
        state, _ = cnn.fit(x_tr, train_fs.labels, config.network, jax.random.key(seed))
        return (cnn.predict_proba(state, x_te) + p_svm) / 2.0

    return fit_predict
