"""Training and inference of the torchvision backbones on Mel images; NumPy in, NumPy out.

Images enter as uint8 RGB arrays [N, H, W, 3] (``images.render_image``) and results leave as
NumPy arrays or plain dicts; models come from ``torch_models.build_model`` / ``load_model``.

Preprocessing: images are resized (bilinear, antialiased) to the backbone's input size, scaled
to [0, 1] and normalised with the ImageNet mean/std. The same normalisation is used for every
weights option, also from scratch: it only centres and scales the inputs to about unit range,
and it keeps one preprocessing path for models whatever their weights came from.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional

import numpy as np
import torch
from absl import logging
from torch import nn

from drill_jax.classify import torch_models


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


# ----------------------------------------------------------------------------- images


def _check_images(images: np.ndarray, name: str = "images") -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", None)
        raise ValueError(f"{name} must be a NumPy array [N, H, W, 3], got shape {shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 RGB (images.render_image), got {images.dtype}")
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
    head = {id(p) for p in torch_models.head_layer(model).parameters()}
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
    _check_config(config)
    train = _inputs(model, train_images, train_labels, "train")
    if (val_images is None) != (val_labels is None):
        raise ValueError("give both val_images and val_labels, or neither")
    val = None if val_images is None else _inputs(model, val_images, val_labels, "val")
    n = len(train[0])
    if n // config.batch_size < 1 and config.drop_last:
        raise ValueError(f"{n} training images give no full mini-batch of {config.batch_size}")
    dev = device()
    model.to(dev)
    data_seed, dropout_seed = _derived_seeds(seed)
    deterministic_before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    start = time.perf_counter()
    try:
        torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
        with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
            torch.manual_seed(dropout_seed)
            _train_mode(model)
            generator = torch.Generator().manual_seed(data_seed)
            history = _run(model, train, val, config, generator, log_fn)
    finally:
        torch.use_deterministic_algorithms(
            deterministic_before[0], warn_only=deterministic_before[1]
        )
        model.eval()
    history["seconds"] = time.perf_counter() - start
    return history


def _inputs(model: nn.Module, images, labels, name: str) -> tuple:
    """Checked (x float [N, 3, S, S] in [0, 1], y int64 [N]) tensors on the CPU."""
    info = model.bridge_info
    _check_images(images, f"{name}_images")
    y = _check_labels(labels, len(images), info.n_classes, f"{name}_labels")
    return _to_tensor(images, info.input_size), torch.from_numpy(y)


def _run(model, train: tuple, val: Optional[tuple], config, generator, log_fn) -> dict:
    """The epochs of ``fit``: SGD steps, validation every ``val_every`` iterations and after
    the last one, early stopping. Returns the history (without 'seconds')."""
    (x_train, y_train), n = train, len(train[0])
    per_epoch = n // config.batch_size if config.drop_last else -(-n // config.batch_size)
    val_every = config.val_every or max(1, n // config.batch_size)
    dev = next(model.parameters()).device
    optimizer = _optimizer(model, config)
    names = ("iteration", "epoch", "train_loss", "train_acc", "val_iteration", "val_loss")
    history = {k: [] for k in names + ("val_acc",)}
    history["stopped_early"] = False
    best, bad_validations = float("inf"), 0
    for epoch in range(1, config.max_epochs + 1):
        order = torch.randperm(n, generator=generator) if config.shuffle else torch.arange(n)
        for b in range(per_epoch):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            xb, yb = x_train[idx].to(dev), y_train[idx].to(dev)
            if config.augment:
                xb = _augment(xb, generator, config)
            _sgd_step(model, optimizer, xb, yb, history, epoch)
            last = epoch == config.max_epochs and b == per_epoch - 1
            if val is None or not (history["iteration"][-1] % val_every == 0 or last):
                continue
            val_loss, val_acc = _evaluate(model, val[0], val[1], config.eval_batch_size, dev)
            history["val_iteration"].append(history["iteration"][-1])
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
            _log(history, log_fn)
            if val_loss < best:
                best, bad_validations = val_loss, 0
            else:
                bad_validations += 1
            if config.patience is not None and bad_validations >= config.patience:
                history["stopped_early"] = True
                return history
        if val is None:
            _log(history, log_fn)
    return history


def _sgd_step(model, optimizer, xb, yb, history: dict, epoch: int) -> None:
    """One SGD step on a mini-batch; appends its iteration, loss and accuracy to history."""
    logits = model(_normalise(model, xb))
    loss = nn.functional.cross_entropy(logits, yb)
    iteration = len(history["iteration"]) + 1
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite training loss at iteration {iteration}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    history["iteration"].append(iteration)
    history["epoch"].append(epoch)
    history["train_loss"].append(loss.item())
    history["train_acc"].append((logits.argmax(1) == yb).float().mean().item())


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
