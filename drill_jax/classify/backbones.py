"""Detectors behind one signature: fit on a training FeatureSet, return held-out probabilities.

Backbones: 'jax_cnn' (drill_jax.classify.cnn, trained from scratch), 'logreg' (scikit-learn on
log-Mel bands), the classical detectors on clip features (drill_jax.classify.classical):
'clip_lr', 'clip_svm', 'clip_ensemble' (their default recipes) and 'auto' (the three best of
features x model x hyper-parameters by grouped 5-fold cross-validation on each training
side only, averaged), and
the torchvision CNNs of the paper's Table I plus MobileNetV2 (through
drill_jax.classify.torch_models / torch_train, on Mel images rendered by
drill_jax.features.images).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import numpy as np

from drill_jax import features
from drill_jax.classify import baselines, classical, cnn, folds
from drill_jax.classify.registry import BACKBONES
from drill_jax.features import images


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """Which detector, and its training settings.

    Attributes:
      backbone: one of BACKBONES.
      epochs: training epochs (None = the backbone's default: ClassifierConfig's for
        jax_cnn, TorchTrainConfig's 160 for torchvision nets).
      weights: torchvision nets: 'imagenet', 'none'.
      weights_path: a local state_dict for the torchvision net (overrides ``weights``).
      freeze: torchvision nets: leading parameter tensors to freeze.
      image_size: Mel image size for torchvision nets (None = the backbone's input size).
      db_range: fixed dB range for the Mel images (None = per-image min..max).
      batch_folds: jax_cnn: fit every fold of an evaluation together, vmapped over folds
        (``classify.folds``; the same models as one by one, to float tolerance). None = on
        accelerators only: on a 2-core CPU the vmapped fits were slower (0.7x, measured by
        ``experiments.benchmark --only=folds``).
    """

    backbone: str = "jax_cnn"
    epochs: Optional[int] = None
    weights: str = "none"
    weights_path: Optional[str] = None
    freeze: int = 0
    image_size: Optional[int] = None
    db_range: Optional[tuple] = None
    batch_folds: Optional[bool] = None

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.weights not in ("imagenet", "none"):
            raise ValueError(f"weights must be 'imagenet' or 'none', got {self.weights!r}")


def make_fit_predict(config: DetectorConfig):
    """Returns fit_predict(train_fs, test_fs, seed) -> proba [N_test, C] for ``config``."""
    if config.backbone == "jax_cnn":
        return lambda tr, te, seed: _jax_cnn(config, tr, te, seed)
    if config.backbone == "logreg":
        return _logreg
    if config.backbone == "cnn_svm":
        return lambda tr, te, seed: _cnn_svm(config, tr, te, seed)
    if config.backbone in CLASSICAL:
        return lambda tr, te, seed: _classical(config, tr, te, seed)
    return lambda tr, te, seed: _torch(config, tr, te, seed)


def make_fit_predict_folds(config: DetectorConfig):
    """Returns fit_predict_folds([(train_fs, test_fs, seed), ...]) -> [proba, ...] fitting
    every fold at once, or None where the backbone has no batched form (or
    ``config.batch_folds`` is off)."""
    batched = config.batch_folds
    if batched is None:
        batched = jax.default_backend() != "cpu"
    if config.backbone != "jax_cnn" or not batched:
        return None

    def fit_predict_folds(prepared: list) -> list:
        cfg = _cnn_config(config)
        states, _ = folds.fit_folds(
            [tr.log_mel for tr, _, _ in prepared],
            [tr.labels for tr, _, _ in prepared],
            cfg,
            [jax.random.key(seed) for _, _, seed in prepared],
        )
        return [cnn.predict_proba(s, te.log_mel) for s, (_, te, _) in zip(states, prepared)]

    return fit_predict_folds


def _cnn_config(config: DetectorConfig) -> cnn.ClassifierConfig:
    # The seed goes in through the key only: the config is a static jit argument, and a
    # new seed in it would recompile the train step for every fold.
    cfg = cnn.ClassifierConfig()
    if config.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=config.epochs)
    return cfg


def _jax_cnn(config, train_fs, test_fs, seed):
    state, _ = cnn.fit(train_fs.log_mel, train_fs.labels, _cnn_config(config), jax.random.key(seed))
    return cnn.predict_proba(state, test_fs.log_mel)


def _logreg(train_fs, test_fs, seed):
    n_classes = int(max(train_fs.labels.max(), test_fs.labels.max())) + 1
    fitted = baselines.fit_baseline(
        "logreg", train_fs.unpadded(), train_fs.labels, train_fs.lengths, seed, n_classes
    )
    return baselines.baseline_proba(fitted, test_fs.unpadded(), test_fs.lengths)


CLASSICAL = {
    "clip_lr": classical.Recipe("all", "lr", lr_c=0.03),
    "clip_svm": classical.Recipe("all", "svm", svm_c=10.0),
    "clip_ensemble": classical.Recipe("all", "ensemble"),
    "auto": None,
}


def _classical(config, train_fs, test_fs, seed):
    """A classical detector on clip features; 'auto' also returns what it chose."""
    for name, fs in (("training", train_fs), ("held-out", test_fs)):
        if fs.waveforms is None or fs.settings is None:
            raise ValueError(
                f"backbone {config.backbone!r} computes its own clip features and needs the "
                f"{name} sounds; feature-side augmentation (specaugment) has none"
            )
    labels = np.concatenate([train_fs.labels, test_fs.labels])
    if labels.max() > 1 or len(np.unique(train_fs.labels)) != 2:
        raise ValueError(f"backbone {config.backbone!r} needs two classes, got {np.unique(labels)}")
    rate, band = train_fs.settings.sample_rate, train_fs.settings.band_hz

    def feats(variant, fs):
        return classical.clip_features(variant, fs.waveforms, rate, band)

    recipes, info = [CLASSICAL[config.backbone]], None
    if recipes[0] is None:
        variants = sorted({r.features for r in classical.CANDIDATES})
        recipes, table = classical.choose_recipes(
            {v: feats(v, train_fs) for v in variants},
            train_fs.labels,
            train_fs.origin,
            seed=seed,
        )
        info = {"recipes": [r.name for r in recipes], "inner": dict(table)}
    variants = sorted({r.features for r in recipes})
    fitted = classical.fit_many(
        recipes, {v: feats(v, train_fs) for v in variants}, train_fs.labels, seed
    )
    p1 = classical.predict_many(fitted, {v: feats(v, test_fs) for v in variants})
    proba = np.stack([1.0 - p1, p1], axis=1)
    return proba if info is None else (proba, info)


# Short-window log-Mel for the CNN of 'cnn_svm' (256-sample window, 128 hop, 64 bands: 14
# frames of a 2000-sample clip); band, rate and clipping from the evaluation's settings.
SHORT_WINDOW = dict(window_samples=256, overlap_samples=128, n_fft=256, n_mels=64)


def _cnn_svm(config, train_fs, test_fs, seed):
    """Mean P of the JAX CNN on short-window log-Mel and of clip_svm."""
    svm = _classical(dataclasses.replace(config, backbone="clip_svm"), train_fs, test_fs, seed)
    short = dataclasses.replace(train_fs.settings, clip_samples=None, **SHORT_WINDOW)
    longest = max(max(len(w) for w in train_fs.waveforms), max(len(w) for w in test_fs.waveforms))
    short = dataclasses.replace(short, clip_samples=longest)
    x_tr = features.extract(short, list(train_fs.waveforms))
    x_te = features.extract(short, list(test_fs.waveforms))
    state, _ = cnn.fit(x_tr, train_fs.labels, _cnn_config(config), jax.random.key(seed))
    return (cnn.predict_proba(state, x_te) + svm) / 2.0


def _torch(config, train_fs, test_fs, seed):
    from drill_jax.classify import torch_models, torch_train  # torch lives in torch_*.py

    size = config.image_size or torch_models.input_size(config.backbone)
    model = torch_models.build_model(
        config.backbone,
        n_classes=int(max(train_fs.labels.max(), test_fs.labels.max())) + 1,
        weights=config.weights,
        weights_path=config.weights_path,
        freeze=config.freeze,
    )
    train_cfg = torch_train.TorchTrainConfig()
    if config.epochs is not None:
        train_cfg = dataclasses.replace(train_cfg, max_epochs=config.epochs)
    torch_train.fit(
        model,
        images.render_images(train_fs.log_mel, size, config.db_range),
        train_fs.labels,
        config=train_cfg,
        seed=seed,
    )
    return torch_train.predict_proba(
        model, images.render_images(test_fs.log_mel, size, config.db_range)
    )
