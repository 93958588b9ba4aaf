"""PyTorch eager twin of the conv VAE: the speed reference of ``experiments.benchmark``.

Only the benchmark uses it (with the torchvision bridge, the only modules that import torch).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from drill_jax.vae.configs import NetworkConfig, OptimConfig

# A PyTorch eager implementation of drill_jax.vae.networks.VAE(arch='conv'), used only as the speed
# reference of experiments.benchmark (the code a user would otherwise write). Same widths,
# kernels, strides, 'SAME' padding, InstanceNorm (encoder) / BatchNorm (decoder) residual
# blocks, LeakyReLU, Bernoulli (BCE) reconstruction + analytic KL, Adam. Not numerically
# identical to the flax model (different initialisation and channel order of the flattened
# maps); decoder batch norm uses every row (no padding mask).


def device() -> torch.device:
    """CUDA when torch sees a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _same_padding(length: int, kernel: int, stride: int) -> tuple:
    """(left, right) zero padding of TF/flax 'SAME': output ceil(length / stride)."""
    out = -(-length // stride)
    total = max((out - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


class _TorchEncoderBlock(nn.Module):
    """Two Conv1d + InstanceNorm1d with a residual path. [B, C, L] -> [B, C, L]."""

    def __init__(self, width: int, kernel: int, slope: float):
        super().__init__()
        self.conv_a = nn.Conv1d(width, width, kernel, padding="same")
        self.norm_a = nn.InstanceNorm1d(width, eps=1e-6, affine=True)
        self.conv_b = nn.Conv1d(width, width, kernel, padding="same")
        self.norm_b = nn.InstanceNorm1d(width, eps=1e-6, affine=True)
        self.slope = slope

    def forward(self, x):
        y = nn.functional.leaky_relu(self.norm_a(self.conv_a(x)), self.slope)
        y = self.norm_b(self.conv_b(y))
        return nn.functional.leaky_relu(x + y, self.slope)


class _TorchDecoderBlock(nn.Module):
    """Two Conv1d + BatchNorm1d with a residual path. [B, C, L] -> [B, C, L]."""

    def __init__(self, width: int, kernel: int, slope: float, momentum: float):
        super().__init__()
        self.conv_a = nn.Conv1d(width, width, kernel, padding="same")
        self.norm_a = nn.BatchNorm1d(width, eps=1e-5, momentum=1.0 - momentum)
        self.conv_b = nn.Conv1d(width, width, kernel, padding="same")
        self.norm_b = nn.BatchNorm1d(width, eps=1e-5, momentum=1.0 - momentum)
        self.slope = slope

    def forward(self, x):
        y = nn.functional.leaky_relu(self.norm_a(self.conv_a(x)), self.slope)
        y = self.norm_b(self.conv_b(y))
        return nn.functional.leaky_relu(x + y, self.slope)


class TorchConvVAE(nn.Module):
    """PyTorch twin of ``vae.VAE(arch='conv')``: clips [B, T] -> (logits [B, T], mean, logvar).

    Encoder: per stage a strided Conv1d ('SAME' padding, output ceil(L / stride)) +
    LeakyReLU + encoder block; Linear to (mean, logvar) [B, 2 Z]. Decoder: Linear from z to
    [B, C0, ceil(T / prod(strides))], per stage a decoder block + ConvTranspose1d (length x
    stride), LeakyReLU between stages, crop to T. The layout is ``network``'s (arch 'conv').
    """

    def __init__(self, network: NetworkConfig = NetworkConfig()):
        super().__init__()
        if network.arch != "conv":
            raise ValueError(
                f"the PyTorch reference exists for arch='conv' only, got {network.arch!r}"
            )
        a = network
        self.input_length, self.latent_dim = a.input_length, a.latent_dim
        self.slope = a.negative_slope
        self.enc_pads, self.down, self.enc_blocks = [], nn.ModuleList(), nn.ModuleList()
        length, c_in = a.input_length, 1
        for width, stride in zip(a.enc_features, a.strides):
            self.enc_pads.append(_same_padding(length, a.kernel_size, stride))
            self.down.append(nn.Conv1d(c_in, width, a.kernel_size, stride=stride))
            self.enc_blocks.append(_TorchEncoderBlock(width, a.block_kernel_size, self.slope))
            length, c_in = -(-length // stride), width
        self.to_stats = nn.Linear(length * c_in, 2 * a.latent_dim)
        dec_strides = tuple(reversed(a.strides))
        self.start = -(-a.input_length // int(np.prod(dec_strides)))
        self.dec_width0 = a.dec_features[0]
        self.from_z = nn.Linear(a.latent_dim, self.start * self.dec_width0)
        self.dec_blocks, self.up = nn.ModuleList(), nn.ModuleList()
        outs = tuple(a.dec_features[1:]) + (1,)
        for width, out, stride in zip(a.dec_features, outs, dec_strides):
            self.dec_blocks.append(
                _TorchDecoderBlock(width, a.block_kernel_size, self.slope, a.bn_momentum)
            )
            # 'SAME' transposed convolution: output exactly length * stride.
            pad = -(-(a.kernel_size - stride) // 2)
            extra = 2 * pad - (a.kernel_size - stride)
            self.up.append(
                nn.ConvTranspose1d(
                    width, out, a.kernel_size, stride=stride, padding=pad, output_padding=extra
                )
            )

    def encode(self, x):
        """[B, T] -> (mean [B, Z], logvar [B, Z])."""
        h = x[:, None, :]
        for pad, down, block in zip(self.enc_pads, self.down, self.enc_blocks):
            h = block(nn.functional.leaky_relu(down(nn.functional.pad(h, pad)), self.slope))
        stats = self.to_stats(h.flatten(1))
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def decode(self, z):
        """[B, Z] -> logits [B, T]."""
        h = nn.functional.leaky_relu(self.from_z(z), self.slope)
        h = h.reshape(z.shape[0], self.dec_width0, self.start)
        last = len(self.up) - 1
        for i, (block, up) in enumerate(zip(self.dec_blocks, self.up)):
            h = up(block(h))
            if i < last:
                h = nn.functional.leaky_relu(h, self.slope)
        return h[:, 0, : self.input_length]

    def forward(self, x, eps):
        """x [B, T] in [-1, 1], eps [B, Z] ~ N(0, I) -> (logits [B, T], mean, logvar)."""
        mean, logvar = self.encode(x)
        z = mean + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mean, logvar


def torch_vae_loss(model: TorchConvVAE, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of BCE(logits, (x + 1) / 2) summed over T + analytic KL (nats)."""
    logits, mean, logvar = model(x, eps)
    recon = nn.functional.binary_cross_entropy_with_logits(
        logits, 0.5 * (x + 1.0), reduction="none"
    ).sum(dim=1)
    kl = 0.5 * torch.sum(torch.exp(logvar) + mean**2 - 1.0 - logvar, dim=1)
    return torch.mean(recon + kl)


def make_torch_vae(
    network: NetworkConfig, seed: int = 0, learning_rate: float = OptimConfig.learning_rate
) -> tuple:
    """(TorchConvVAE(network) on ``device()``, in train mode, seeded; its Adam optimizer with
    ``OptimConfig``'s moment decays and offset at ``learning_rate``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TorchConvVAE(network).to(device())
    model.train()
    adam = OptimConfig(learning_rate=learning_rate)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=adam.learning_rate, betas=(adam.b1, adam.b2), eps=adam.eps
    )
    return model, optimizer


def torch_vae_train_step(
    model: TorchConvVAE, optimizer: torch.optim.Optimizer, x: np.ndarray, eps: np.ndarray
) -> float:
    """One eager Adam step on clips x [B, T] with noise eps [B, Z] (NumPy). Returns the loss."""
    dev = next(model.parameters()).device
    xt = torch.as_tensor(np.asarray(x, np.float32), device=dev)
    et = torch.as_tensor(np.asarray(eps, np.float32), device=dev)
    optimizer.zero_grad(set_to_none=True)
    loss = torch_vae_loss(model, xt, et)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
