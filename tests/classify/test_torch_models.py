"""Tests for drill_jax.classify.torch_models: heads, input sizes, arguments, freezing, storing."""

import numpy as np
import pytest
import torch

from drill_jax.classify import torch_models as tm
from drill_jax.classify import torch_train, torch_weights
from tests.classify.torch_toys import TINY, one_thread, separable_batch, toy_images  # noqa: F401


@pytest.mark.parametrize("backbone", torch_weights.BACKBONES)
def test_head_has_n_classes_outputs_for_every_backbone(backbone):
    with torch.device("meta"):  # construct only: no memory, no slow initialisation
        model = tm.build_model(backbone, n_classes=3)
    head = tm.head_layer(model)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert head is linears[-1]
    assert head.out_features == 3
    assert model.bridge_info.input_size == tm.input_size(backbone)


def test_input_sizes():
    assert tm.input_size("alexnet") == 227
    assert {tm.input_size(b) for b in torch_weights.BACKBONES if b != "alexnet"} == {224}
    with pytest.raises(ValueError, match="unknown backbone"):
        tm.input_size("resnet50")


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="weights must be one of"):
        tm.build_model("alexnet", weights="imagenet21k")
    with pytest.raises(FileNotFoundError, match="not found"):
        tm.build_model("alexnet", weights_path=str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="freeze must be"):
        tm.build_model("alexnet", freeze=8)  # 8 parameterised layers: the head can not freeze
    with pytest.raises(ValueError, match="image_size"):
        tm.build_model("alexnet", image_size=32)


def test_freeze_keeps_leading_layers_fixed():
    images, labels = separable_batch()
    model = tm.build_model("mobilenet_v2", freeze=3, image_size=64)
    frozen = [(n, m) for n, m in tm.param_layers(model)][:3]
    assert [type(m).__name__ for _, m in frozen] == ["Conv2d", "BatchNorm2d", "Conv2d"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch_train.fit(model, images, labels, config=TINY)
    after = model.state_dict()
    for name, _ in frozen:  # parameters and BatchNorm statistics unchanged
        for key in before:
            if key.startswith(name + "."):
                torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    trained = tm.param_layers(model)[3][0] + ".weight"
    assert not torch.equal(after[trained], before[trained])


def test_predict_proba_rows_sum_to_one_and_save_load_round_trip(tmp_path):
    model = tm.build_model("mobilenet_v2", n_classes=3, freeze=2, image_size=64)
    images = toy_images(5, 50)
    proba = torch_train.predict_proba(model, images, batch_size=2)
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "model.pt")
    tm.save_model(model, path)
    again = tm.load_model(path)
    assert again.bridge_info == model.bridge_info
    again_proba = torch_train.predict_proba(again, images)
    np.testing.assert_allclose(again_proba, proba, rtol=1e-5, atol=1e-6)
