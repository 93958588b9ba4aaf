"""Backbone names and the error for unobtainable weights: what the rest of drill_jax needs to
know about the classifiers without importing torch."""

from __future__ import annotations

# Fitted in this process without torch: the JAX CNN, and scikit-learn on clip features
# (``classify.classical``; 'auto' chooses features x model inside each training side).
# 'cnn_svm': the mean of the JAX CNN on short-window log-Mel and 'clip_svm'.
CLASSICAL_BACKBONES = ("clip_lr", "clip_svm", "clip_ensemble", "auto", "cnn_svm")
JAX_BACKBONES = ("jax_cnn", "logreg") + CLASSICAL_BACKBONES
TORCH_BACKBONES = ("alexnet", "googlenet", "vgg16", "vgg19", "efficientnet_b0", "mobilenet_v2")
BACKBONES = JAX_BACKBONES + TORCH_BACKBONES


class WeightsUnavailableError(ValueError):
    """ImageNet weights were asked for but can be neither downloaded nor found in the cache."""
