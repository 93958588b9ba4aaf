"""Tests for drill_jax.bench.torch_reference: the PyTorch eager VAE, the benchmark's baseline."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from drill_jax.bench import torch_reference  # noqa: E402
from drill_jax.vae import configs, trainer  # noqa: E402

# Small widths keep the test fast; the length is the paper's 1999 samples.
SMALL = trainer.NetworkConfig(
    input_length=1999,
    latent_dim=2,
    enc_features=(4, 8, 8, 8),
    dec_features=(8, 8, 8, 4),
    strides=(4, 4, 4, 4),
    kernel_size=8,
    block_kernel_size=3,
)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (6, 1999)).astype(np.float32)
    eps = rng.standard_normal((6, 2)).astype(np.float32)
    return x, eps


def test_same_padding_matches_flax_rule():
    # 'SAME': output ceil(L / s); total padding (out - 1) s + k - L, the extra sample right.
    assert torch_reference._same_padding(1999, 8, 4) == (2, 3)
    assert torch_reference._same_padding(500, 8, 4) == (2, 2)
    assert torch_reference._same_padding(32, 8, 4) == (2, 2)


def test_output_shapes(batch):
    x, eps = batch
    model, _ = torch_reference.make_torch_vae(SMALL)
    with torch.no_grad():
        logits, mean, logvar = model(torch.as_tensor(x), torch.as_tensor(eps))
    assert tuple(logits.shape) == (6, 1999)
    assert tuple(mean.shape) == tuple(logvar.shape) == (6, 2)
    assert model.start == 8  # ceil(1999 / 256): 8 -> 32 -> 128 -> 512 -> 2048, cropped


def test_same_parameter_count_as_the_flax_vae():
    """Same layers, widths and kernels as vae.VAE(arch='conv') => same number of parameters."""
    config = trainer.VAEConfig(network=SMALL)
    model = trainer.make_model(config)
    shapes = jax.eval_shape(
        lambda: model.init(
            {"params": jax.random.key(0)}, jnp.zeros((2, 1999)), jax.random.key(1), train=False
        )
    )
    flax_count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))
    torch_model, _ = torch_reference.make_torch_vae(SMALL)
    assert sum(p.numel() for p in torch_model.parameters()) == flax_count


def test_loss_finite_and_one_step_lowers_it(batch):
    x, eps = batch
    model, optimizer = torch_reference.make_torch_vae(SMALL, seed=1, learning_rate=1e-3)
    xt, et = torch.as_tensor(x), torch.as_tensor(eps)
    with torch.no_grad():
        before = float(torch_reference.torch_vae_loss(model, xt, et))
    assert np.isfinite(before)
    # The loss is per sound in nats: at least the BCE of 1999 samples' targets' entropy.
    assert before > 1000.0
    step_loss = torch_reference.torch_vae_train_step(model, optimizer, x, eps)
    assert step_loss == pytest.approx(before, rel=1e-3)  # reports the pre-update loss
    with torch.no_grad():
        after = float(torch_reference.torch_vae_loss(model, xt, et))
    assert np.isfinite(after) and after < before


def test_rejects_a_layout_other_than_conv():
    with pytest.raises(ValueError, match="arch='conv' only"):
        torch_reference.TorchConvVAE(dataclasses.replace(SMALL, arch="reference"))


def test_defaults_are_the_vae_configs():
    """The twin restates no default: its layout is NetworkConfig's, its Adam OptimConfig's."""
    paper = configs.NetworkConfig()
    model = torch_reference.TorchConvVAE()
    assert [m.out_channels for m in model.down] == list(paper.enc_features)
    assert [m.stride[0] for m in model.down] == list(paper.strides)
    assert [m.kernel_size[0] for m in model.down] == [paper.kernel_size] * len(paper.strides)
    assert model.latent_dim == paper.latent_dim and model.slope == paper.negative_slope
    adam = configs.OptimConfig()
    group = torch_reference.make_torch_vae(SMALL)[1].param_groups[0]
    assert group["lr"] == adam.learning_rate and group["eps"] == adam.eps
    assert tuple(group["betas"]) == (adam.b1, adam.b2)
