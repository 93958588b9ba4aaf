"""The paper's 1-D convolutional VAE (Fig. 2) and the authors' 'reference' layout, in flax.linen.

Two layouts share one code path:

* ``arch='conv'``: real 1-D convolutions over time. A clip [B, T] becomes [B, T, 1];
  four strided Conv1D layers (downsampling) alternate with four ResNetEncoder blocks,
  a Dense layer gives ``mean`` and ``logvar``; the decoder maps z with a Dense layer to
  [B, L0, C0], then four ResNetDecoder blocks alternate with four ConvTranspose layers
  (upsampling) and the output is cropped to exactly T samples.
* ``arch='reference'``: the authors' Keras layout. A clip is a sequence of length 1 with
  T channels, every kernel has size 1 and every stride is 1, so nothing slides over
  time: the network is effectively a stack of dense layers. The last ConvTranspose has
  T output channels. Note that instance norm over a length-1 axis outputs its bias only
  (the mean of one value is that value), so the encoder blocks' residual branches carry
  a learned constant; this is what the authors' layout implies.

The decoder returns logits of a Bernoulli over the waveform mapped to [0, 1]; see
``losses.logits_to_waveform`` for the way back to [-1, 1].
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from drill_jax.vae import losses

ARCHS = ("conv", "reference")
# Keras' default (the authors' code): with flax's default lecun_normal, the reference
# layout's last layer (fan-in 64, 1999 outputs) starts as loud static noise (std ~0.3
# in waveform units) that 100 Adam steps at 3e-4 cannot remove.
KERNEL_INIT = nn.initializers.glorot_uniform()


def _phase_taps(k: int, s: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Kernel taps of each output phase of a 'SAME' transposed conv (kernel k, stride s).

    Returns (idx [taps, s] into the kernel, with k = an all-zero row; (pad_lo, pad_hi)).
    Output sample y[s q + r] is a stride-1 correlation of x with taps idx[:, r].
    """
    pad_len = k + s - 2  # lax.conv_transpose 'SAME' padding
    p = k - 1 if s > k - 1 else -(-pad_len // 2)
    hits = [(r, j, (j - p + r) // s) for r in range(s) for j in range(k) if (j - p + r) % s == 0]
    d_min = min(h[2] for h in hits)
    d_max = max(h[2] for h in hits)
    idx = np.full((d_max - d_min + 1, s), k, np.int32)
    for r, j, d in hits:
        idx[d - d_min, r] = j
    return idx, (-d_min, d_max)


class SubPixelConvTranspose(nn.Module):
    """``nn.ConvTranspose(features, (k,), strides=(s,), padding='SAME')`` on [B, L, C],
    computed as one stride-1 convolution to s * features channels and a reshape.

    Same parameters ('kernel' [k, C_in, C_out], 'bias' [C_out]) and outputs [B, L s, C_out]
    as flax's layer (tested to float32 rounding). Why: XLA:CPU computes a transposed conv's
    kernel gradient as a dilated convolution ~25x slower than this layer's (measured by
    ``experiments.benchmark``: a VAE step at batch 8 went from ~74 to ~36 ms).
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] = (1,)
    kernel_init: nn.initializers.Initializer = KERNEL_INIT
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # x: [B, L, C_in]
        (k,), (s,) = tuple(self.kernel_size), tuple(self.strides)
        c_in = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (k, c_in, self.features), jnp.float32)
        idx, pads = _phase_taps(k, s)
        w = jnp.concatenate([kernel, jnp.zeros((1, c_in, self.features), kernel.dtype)])[idx]
        w = jnp.transpose(w, (0, 2, 1, 3)).reshape(idx.shape[0], c_in, s * self.features)
        y = lax.conv_general_dilated(x, w, (1,), [pads], dimension_numbers=("NWC", "WIO", "NWC"))
        y = y.reshape(x.shape[0], x.shape[1] * s, self.features)  # [B, L, s, C] -> [B, L s, C]
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
        return y + bias.reshape(1, 1, -1)


class ResNetEncoderBlock(nn.Module):
    """Two Conv1D + InstanceNorm layers with a residual path. [B, L, C] -> [B, L, C]."""

    features: int
    kernel_size: int
    negative_slope: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # x: [B, L, C] with C == features.
        y = nn.Conv(
            self.features,
            (self.kernel_size,),
            padding="SAME",
            kernel_init=KERNEL_INIT,
            name="conv_a",
        )(x)
        y = nn.leaky_relu(nn.InstanceNorm(name="norm_a")(y), self.negative_slope)
        y = nn.Conv(
            self.features,
            (self.kernel_size,),
            padding="SAME",
            kernel_init=KERNEL_INIT,
            name="conv_b",
        )(y)
        y = nn.InstanceNorm(name="norm_b")(y)
        return nn.leaky_relu(x + y, self.negative_slope)


class ResNetDecoderBlock(nn.Module):
    """Two Conv1D + BatchNorm layers with a residual path. [B, L, C] -> [B, L, C].

    ``train=True`` normalises with the batch statistics (of the rows where ``mask`` is
    true) and updates the running averages in the ``batch_stats`` collection;
    ``train=False`` uses the running averages.
    """

    features: int
    kernel_size: int
    negative_slope: float
    momentum: float

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, mask: Optional[jax.Array] = None) -> jax.Array:
        # x: [B, L, C]; mask: [B] bool (True = real example) or None.
        norm_mask = None
        if mask is not None:
            norm_mask = jnp.broadcast_to(mask[:, None, None], x.shape)

        def norm(name):
            return nn.BatchNorm(use_running_average=not train, momentum=self.momentum, name=name)

        y = nn.Conv(
            self.features,
            (self.kernel_size,),
            padding="SAME",
            kernel_init=KERNEL_INIT,
            name="conv_a",
        )(x)
        y = nn.leaky_relu(norm("norm_a")(y, mask=norm_mask), self.negative_slope)
        y = nn.Conv(
            self.features,
            (self.kernel_size,),
            padding="SAME",
            kernel_init=KERNEL_INIT,
            name="conv_b",
        )(y)
        y = norm("norm_b")(y, mask=norm_mask)
        return nn.leaky_relu(x + y, self.negative_slope)


class Encoder(nn.Module):
    """Conv1D (strided) + ResNetEncoder blocks, then Dense to (mean, logvar).

    [B, L, C_in] -> ([B, latent_dim], [B, latent_dim]).
    """

    latent_dim: int
    features: Sequence[int]
    strides: Sequence[int]
    kernel_size: int
    block_kernel_size: int
    negative_slope: float

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        # x: [B, L, C_in]
        for i, (width, stride) in enumerate(zip(self.features, self.strides)):
            x = nn.Conv(
                width,
                (self.kernel_size,),
                strides=(stride,),
                padding="SAME",
                kernel_init=KERNEL_INIT,
                name=f"down{i}",
            )(x)
            x = nn.leaky_relu(x, self.negative_slope)  # [B, ceil(L / stride), width]
            x = ResNetEncoderBlock(
                width, self.block_kernel_size, self.negative_slope, name=f"block{i}"
            )(x)
        x = x.reshape((x.shape[0], -1))  # [B, L_last * C_last]
        stats = nn.Dense(2 * self.latent_dim, kernel_init=KERNEL_INIT, name="to_stats")(
            x
        )  # [B, 2 Z]
        mean, logvar = jnp.split(stats, 2, axis=-1)
        return mean, logvar


class Decoder(nn.Module):
    """Dense from z, then ResNetDecoder blocks + ConvTranspose (upsampling).

    [B, latent_dim] -> logits [B, start_length * prod(strides), out_channels].
    """

    start_length: int
    out_channels: int
    features: Sequence[int]
    strides: Sequence[int]
    kernel_size: int
    block_kernel_size: int
    negative_slope: float
    momentum: float

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, mask: Optional[jax.Array] = None) -> jax.Array:
        # z: [B, Z]
        width0 = self.features[0]
        x = nn.Dense(self.start_length * width0, kernel_init=KERNEL_INIT, name="from_z")(z)
        x = nn.leaky_relu(x, self.negative_slope).reshape((z.shape[0], self.start_length, width0))
        outs = tuple(self.features[1:]) + (self.out_channels,)
        for i, (width, out, stride) in enumerate(zip(self.features, outs, self.strides)):
            x = ResNetDecoderBlock(
                width,
                self.block_kernel_size,
                self.negative_slope,
                self.momentum,
                name=f"block{i}",
            )(x, train, mask)
            x = SubPixelConvTranspose(
                out,
                (self.kernel_size,),
                strides=(stride,),
                name=f"up{i}",
            )(x)  # [B, L * stride, out]
            if i < len(self.features) - 1:
                x = nn.leaky_relu(x, self.negative_slope)
        return x


class VAE(nn.Module):
    """Variational autoencoder over clips of ``input_length`` samples. Every field is
    required: the defaults live in ``configs.NetworkConfig`` (``trainer.make_model``).

    Attributes:
      latent_dim: size of z (paper: 2).
      arch: 'conv' (1-D convolutions over time) or 'reference' (the authors' layout:
        length-1 axis with input_length channels, kernel size 1, stride 1).
      input_length: samples per clip T (paper: 1999).
      enc_features / dec_features: channel widths of the four encoder and decoder
        stages (authors: 64,128,128,256 and 512,256,128,64).
      enc_strides / dec_strides: downsampling / upsampling factors ('conv' only; the
        product of dec_strides times the decoder start length must reach T, the
        excess is cropped). Default 4 per stage: 1999 -> 500 -> 125 -> 32 -> 8 and
        8 -> 32 -> 128 -> 512 -> 2048 -> crop to 1999. (Stride 2 per stage as in
        Keras would leave 125-sample maps at 256-512 channels: ~8x the compute.)
      kernel_size: kernel of the strided Conv / ConvTranspose layers ('conv' only).
      block_kernel_size: kernel of the convolutions inside residual blocks ('conv' only).
      negative_slope: LeakyReLU slope (authors: 0.4).
      bn_momentum: running-average momentum of the decoder's batch norm. 0.9 (not
        Keras' 0.99) because one class VAE takes only ~100 steps in total.
    """

    latent_dim: int
    arch: str
    input_length: int
    enc_features: Sequence[int]
    dec_features: Sequence[int]
    enc_strides: Sequence[int]
    dec_strides: Sequence[int]
    kernel_size: int
    block_kernel_size: int
    negative_slope: float
    bn_momentum: float

    def setup(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.latent_dim < 1 or self.input_length < 1:
            raise ValueError(
                f"latent_dim and input_length must be positive, got "
                f"{self.latent_dim}, {self.input_length}"
            )
        if len(self.enc_features) != len(self.enc_strides) or len(self.dec_features) != len(
            self.dec_strides
        ):
            raise ValueError("each stage needs one width and one stride")
        if self.arch == "conv":
            start = math.ceil(self.input_length / math.prod(self.dec_strides))
            self.encoder = Encoder(
                self.latent_dim,
                self.enc_features,
                self.enc_strides,
                self.kernel_size,
                self.block_kernel_size,
                self.negative_slope,
            )
            self.decoder = Decoder(
                start,
                1,
                self.dec_features,
                self.dec_strides,
                self.kernel_size,
                self.block_kernel_size,
                self.negative_slope,
                self.bn_momentum,
            )
        else:
            ones = (1,) * len(self.enc_features)
            self.encoder = Encoder(
                self.latent_dim, self.enc_features, ones, 1, 1, self.negative_slope
            )
            self.decoder = Decoder(
                1,
                self.input_length,
                self.dec_features,
                (1,) * len(self.dec_features),
                1,
                1,
                self.negative_slope,
                self.bn_momentum,
            )

    def _to_sequence(self, x: jax.Array) -> jax.Array:
        # [B, T] -> [B, T, 1] ('conv') or [B, 1, T] ('reference')
        if x.ndim != 2 or x.shape[1] != self.input_length:
            raise ValueError(f"expected clips [B, {self.input_length}], got shape {x.shape}")
        return x[:, :, None] if self.arch == "conv" else x[:, None, :]

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Posterior parameters. x [B, T] in [-1, 1] -> (mean, logvar), each [B, Z]."""
        return self.encoder(self._to_sequence(x))

    def decode(self, z: jax.Array, train: bool = False, mask: Optional[jax.Array] = None):
        """Bernoulli logits of the [0, 1]-mapped waveform. z [B, Z] -> [B, T]."""
        y = self.decoder(z, train, mask)
        y = y[:, : self.input_length, 0] if self.arch == "conv" else y[:, 0, :]
        return y

    def __call__(
        self, x: jax.Array, key: jax.Array, train: bool = False, mask: Optional[jax.Array] = None
    ):
        """x [B, T], key -> (logits [B, T], z [B, Z], mean [B, Z], logvar [B, Z])."""
        mean, logvar = self.encode(x)
        z = losses.reparameterize(key, mean, logvar)
        return self.decode(z, train, mask), z, mean, logvar


def init_variables(model: VAE, key: jax.Array, batch_size: int = 1) -> dict:
    """Initial {'params', 'batch_stats'} of ``model`` for clips [batch_size, input_length].

    Compiled once per (model, batch_size), at XLA backend optimisation level 0: the init
    graph (one threefry draw per layer) runs once but compiles ~3x faster that way.
    """
    return _compiled_init(model, batch_size)(key)


@functools.lru_cache(maxsize=16)
def _compiled_init(model: VAE, batch_size: int):
    def init(key):
        x = jnp.zeros((batch_size, model.input_length), jnp.float32)
        return model.init({"params": key}, x, jax.random.key(0), train=False)

    return (
        jax.jit(init)
        .lower(jax.random.key(0))
        .compile(compiler_options={"xla_backend_optimization_level": 0})
    )
