"""Tests for drill_jax.torch_bridge: heads, weights sources, training step, augmentation."""

import dataclasses
import os
import urllib.error

import numpy as np
import pytest
import torch
import torchvision

from drill_jax.classify import torch_bridge as tb

TINY = tb.TorchTrainConfig(batch_size=4, max_epochs=1, augment=False)


def _images(n, size, seed=0):
    """Random uint8 RGB images [n, size, size, 3]."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _separable_batch(n=8, size=32):
    """Two classes that differ by brightness: class 1 bright, class 0 dark."""
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 2
    base = np.where(labels[:, None, None, None] == 1, 200, 40)
    noise = rng.integers(-30, 30, (n, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8), labels


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared, busy CPU it is many times faster than one per core."""
    previous = tb.set_num_threads(1)
    yield
    tb.set_num_threads(previous)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """An empty $TORCH_HOME and downloads that fail at once, as on an offline machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch_home"


@pytest.mark.parametrize("backbone", tb.BACKBONES)
def test_head_has_n_classes_outputs_for_every_backbone(backbone):
    with torch.device("meta"):  # construct only: no memory, no slow initialisation
        model = tb.build_model(backbone, n_classes=3)
    head = tb.head_layer(model)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert head is linears[-1]
    assert head.out_features == 3
    assert model.bridge_info.input_size == tb.input_size(backbone)


@pytest.mark.parametrize("backbone", ["alexnet", "mobilenet_v2"])
def test_forward_gives_n_classes_probabilities(backbone):
    model = tb.build_model(backbone, n_classes=2)
    proba = tb.predict_proba(model, _images(1, 227))
    assert proba.shape == (1, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_input_sizes():
    assert tb.input_size("alexnet") == 227
    assert {tb.input_size(b) for b in tb.BACKBONES if b != "alexnet"} == {224}
    assert tb.images_to_inputs(_images(2, 100), "mobilenet_v2").shape == (2, 3, 224, 224)
    with pytest.raises(ValueError, match="unknown backbone"):
        tb.input_size("resnet50")


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="weights must be one of"):
        tb.build_model("alexnet", weights="imagenet21k")
    with pytest.raises(FileNotFoundError, match="not found"):
        tb.build_model("alexnet", weights_path=str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="freeze must be"):
        tb.build_model("alexnet", freeze=8)  # 8 parameterised layers: the head can not freeze
    with pytest.raises(ValueError, match="image_size"):
        tb.build_model("alexnet", image_size=32)
    model = tb.build_model("mobilenet_v2", image_size=64)
    with pytest.raises(ValueError, match="uint8"):
        tb.predict_proba(model, _images(1, 32).astype(np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tb.fit(model, _images(4, 32), np.array([0, 1, 2, 0]), config=TINY)


def test_weights_path_loads_backbone_and_gives_fresh_head(tmp_path):
    # An "ImageNet-like" 1000-class state_dict with known tensors.
    source = torchvision.models.mobilenet_v2(weights=None, num_classes=1000)
    state = source.state_dict()
    generator = torch.Generator().manual_seed(3)
    for key, value in state.items():
        if value.is_floating_point():
            state[key] = torch.rand(value.shape, generator=generator)
    path = str(tmp_path / "weights.pth")
    torch.save(state, path)

    model = tb.build_model("mobilenet_v2", n_classes=2, weights_path=path, seed=5)
    loaded = model.state_dict()
    head = tb._HEAD["mobilenet_v2"]
    for key, value in state.items():
        if not key.startswith(head):
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    # Head: new, 2 outputs, the same fresh initialisation as a from-scratch model with this seed.
    assert loaded[f"{head}.weight"].shape == (2, 1280)
    scratch = tb.build_model("mobilenet_v2", n_classes=2, seed=5).state_dict()
    torch.testing.assert_close(loaded[f"{head}.weight"], scratch[f"{head}.weight"])
    assert model.bridge_info.weights == "file"

    # A state_dict of another network is refused with the keys named.
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=r"missing keys \['features\.0\.0\.weight'"):
        tb.build_model("mobilenet_v2", weights_path=path)


def test_imagenet_offline_without_cache_names_the_three_options(empty_torch_home):
    with pytest.raises(tb.WeightsUnavailableError) as info:
        tb.build_model("alexnet", weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    for option in ("--weights=imagenet", "--weights_path=FILE", "--weights=none"):
        assert option in message
    assert "alexnet-owt-7be5be79.pth" in message and "hub/checkpoints" in message
    assert isinstance(info.value, ValueError)  # experiments.common.run_main prints one line


needs_offline_mobilenet = pytest.mark.skipif(
    tb.offline_weights_file("mobilenet_v2") is None,
    reason=f"offline MobileNetV2 weights not installed ({tb.OFFLINE_WEIGHTS_PIP})",
)


@needs_offline_mobilenet
def test_mobilenet_v2_imagenet_loads_offline_and_recognises_an_image(empty_torch_home):
    import matplotlib.cbook
    from PIL import Image

    assert tb.sha256_prefix_ok(tb.offline_weights_file("mobilenet_v2"))
    state = tb.imagenet_state_dict("mobilenet_v2")  # copies into the empty cache, no network
    assert os.listdir(empty_torch_home / "hub" / "checkpoints") == ["mobilenet_v2-b0353104.pth"]

    model = tb.build_model("mobilenet_v2", weights="imagenet")
    loaded = model.state_dict()
    torch.testing.assert_close(loaded["features.0.0.weight"], state["features.0.0.weight"])
    assert tb.head_layer(model).out_features == 2

    # The full ImageNet network, fed through the bridge's preprocessing, sees Grace Hopper's
    # bow tie and uniform (torchvision's documented example image, shipped with matplotlib).
    full = torchvision.models.mobilenet_v2(weights=None)
    full.load_state_dict(state)
    full.bridge_info = dataclasses.replace(model.bridge_info, n_classes=1000)
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = np.asarray(Image.open(path).convert("RGB"))[44:556, :512][None]  # centre square
    top5 = np.argsort(tb.predict_proba(full, image)[0])[::-1][:5]
    assert {457, 652} <= set(top5.tolist())  # 'bow tie', 'military uniform'


def test_one_training_step_lowers_the_loss():
    images, labels = _separable_batch()
    config = dataclasses.replace(TINY, batch_size=8, learning_rate=0.01, head_lr_factor=1.0)
    model = tb.build_model("alexnet", n_classes=2, seed=0, image_size=64)

    def loss():
        proba = tb.predict_proba(model, images)
        return -np.mean(np.log(proba[np.arange(len(labels)), labels]))

    before = loss()
    tb.fit(model, images, labels, config=config, seed=0)
    assert loss() < before


def test_same_seed_gives_same_weights_and_other_seed_differs():
    images, labels = _separable_batch()
    config = dataclasses.replace(TINY, augment=True)

    def trained(seed):
        model = tb.build_model("mobilenet_v2", seed=0, image_size=64)
        history = tb.fit(model, images, labels, config=config, seed=seed)
        assert history["iteration"] == [1, 2]
        return tb.head_layer(model).weight.detach().numpy().copy()

    first = trained(7)
    np.testing.assert_array_equal(first, trained(7))
    assert not np.array_equal(first, trained(8))


def test_freeze_keeps_leading_layers_fixed():
    images, labels = _separable_batch()
    model = tb.build_model("mobilenet_v2", freeze=3, image_size=64)
    frozen = [(n, m) for n, m in tb.param_layers(model)][:3]
    assert [type(m).__name__ for _, m in frozen] == ["Conv2d", "BatchNorm2d", "Conv2d"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tb.fit(model, images, labels, config=TINY)
    after = model.state_dict()
    for name, _ in frozen:  # parameters and BatchNorm statistics unchanged
        for key in before:
            if key.startswith(name + "."):
                torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    trained = tb.param_layers(model)[3][0] + ".weight"
    assert not torch.equal(after[trained], before[trained])


def test_augmentation_keeps_shape_and_dtype_and_flip_is_exact():
    images = _images(6, 40)
    out = tb.augment_images(images, seed=0)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)
    floats = images.astype(np.float32)
    assert tb.augment_images(floats, seed=0).dtype == np.float32
    np.testing.assert_array_equal(out, tb.augment_images(images, seed=0))

    # No translation or scale: every image is either itself or its x-mirror, both occur.
    flip_only = tb.TorchTrainConfig(translate_px=0.0, scale_range=(1.0, 1.0))
    out = tb.augment_images(floats, seed=1, config=flip_only)
    mirrored = [np.allclose(o, f[:, ::-1], atol=1e-3) for o, f in zip(out, floats)]
    same = [np.allclose(o, f, atol=1e-3) for o, f in zip(out, floats)]
    assert all(m != s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)


def test_translation_moves_pixels_by_up_to_the_set_amount():
    image = np.zeros((1, 61, 61, 1), np.float32)
    image[0, 30, 30, 0] = 1.0  # a single bright pixel at the centre
    config = tb.TorchTrainConfig(flip_x=False, translate_px=5.0, scale_range=(1.0, 1.0))
    for seed in range(5):
        out = tb.augment_images(image, seed=seed, config=config)[0, :, :, 0]
        rows, cols = np.nonzero(out > 1e-6)
        assert np.abs(rows - 30).max() <= 6 and np.abs(cols - 30).max() <= 6
        np.testing.assert_allclose(out.sum(), 1.0, atol=1e-5)  # bilinear spreads, keeps mass


def test_fit_history_validation_and_early_stop(tmp_path):
    images, labels = _separable_batch(n=8)
    config = dataclasses.replace(TINY, batch_size=2, max_epochs=3, patience=1, learning_rate=0.0)
    model = tb.build_model("mobilenet_v2", freeze=104, image_size=64)  # only the head trains
    records = []
    history = tb.fit(model, images, labels, images, labels, config, log_fn=records.append)
    # lr 0: validation loss never improves after the first validation -> stop at the second.
    assert history["val_iteration"] == [4, 8] and history["stopped_early"]
    assert len(history["train_loss"]) == 8 and records[-1]["iteration"] == 8
    assert all(0.0 <= a <= 1.0 for a in history["val_acc"])
    tb.plot_history(history, str(tmp_path / "curves.png"))
    with open(tmp_path / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_predict_proba_rows_sum_to_one_and_save_load_round_trip(tmp_path):
    model = tb.build_model("mobilenet_v2", n_classes=3, freeze=2, image_size=64)
    images = _images(5, 50)
    proba = tb.predict_proba(model, images, batch_size=2)
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "model.pt")
    tb.save_model(model, path)
    again = tb.load_model(path)
    assert again.bridge_info == model.bridge_info
    np.testing.assert_allclose(tb.predict_proba(again, images), proba, rtol=1e-5, atol=1e-6)
