"""torchvision backbones (AlexNet ... MobileNetV2) for Mel images: build, describe, store.

Together with ``torch_weights`` and ``torch_train`` (and ``bench.torch_reference``, the VAE
twin) the only modules of drill_jax that import torch and torchvision. ``build_model`` /
``load_model`` hand back a ``torch.nn.Module`` that callers only pass back into these modules;
``model.bridge_info`` (a BridgeInfo) says what it is.

Weights (``build_model``):
- ``weights='none'``: random initialisation (train from scratch).
- ``weights='imagenet'``: torchvision's own ``IMAGENET1K_V1`` weights
  (``torch_weights.imagenet_state_dict``: cached, downloaded, or from the offline package).
- ``weights_path=FILE``: a local state_dict in torchvision's key layout.
In every case the final classifier layer is a fresh ``n_classes``-output Linear layer.

Input: square RGB images of ``input_size(backbone)`` pixels, normalised with the model's
mean/std (the ImageNet mean/std for every weights option; ``torch_train`` applies them).
Backbone names: ``torch_weights.BACKBONES``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np
import torch
import torchvision
from absl import logging
from torch import nn

from drill_jax import files
from drill_jax.classify import torch_weights

WEIGHTS = ("none", "imagenet")

# AlexNet at 227 x 227 as in the paper (MATLAB's AlexNet); torchvision's adaptive pooling makes
# any size >= 63 work. The other backbones use torchvision's 224 x 224.
_INPUT_SIZE = {
    "alexnet": 227,
    "googlenet": 224,
    "vgg16": 224,
    "vgg19": 224,
    "efficientnet_b0": 224,
    "mobilenet_v2": 224,
}
# Dotted name of the final Linear layer that becomes the n_classes-output head.
_HEAD = {
    "alexnet": "classifier.6",
    "googlenet": "fc",
    "vgg16": "classifier.6",
    "vgg19": "classifier.6",
    "efficientnet_b0": "classifier.1",
    "mobilenet_v2": "classifier.1",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class BridgeInfo:
    """What a built model is; stored on the model as ``model.bridge_info`` and in checkpoints."""

    backbone: str
    n_classes: int
    input_size: int
    weights: str  # 'none', 'imagenet' or 'file'
    freeze: int
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD


# ----------------------------------------------------------------------------- model building


def input_size(backbone: str) -> int:
    """Side in pixels of the square images the backbone is fed (227 AlexNet, else 224)."""
    torch_weights._check_backbone(backbone)
    return _INPUT_SIZE[backbone]


def _architecture(backbone: str, n_classes: int, imagenet: bool) -> nn.Module:
    """The torchvision network with an n_classes-output final Linear layer, random weights."""
    kwargs = {"weights": None, "num_classes": n_classes}
    if backbone == "googlenet":
        # Auxiliary heads off (the paper trains the main head only). torchvision's ImageNet
        # GoogLeNet expects its inputs re-normalised inside the net (transform_input=True).
        kwargs.update(aux_logits=False, init_weights=True, transform_input=imagenet)
    return torchvision.models.get_model(backbone, **kwargs)


def head_layer(model: nn.Module) -> nn.Linear:
    """The model's final (new) classifier layer."""
    return model.get_submodule(_HEAD[model.bridge_info.backbone])


