"""Data made in the torchvision-bridge tests: images, a separable batch, one torch thread."""

import numpy as np
import pytest

from drill_jax.classify import torch_train

TINY = torch_train.TorchTrainConfig(batch_size=4, max_epochs=1, augment=False)


def toy_images(n, size, seed=0):
    """Random uint8 RGB images [n, size, size, 3]."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def separable_batch(n=8, size=32):
    """Two classes that differ by brightness: class 1 bright, class 0 dark."""
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 2
    base = np.where(labels[:, None, None, None] == 1, 200, 40)
    noise = rng.integers(-30, 30, (n, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8), labels


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared, busy CPU it is many times faster than one per core."""
    previous = torch_train.set_num_threads(1)
    yield
    torch_train.set_num_threads(previous)
