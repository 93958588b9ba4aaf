"""Tests for drill_jax.classify.torch_train: inputs, training step, augmentation, history."""

import dataclasses

import numpy as np
import pytest

from drill_jax.classify import torch_models
from drill_jax.classify import torch_train as tt
from tests.classify.torch_toys import TINY, one_thread, separable_batch, toy_images  # noqa: F401


@pytest.mark.parametrize("backbone", ["alexnet", "mobilenet_v2"])
def test_forward_gives_n_classes_probabilities(backbone):
    model = torch_models.build_model(backbone, n_classes=2)
    proba = tt.predict_proba(model, toy_images(1, 227))
    assert proba.shape == (1, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_bad_inputs_raise_clear_errors():
    model = torch_models.build_model("mobilenet_v2", image_size=64)
    with pytest.raises(ValueError, match="uint8"):
        tt.predict_proba(model, toy_images(1, 32).astype(np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tt.fit(model, toy_images(4, 32), np.array([0, 1, 2, 0]), config=TINY)


def test_one_training_step_lowers_the_loss():
    images, labels = separable_batch()
    config = dataclasses.replace(TINY, batch_size=8, learning_rate=0.01, head_lr_factor=1.0)
    model = torch_models.build_model("alexnet", n_classes=2, seed=0, image_size=64)

    def loss():
        proba = tt.predict_proba(model, images)
        return -np.mean(np.log(proba[np.arange(len(labels)), labels]))

    before = loss()
    tt.fit(model, images, labels, config=config, seed=0)
    assert loss() < before


def test_same_seed_gives_same_weights_and_other_seed_differs():
    images, labels = separable_batch()
    config = dataclasses.replace(TINY, augment=True)

    def trained(seed):
        model = torch_models.build_model("mobilenet_v2", seed=0, image_size=64)
        history = tt.fit(model, images, labels, config=config, seed=seed)
        assert history["iteration"] == [1, 2]
        return torch_models.head_layer(model).weight.detach().numpy().copy()

    first = trained(7)
    np.testing.assert_array_equal(first, trained(7))
    assert not np.array_equal(first, trained(8))


def test_augmentation_keeps_shape_and_dtype_and_flip_is_exact():
    images = toy_images(6, 40)
    out = tt.augment_images(images, seed=0)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)
    floats = images.astype(np.float32)
    assert tt.augment_images(floats, seed=0).dtype == np.float32
    np.testing.assert_array_equal(out, tt.augment_images(images, seed=0))

    # No translation or scale: every image is either itself or its x-mirror, both occur.
    flip_only = tt.TorchTrainConfig(translate_px=0.0, scale_range=(1.0, 1.0))
    out = tt.augment_images(floats, seed=1, config=flip_only)
    mirrored = [np.allclose(o, f[:, ::-1], atol=1e-3) for o, f in zip(out, floats)]
    same = [np.allclose(o, f, atol=1e-3) for o, f in zip(out, floats)]
    assert all(m != s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)


def test_translation_moves_pixels_by_up_to_the_set_amount():
    image = np.zeros((1, 61, 61, 1), np.float32)
    image[0, 30, 30, 0] = 1.0  # a single bright pixel at the centre
    config = tt.TorchTrainConfig(flip_x=False, translate_px=5.0, scale_range=(1.0, 1.0))
    for seed in range(5):
        out = tt.augment_images(image, seed=seed, config=config)[0, :, :, 0]
        rows, cols = np.nonzero(out > 1e-6)
        assert np.abs(rows - 30).max() <= 6 and np.abs(cols - 30).max() <= 6
        np.testing.assert_allclose(out.sum(), 1.0, atol=1e-5)  # bilinear spreads, keeps mass


def test_fit_history_validation_and_early_stop():
    images, labels = separable_batch(n=8)
    config = dataclasses.replace(TINY, batch_size=2, max_epochs=3, patience=1, learning_rate=0.0)
    # freeze=104: only the head trains.
    model = torch_models.build_model("mobilenet_v2", freeze=104, image_size=64)
    records = []
    history = tt.fit(model, images, labels, images, labels, config, log_fn=records.append)
    # lr 0: validation loss never improves after the first validation -> stop at the second.
    assert history["val_iteration"] == [4, 8] and history["stopped_early"]
    assert len(history["train_loss"]) == 8 and records[-1]["iteration"] == 8
    assert all(0.0 <= a <= 1.0 for a in history["val_acc"])