def param_layers(model: nn.Module) -> list:
    """(name, module) of every module that owns parameters (Conv, BatchNorm, Linear ...), in
    definition order: the unit of ``freeze``."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False))
    ]


def build_model(
    backbone: str = "alexnet",
    n_classes: int = 2,
    weights: str = "none",
    weights_path: Optional[str] = None,
    freeze: int = 0,
    seed: int = 0,
    image_size: Optional[int] = None,
) -> nn.Module:
    """A torchvision backbone whose final Linear layer has ``n_classes`` outputs.

    Args:
      backbone: one of BACKBONES.
      n_classes: number of outputs of the new head (>= 2).
      weights: 'none' (from scratch) or 'imagenet' (torchvision IMAGENET1K_V1, see module doc).
      weights_path: a local state_dict file (torchvision key layout, or a ``save_model`` file);
        excludes weights='imagenet'. The backbone is loaded strictly (missing, unexpected or
        mis-shaped keys raise ValueError naming them); the head is always new.
      freeze: number of leading parameterised layers (modules owning parameters: Conv2d,
        BatchNorm2d, Linear, in definition order; see ``param_layers``) whose parameters are
        not trained; their BatchNorm statistics are kept fixed too. AlexNet has 8 such layers
        (5 conv + 3 linear); the authors' "first 10 MATLAB layers" of AlexNet are conv1-conv3,
        i.e. freeze=3. The head can not be frozen.
      seed: seed of the random initialisation (the global torch RNG is left untouched).
      image_size: side of the input images in pixels; None = input_size(backbone). Smaller
        sizes (>= 64; torchvision's adaptive pooling accepts them) make tests and quick
        looks cheap at the cost of detail.

    Returns:
      the model (CPU, train mode) with ``model.bridge_info`` (a BridgeInfo).
    """
    torch_weights._check_backbone(backbone)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if weights_path is not None and weights != "none":
        raise ValueError("give either weights='imagenet' or weights_path, not both")
    size = _INPUT_SIZE[backbone] if image_size is None else image_size
    if not isinstance(size, (int, np.integer)) or size < 64:
        raise ValueError(f"image_size must be an integer >= 64, got {image_size!r}")
    if weights_path is not None and not os.path.isfile(weights_path):
        raise FileNotFoundError(f"{weights_path}: weights file not found")
    state = None
    if weights == "imagenet":
        state = torch_weights.imagenet_state_dict(backbone)
    elif weights_path is not None:
        state = torch_weights._read_state_dict(weights_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _architecture(backbone, int(n_classes), imagenet=weights == "imagenet")
    source = "file" if weights_path is not None else weights
    model.bridge_info = BridgeInfo(backbone, int(n_classes), int(size), source, freeze)
    if state is not None:
        _load_backbone(model, state, weights_path or f"ImageNet {backbone}")
    _freeze(model, freeze)
    return model


def _freeze(model: nn.Module, freeze: int) -> None:
    layers = param_layers(model)
    if not isinstance(freeze, (int, np.integer)) or not 0 <= freeze < len(layers):
        raise ValueError(
            f"freeze must be an integer in [0, {len(layers) - 1}] for "
            f"{model.bridge_info.backbone} ({len(layers)} parameterised layers), got {freeze!r}"
        )
    for _, layer in layers[:freeze]:
        for p in layer.parameters(recurse=False):
            p.requires_grad_(False)


def _load_backbone(model: nn.Module, state: dict, source: str) -> None:
    """Loads every non-head tensor of ``state`` into ``model``; raises on any mismatch."""
    head = _HEAD[model.bridge_info.backbone] + "."
    own = model.state_dict()
    # torchvision's ImageNet GoogLeNet file also holds its auxiliary classifiers.
    ignored = [k for k in state if k.startswith(head) or k.startswith(("aux1.", "aux2."))]
    state = {k: v for k, v in state.items() if k not in ignored}
    missing = [k for k in own if k not in state and not k.startswith(head)]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    # Old checkpoints lack BatchNorm's num_batches_tracked; it is only a counter.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{source}: weights do not fit {model.bridge_info.backbone}: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys "
            f"{unexpected[:3]}, {len(mismatched)} shape mismatches {mismatched[:3]}"
        )
    model.load_state_dict(state, strict=False)
    logging.info(
        "loaded %d tensors from %s into %s; new head %s (ignored %d file keys: %s)",
        len(state),
        source,
        model.bridge_info.backbone,
        head[:-1],
        len(ignored),
        ", ".join(ignored[:4]),
    )


# ----------------------------------------------------------------------------- storing


def save_model(model: nn.Module, path: str) -> None:
    """Saves BridgeInfo + state_dict (CPU tensors) atomically; reload with load_model."""
    payload = {
        "bridge_info": dataclasses.asdict(model.bridge_info),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    files.atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_model(path: str) -> nn.Module:
    """The model saved by save_model (CPU, eval mode)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: model file not found")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "bridge_info" not in payload:
        raise ValueError(f"{path}: not a file written by torch_models.save_model")
    raw = dict(payload["bridge_info"])
    raw["mean"], raw["std"] = tuple(raw["mean"]), tuple(raw["std"])
    info = BridgeInfo(**raw)
    model = _architecture(info.backbone, info.n_classes, imagenet=info.weights == "imagenet")
    model.bridge_info = info
    model.load_state_dict(payload["state_dict"])
    _freeze(model, info.freeze)
    model.eval()
    return model

