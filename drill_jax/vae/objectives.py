"""The loss a VAE training step minimises, chosen by a static ``LossSpec``.

* recon 'bce' / 'mse': the paper's ELBO (``losses.elbo_terms``), unchanged when
  kl_weight = 1, kl_warmup_steps = 0 and free_bits = 0 (the defaults).
* recon 'stft': the multi-resolution STFT loss (``spectral_loss``; 'stft_band' adds its log
  band-power term over ``BAND_BINS`` bins) on the decoded
  waveform (decoder logits through ``losses.logits_to_waveform``, or the decoder's own
  waveform when ``output == 'waveform'``, as the noise-shaping decoder gives).

KL regularisation (any recon): weight ``kl_weight``, ramped linearly from 0 over the
first ``kl_warmup_steps`` steps (KL warm-up), and free bits: each latent dimension's KL
counts at least ``free_bits`` nats (analytic KL; with 'mc' the sum counts at least
Z free_bits), so the optimiser gains nothing by pushing a dimension below it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from drill_jax.vae import losses, spectral_loss

RECONS = losses.RECONS + ("stft", "stft_band")
# recon 'stft_band': 'stft' plus the log band-power L1 over groups of this many bins.
BAND_BINS = 8
OUTPUTS = ("logits", "waveform")


class LossSpec(NamedTuple):
    """The loss a step computes (static: part of the compiled step's identity)."""

    recon: str
    kl: str
    mse_sigma: float
    output: str = "logits"
    fft_sizes: tuple = (64, 128, 256, 512, 1024)
    sc_weight: float = 1.0
    kl_weight: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0


def kl_per_dim(mean: jnp.ndarray, logvar: jnp.ndarray) -> jnp.ndarray:
    """Analytic KL(N(mean, exp(logvar)) || N(0, 1)) per dimension. [B, Z] -> [B, Z] nats."""
    return 0.5 * (jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar)


def kl_scale(spec: LossSpec, step: jnp.ndarray) -> jnp.ndarray:
    """kl_weight * min(1, (step + 1) / kl_warmup_steps) (kl_weight when no warm-up). []."""
    if spec.kl_warmup_steps <= 0:
        return jnp.asarray(spec.kl_weight, jnp.float32)
    ramp = jnp.minimum(1.0, (step.astype(jnp.float32) + 1.0) / spec.kl_warmup_steps)
    return spec.kl_weight * ramp


def terms(spec: LossSpec, out, x, z, mean, logvar, step) -> dict:
    """Per-example terms: {'recon', 'kl' (unweighted), 'loss' (minimised), 'elbo'}, each [B].

    out: decoder output [B, T] (logits or waveform, per ``spec.output``); x: clips [B, T];
    z, mean, logvar: [B, Z]; step: [] int, the optimiser step (warm-up).
    For 'stft', 'elbo' is -(recon + kl): a score, not a likelihood bound.
    """
    if spec.output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {spec.output!r}")
    if spec.recon in ("stft", "stft_band"):
        wave = out if spec.output == "waveform" else losses.logits_to_waveform(out)
        bins = BAND_BINS if spec.recon == "stft_band" else 0
        rec = spectral_loss.multi_resolution_stft_loss(
            wave, x, spec.fft_sizes, spec.sc_weight, band_bins=bins
        )
        kl = losses.analytic_kl(mean, logvar) if spec.kl == "analytic" else None
        if kl is None:
            kl = losses.mc_kl(z, mean, logvar)
        base = {"recon": rec, "kl": kl, "loss": rec + kl, "elbo": -(rec + kl)}
    else:
        if spec.output != "logits":
            raise ValueError(f"recon {spec.recon!r} needs decoder logits, not a waveform")
        base = losses.elbo_terms(out, x, z, mean, logvar, spec.recon, spec.kl, spec.mse_sigma)
    default = spec.kl_weight == 1.0 and spec.kl_warmup_steps <= 0 and spec.free_bits <= 0
    if default:
        return base
    kl = base["kl"]
    if spec.free_bits > 0:
        if spec.kl == "analytic":
            kl = jnp.sum(jnp.maximum(kl_per_dim(mean, logvar), spec.free_bits), axis=-1)
        else:
            kl = jnp.maximum(kl, spec.free_bits * mean.shape[-1])
    return dict(base, loss=base["recon"] + kl_scale(spec, step) * kl)
