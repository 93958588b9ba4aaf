"""Label-free ``vae``: ``drill_jax.vae`` trained on normal clips only; score = negative ELBO in
nats per clip or the reconstruction MSE, computed deterministically at the posterior mean
z = mu(x) with the decoder's batch-norm running averages (the VAE's own reconstruction term,
BCE or Gaussian, plus the analytic KL). The VAE reads the clip's log-Mel (standardised with
the normal training clips' statistics, / ``LOGMEL_SCALE``, clipped to [-1, 1], as DCASE
autoencoders) or its first ``input_length`` raw samples (the paper's waveform VAE)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import data, features, training
from drill_jax.detection import family
from drill_jax.vae import losses, trainer

KIND = "unsupervised"
SCORE_NAME = "vae"  # the config's ``score`` names the exact score
SCORES = ("neg_elbo", "recon_mse")
INPUT_REPRS = ("logmel", "waveform")
SCORE_MEANING = (
    "negative ELBO (nats per clip) or reconstruction MSE of a VAE trained on normal sounds "
    "only; higher = less normal"
)
_BUCKET = 512  # scoring runs in chunks of this many clips (a shorter one padded)
# log-Mel inputs are standardised per (frame, band), divided by this and clipped to [-1, 1]
# (the decoder's output range): |z| <= 4 is linear.
LOGMEL_SCALE = 4.0
# The VAE of the log-Mel detector: 1-D convolutions over the bands, Gaussian likelihood.
LOGMEL_VAE = trainer.VAEConfig(
    network=trainer.NetworkConfig(
        latent_dim=2,
        input_length=32,
        enc_features=(32, 64),
        dec_features=(64, 32),
        strides=(2, 2),
        kernel_size=3,
    ),
    optim=trainer.OptimConfig(learning_rate=1e-3),
    loss=trainer.LossConfig(recon="mse", mse_sigma=0.1),
    epochs=50,
    batch_size=8,
)
WAVEFORM_VAE = trainer.VAEConfig()  # the paper's (first 1999 samples, Bernoulli likelihood)


@dataclasses.dataclass(frozen=True)
class Config:
    """The label-free VAE detector.

    Attributes:
      input_repr: 'logmel' (band-passed log-Mel of the clip, standardised on the normal
        training clips; DCASE-style) or 'waveform' (the paper's VAE on the first
        ``vae.network.input_length`` raw samples, no band-pass).
      score: 'neg_elbo' or 'recon_mse'.
      vae: the VAE and its training (None = LOGMEL_VAE or WAVEFORM_VAE by input_repr).
    """

    input_repr: str = "logmel"
    score: str = "neg_elbo"
    vae: Optional[trainer.VAEConfig] = None

    def __post_init__(self):
        if self.input_repr not in INPUT_REPRS:
            raise ValueError(f"input_repr: one of {INPUT_REPRS}, got {self.input_repr!r}")
        if self.score not in SCORES:
            raise ValueError(f"score: one of {SCORES}, got {self.score!r}")

    @property
    def vae_config(self) -> trainer.VAEConfig:
        if self.vae is not None:
            return self.vae
        return LOGMEL_VAE if self.input_repr == "logmel" else WAVEFORM_VAE


def _inputs(config: Config, settings: features.FeatureSettings, clips, norm) -> np.ndarray:
    """What the VAE reads. clips [N, L] -> [N, vae.input_length] in [-1, 1]."""
    clips = np.asarray(clips, np.float32)
    if config.input_repr == "waveform":
        return clips[:, : config.vae_config.network.input_length]
    f = features.extract(settings, clips).reshape(clips.shape[0], -1)
    z = (f - norm["mean"][None]) / norm["std"][None]
    return np.clip(z / LOGMEL_SCALE, -1.0, 1.0).astype(np.float32)


def fit(
    config: Config, clips: data.Dataset, settings: features.FeatureSettings, key
) -> family.Fitted:
    """Trains the VAE on normal clips [N, settings.clip_samples] (labels ignored)."""
    x = np.stack(clips.waveforms)
    vcfg = config.vae_config
    if config.input_repr == "logmel":
        n_inputs = settings.n_frames * settings.n_mels
        vcfg = dataclasses.replace(
            vcfg, network=dataclasses.replace(vcfg.network, input_length=n_inputs)
        )
    elif x.shape[1] < vcfg.network.input_length:
        raise ValueError(
            f"clip_samples ({x.shape[1]}) is shorter than the VAE input "
            f"({vcfg.network.input_length})"
        )
    config = dataclasses.replace(config, vae=vcfg)
    norm = None
    if config.input_repr == "logmel":
        f = features.extract(settings, x).reshape(x.shape[0], -1)
        norm = {"mean": f.mean(axis=0), "std": np.maximum(f.std(axis=0), 1e-3)}
        norm = {k: v.astype(np.float32) for k, v in norm.items()}
    state, history = trainer.train_class_vae(_inputs(config, settings, x, norm), None, vcfg, key)
    arrays = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if norm is not None:
        arrays["norm"] = norm
    loss = float(history[-1].train_loss) if history else None
    return family.Fitted(
        config, arrays, {"final_train_loss": loss, "input_repr": config.input_repr}
    )


@functools.lru_cache(maxsize=8)
def _score_fn(vcfg: trainer.VAEConfig, score: str):
    model = trainer.make_model(vcfg)

    @jax.jit
    def f(variables, x):
        # x: [B, T] -> [B] score
        mean, logvar = model.apply(variables, x, method=model.encode)
        logits = model.apply(variables, mean, method=model.decode)
        if score == "recon_mse":
            return jnp.mean(jnp.square(x - losses.logits_to_waveform(logits)), axis=-1)
        terms = losses.elbo_terms(
            logits, x, mean, mean, logvar, vcfg.loss.recon, "analytic", vcfg.loss.mse_sigma
        )
        return terms["loss"]

    return f


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """Scores [N] float64 of clips [N, settings.clip_samples]; each row's score depends on
    that row only (batches are padded to a few fixed sizes: few compilations)."""
    x = _inputs(config, settings, clips, arrays.get("norm"))
    f = _score_fn(config.vae_config, config.score)
    v = {"params": arrays["params"], "batch_stats": arrays["batch_stats"]}
    return np.asarray(training.apply_in_buckets(lambda rows: f(v, rows), x, _BUCKET), np.float64)


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless the arrays fit the config's VAE (and its log-Mel statistics)."""
    vcfg = config.vae_config
    state = trainer.create_state(vcfg, jax.random.key(0))
    template = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if config.input_repr == "logmel":
        n = settings.n_frames * settings.n_mels
        template["norm"] = {"mean": np.zeros(n, np.float32), "std": np.ones(n, np.float32)}
    family.check_like(template, arrays, where)
