"""What drill_jax knows about the torchvision bridge without importing torch: the network
names and the error for ImageNet weights that cannot be had."""

from __future__ import annotations

NETS = ("alexnet", "googlenet", "vgg16", "vgg19", "efficientnet_b0", "mobilenet_v2")


class WeightsUnavailableError(ValueError):
    """ImageNet weights were asked for but can be neither downloaded nor found in the cache."""
