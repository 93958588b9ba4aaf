"""The torchvision CNNs of the paper's Table I plus MobileNetV2, trained through the torch
bridge (``classify.torch_models`` / ``torch_train``) on Mel images (``features.images``).

torch is imported when a net is fitted, not when this module is: it is an optional
dependency, and the registry names these nets without it."""

from __future__ import annotations

import dataclasses
from typing import Optional

from drill_jax.classify import bridge
from drill_jax.features import images

READS = ("epochs", "weights", "weights_path", "freeze", "image_size", "db_range")

# Rough seconds per epoch at ~100-200 training images on a 2-core CPU, measured for AlexNet
# and MobileNetV2, the others scaled by their FLOPs.
_SECONDS_PER_EPOCH = {
    "alexnet": 8.0,
    "mobilenet_v2": 8.0,
    "googlenet": 18.0,
    "efficientnet_b0": 20.0,
    "vgg16": 80.0,
    "vgg19": 95.0,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TorchSettings:
    """The settings of a torchvision net a user may change (``DetectorConfig`` has them too).

    Attributes:
      weights: torchvision nets: 'imagenet', 'none'.
      weights_path: a local state_dict for the torchvision net (overrides ``weights``).
      freeze: torchvision nets: leading parameter tensors to freeze.
      image_size: Mel image size for torchvision nets (None = the net's input size).
      db_range: fixed dB range for the Mel images (None = per-image min..max).
    """

    weights: str = "none"
    weights_path: Optional[str] = None
    freeze: int = 0
    image_size: Optional[int] = None
    db_range: Optional[tuple] = None

    def __post_init__(self):
        if self.weights not in ("imagenet", "none"):
            raise ValueError(f"weights must be 'imagenet' or 'none', got {self.weights!r}")


@dataclasses.dataclass(frozen=True)
class Config(TorchSettings):
    """net: one of ``bridge.NETS``; epochs: None = ``TorchTrainConfig``'s 160; and the
    ``TorchSettings``."""

    net: str
    epochs: Optional[int] = None

    def __post_init__(self):
        super().__post_init__()
        if self.net not in bridge.NETS:
            raise ValueError(f"net must be one of {bridge.NETS}, got {self.net!r}")


def configure(config: Config, detector) -> Config:
    """``config`` with every torch setting of the detector."""
    return dataclasses.replace(config, **{name: getattr(detector, name) for name in READS})


def seconds_per_fit(config: Config) -> float:
    """Rough seconds of one fit on a 2-core CPU."""
    return _SECONDS_PER_EPOCH[config.net] * (config.epochs or 160)


def make_fit_predict(config: Config):
    """fit_predict(train_fs, test_fs, seed) -> P [N_test, C]."""

    def fit_predict(train_fs, test_fs, seed):
        from drill_jax.classify import torch_models, torch_train  # torch only when fitted

        size = config.image_size or torch_models.input_size(config.net)
        model = torch_models.build_model(
            config.net,
            n_classes=int(max(train_fs.labels.max(), test_fs.labels.max())) + 1,
            weights=config.weights,
            weights_path=config.weights_path,
            freeze=config.freeze,
        )
        train_cfg = torch_train.TorchTrainConfig()
        if config.epochs is not None:
            train_cfg = dataclasses.replace(train_cfg, max_epochs=config.epochs)
        train_images = images.render_images(train_fs.log_mel, size, config.db_range)
        torch_train.fit(model, train_images, train_fs.labels, config=train_cfg, seed=seed)
        test_images = images.render_images(test_fs.log_mel, size, config.db_range)
        return torch_train.predict_proba(model, test_images)

    return fit_predict
