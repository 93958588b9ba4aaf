"""Tests for drill_jax.classify.torch_weights: state_dict files and ImageNet weights, offline."""

import dataclasses
import os
import urllib.error

import numpy as np
import pytest
import torch
import torchvision

from drill_jax.classify import torch_models, torch_train
from drill_jax.classify import torch_weights as tw


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared, busy CPU it is many times faster than one per core."""
    previous = torch_train.set_num_threads(1)
    yield
    torch_train.set_num_threads(previous)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """An empty $TORCH_HOME and downloads that fail at once, as on an offline machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch_home"


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

    model = torch_models.build_model("mobilenet_v2", n_classes=2, weights_path=path, seed=5)
    loaded = model.state_dict()
    head = torch_models._HEAD["mobilenet_v2"]
    for key, value in state.items():
        if not key.startswith(head):
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    # Head: new, 2 outputs, the same fresh initialisation as a from-scratch model with this seed.
    assert loaded[f"{head}.weight"].shape == (2, 1280)
    scratch = torch_models.build_model("mobilenet_v2", n_classes=2, seed=5).state_dict()
    torch.testing.assert_close(loaded[f"{head}.weight"], scratch[f"{head}.weight"])
    assert model.bridge_info.weights == "file"

    # A state_dict of another network is refused with the keys named.
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=r"missing keys \['features\.0\.0\.weight'"):
        torch_models.build_model("mobilenet_v2", weights_path=path)


def test_imagenet_offline_without_cache_names_the_three_options(empty_torch_home):
    with pytest.raises(tw.WeightsUnavailableError) as info:
        torch_models.build_model("alexnet", weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    for option in ("--weights=imagenet", "--weights_path=FILE", "--weights=none"):
        assert option in message
    assert "alexnet-owt-7be5be79.pth" in message and "hub/checkpoints" in message
    assert isinstance(info.value, ValueError)  # experiments.common.run_main prints one line


needs_offline_mobilenet = pytest.mark.skipif(
    tw.offline_weights_file("mobilenet_v2") is None,
    reason=f"offline MobileNetV2 weights not installed ({tw.OFFLINE_WEIGHTS_PIP})",
)


@needs_offline_mobilenet
def test_mobilenet_v2_imagenet_loads_offline_and_recognises_an_image(empty_torch_home):
    import matplotlib.cbook
    from PIL import Image

    assert tw.sha256_prefix_ok(tw.offline_weights_file("mobilenet_v2"))
    state = tw.imagenet_state_dict("mobilenet_v2")  # copies into the empty cache, no network
    assert os.listdir(empty_torch_home / "hub" / "checkpoints") == ["mobilenet_v2-b0353104.pth"]

    model = torch_models.build_model("mobilenet_v2", weights="imagenet")
    loaded = model.state_dict()
    torch.testing.assert_close(loaded["features.0.0.weight"], state["features.0.0.weight"])
    assert torch_models.head_layer(model).out_features == 2

    # The full ImageNet network, fed through the bridge's preprocessing, sees Grace Hopper's
    # bow tie and uniform (torchvision's documented example image, shipped with matplotlib).
    full = torchvision.models.mobilenet_v2(weights=None)
    full.load_state_dict(state)
    full.bridge_info = dataclasses.replace(model.bridge_info, n_classes=1000)
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = np.asarray(Image.open(path).convert("RGB"))[44:556, :512][None]  # centre square
    top5 = np.argsort(torch_train.predict_proba(full, image)[0])[::-1][:5]
    assert {457, 652} <= set(top5.tolist())  # 'bow tie', 'military uniform'
