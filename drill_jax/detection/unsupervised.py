"""Anomaly detection without fault labels: a VAE trained on NORMAL sounds, scored by its ELBO.

* Input (``AnomalyConfig.input_repr``): 'logmel' (default; the clip's log-Mel,
  standardised on the normal training clips, as DCASE autoencoders) or 'waveform' (the
  paper's 1-D conv VAE on the first 1999 raw samples). Scores: ``drill_jax.detection.scoring``.
* Threshold on normal scores: ``gamma`` fits a gamma distribution (shape, loc, scale by
  maximum likelihood, ``scipy.stats.gamma.fit``) and takes its ``quantile`` (0.9) point, as
  the DCASE 2020-2023 baselines; ``percentile`` takes the empirical quantile. By default
  the scores are those of 25 % of the normal sounds kept out of VAE training
  (``threshold_holdout``); 0 uses the training sounds' scores (DCASE), which on tiny data
  are optimistic and give too low a threshold.
* A label-free baseline: ``logmel_zscore_scores``.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import numpy as np
import scipy.stats
from absl import logging

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.detection import detector as detector_lib
from drill_jax.detection import scoring
from drill_jax.detection.detector import Detector
from drill_jax.vae import trainer

THRESHOLD_RULES = ("gamma", "percentile")
# The VAE of the log-Mel detector: 1-D convolutions over the 32 bands, Gaussian likelihood.
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


# The paper's waveform VAE (first 1999 samples, Bernoulli likelihood on [0, 1]-mapped samples).
WAVEFORM_VAE = trainer.VAEConfig()


@dataclasses.dataclass(frozen=True)
class AnomalyConfig:
    """Unsupervised detector settings.

    Attributes:
      input_repr: 'logmel' (band-passed log-Mel of the clip, standardised on the normal
        training clips; DCASE-style) or 'waveform' (the paper's VAE on the first
        ``vae.network.input_length`` raw samples).
      score: 'neg_elbo' or 'recon_mse'.
      threshold_rule: 'gamma' (DCASE) or 'percentile'.
      quantile: the normal-score quantile used as threshold (0.9).
      threshold_holdout: fraction of the normal sounds kept out of VAE training and used
        only to choose the threshold (their clips' scores). 0 = on the training clips'
        scores (DCASE); those are optimistic on tiny data (the VAE fits its few training
        sounds far better than new ones), which makes the threshold too low.
      clip_samples: samples per scored clip (None = the shortest training sound).
      train_hop: train on every window of every normal sound at this hop (samples), as a
        stream shows them; None = first clip of each sound only.
      vae: the VAE and its training (None = LOGMEL_VAE or WAVEFORM_VAE by input_repr).
    """

    input_repr: str = "logmel"
    score: str = "neg_elbo"
    threshold_rule: str = "gamma"
    quantile: float = 0.9
    threshold_holdout: float = 0.25
    clip_samples: Optional[int] = None
    train_hop: Optional[int] = None
    vae: Optional[trainer.VAEConfig] = None

    def __post_init__(self):
        if self.input_repr not in detector_lib.INPUT_REPRS:
            raise ValueError(
                f"input_repr must be one of {detector_lib.INPUT_REPRS}, got {self.input_repr!r}"
            )
        if self.score not in scoring.SCORES:
            raise ValueError(f"score must be one of {scoring.SCORES}, got {self.score!r}")
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(
                f"threshold_rule must be one of {THRESHOLD_RULES}, got {self.threshold_rule!r}"
            )
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")
        if not 0.0 <= self.threshold_holdout < 1.0:
            raise ValueError(f"threshold_holdout must be in [0, 1), got {self.threshold_holdout}")

    @property
    def vae_config(self) -> trainer.VAEConfig:
        if self.vae is not None:
            return self.vae
        return LOGMEL_VAE if self.input_repr == "logmel" else WAVEFORM_VAE


# ---------------------------------------------------------------- thresholds


def gamma_threshold(scores: np.ndarray, quantile: float = 0.9) -> tuple[float, dict]:
    """``quantile`` point of a gamma distribution fitted to ``scores`` [N] (N >= 3).

    ``scipy.stats.gamma.fit`` (maximum likelihood over shape, loc and scale), then
    ``gamma.ppf(quantile, shape, loc, scale)``, as the DCASE baselines. Returns (threshold,
    {'rule', 'shape', 'loc', 'scale', 'quantile'}). Raises ValueError if the fit fails.
    """
    s = _check_scores(scores)
    if s.size < 3 or np.ptp(s) == 0:
        raise ValueError(f"a gamma fit needs >= 3 distinct scores, got {s.size}")
    shape, loc, scale = scipy.stats.gamma.fit(s)
    thr = float(scipy.stats.gamma.ppf(quantile, shape, loc=loc, scale=scale))
    if not np.isfinite(thr):
        raise ValueError(f"gamma fit gave a non-finite threshold ({shape}, {loc}, {scale})")
    info = {
        "rule": "gamma",
        "quantile": quantile,
        "shape": float(shape),
        "loc": float(loc),
        "scale": float(scale),
    }
    return thr, info


def percentile_threshold(scores: np.ndarray, quantile: float = 0.9) -> tuple[float, dict]:
    """Empirical ``quantile`` of ``scores`` [N] (numpy linear interpolation)."""
    s = _check_scores(scores)
    return float(np.quantile(s, quantile)), {"rule": "percentile", "quantile": quantile}


def choose_threshold(scores: np.ndarray, rule: str, quantile: float) -> tuple[float, dict]:
    """Threshold by ``rule``; a failed gamma fit falls back to the percentile (logged)."""
    if rule == "percentile":
        return percentile_threshold(scores, quantile)
    try:
        return gamma_threshold(scores, quantile)
    except ValueError as err:
        logging.warning("gamma fit failed (%s); using the empirical percentile", err)
        thr, info = percentile_threshold(scores, quantile)
        return thr, dict(info, fallback_from="gamma")


def _check_scores(scores) -> np.ndarray:
    s = np.asarray(scores, np.float64).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("scores must be a non-empty array of finite values")
    return s


# ---------------------------------------------------------------- training


def train_unsupervised_detector(
    normal_waveforms,
    sample_rate: int,
    config: AnomalyConfig = AnomalyConfig(),
    key: Optional[jax.Array] = None,
    class_names=("anomaly", "normal"),
    positive_index: int = 0,
    info: Optional[dict] = None,
    settings: Optional[features.FeatureSettings] = None,
) -> Detector:
    """Trains a VAE on normal sounds only and wraps it as an unsupervised Detector.

    Every sound gives its first ``clip_samples`` samples (or, with ``train_hop``, all its
    windows). With ``threshold_holdout`` > 0 a random part of the normal sounds is kept out
    of VAE training and the threshold is chosen on their clips' scores; otherwise on the
    training clips' scores. ``settings``: how clips become log-Mel features (default: the
    paper's at ``sample_rate``; waveform input uses no filter); ``clip_samples`` is set.
    """
    n_sounds = len(normal_waveforms)
    n_hold = int(round(config.threshold_holdout * n_sounds))
    if n_sounds - n_hold < 2 or (config.threshold_holdout > 0 and n_hold < 1):
        raise ValueError(
            f"{n_sounds} normal sounds are too few for threshold_holdout="
            f"{config.threshold_holdout} (need >= 2 to train and >= 1 held out)"
        )
    clip_samples = int(config.clip_samples or min(np.asarray(w).shape[0] for w in normal_waveforms))
    settings = settings or features.FeatureSettings(sample_rate=int(sample_rate))
    if settings.sample_rate != int(sample_rate):
        raise ValueError(
            f"feature settings are for {settings.sample_rate} Hz, the sounds are {sample_rate} Hz"
        )
    settings = dataclasses.replace(settings, clip_samples=clip_samples)
    if config.input_repr == "waveform":
        settings = dataclasses.replace(settings, band_hz=None)
    vcfg = config.vae_config
    if config.input_repr == "logmel":
        n_inputs = settings.n_frames * settings.n_mels
        network = dataclasses.replace(vcfg.network, input_length=n_inputs)
        vcfg = dataclasses.replace(vcfg, network=network)
    elif clip_samples < vcfg.network.input_length:
        raise ValueError(
            f"clip_samples ({clip_samples}) is shorter than the VAE input "
            f"({vcfg.network.input_length})"
        )
    key = jax.random.key(vcfg.seed) if key is None else key
    split_key, key = jax.random.split(key)
    order = np.asarray(jax.random.permutation(split_key, n_sounds))
    fit_idx, hold_idx = np.sort(order[n_hold:]), np.sort(order[:n_hold])
    clips, _ = data_lib.sound_windows(
        [normal_waveforms[i] for i in fit_idx], clip_samples, config.train_hop
    )
    norm = None
    if config.input_repr == "logmel":
        f = features.extract(settings, clips).reshape(clips.shape[0], -1)
        norm = {
            "mean": f.mean(axis=0).astype(np.float32),
            "std": np.maximum(f.std(axis=0), 1e-3).astype(np.float32),
        }
    x = scoring.model_inputs(config.input_repr, settings, vcfg, clips, norm)
    state, history = trainer.train_class_vae(x, None, vcfg, key)
    variables = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if norm is not None:
        variables["norm"] = norm
    train_scores = scoring.vae_scores(variables, vcfg, x, config.score)
    if n_hold:
        hold, _ = data_lib.sound_windows(
            [normal_waveforms[i] for i in hold_idx], clip_samples, config.train_hop
        )
        hold_x = scoring.model_inputs(config.input_repr, settings, vcfg, hold, norm)
        thr_scores = scoring.vae_scores(variables, vcfg, hold_x, config.score)
        where = f"{len(hold)} clips of {n_hold} held-out normal sounds (not trained on)"
    else:
        thr_scores, where = train_scores, f"{len(clips)} normal training clips"
    thr, thr_info = choose_threshold(thr_scores, config.threshold_rule, config.quantile)
    rule = f"{thr_info['rule']} {config.quantile:g} quantile of the {config.score} of {where}"
    return Detector(
        kind="unsupervised",
        model="vae",
        settings=settings,
        class_names=tuple(class_names),
        positive_index=int(positive_index),
        threshold=thr,
        threshold_rule=rule,
        score_name=config.score,
        model_config=vcfg,
        variables=variables,
        input_repr=config.input_repr,
        info=dict(
            info or {},
            n_train_normal_sounds=int(fit_idx.size),
            n_threshold_normal_sounds=int(n_hold),
            n_train_clips=int(clips.shape[0]),
            train_hop=config.train_hop,
            input_repr=config.input_repr,
            threshold_fit=thr_info,
            train_score_mean=float(train_scores.mean()),
            train_score_std=float(train_scores.std()),
            threshold_score_mean=float(thr_scores.mean()),
            final_train_loss=float(history[-1].train_loss) if history else None,
            note="trained on normal sounds only",
        ),
    )


def save_waveform_detector(
    dataset, vae_config: trainer.VAEConfig, path: str, normal_class: str = "normal"
) -> str:
    """Trains the paper's waveform VAE (``vae_config``) on the ``normal_class`` sounds of
    ``dataset`` only and saves it as an unsupervised detector directory at ``path``.

    Score = negative ELBO of a clip's first ``vae_config.network.input_length`` samples; threshold =
    gamma 90th percentile of the scores of 25 % held-out normal sounds (``AnomalyConfig``).
    """
    if normal_class not in dataset.class_names:
        raise ValueError(f"no class {normal_class!r} in {dataset.class_names}")
    normal = dataset.labels == dataset.class_names.index(normal_class)
    config = AnomalyConfig(input_repr="waveform", vae=vae_config)
    others = [c for c in dataset.class_names if c != normal_class]
    anomaly_name = "anomaly" if "anomaly" in others or not others else others[0]
    detector = train_unsupervised_detector(
        [w for w, keep in zip(dataset.waveforms, normal) if keep],
        dataset.sample_rate,
        config,
        key=jax.random.key(vae_config.seed),
        class_names=(anomaly_name, normal_class),
        positive_index=0,
        info={"source": "experiments.vae --save_detector"},
    )
    detector_lib.save_detector(path, detector)
    return path


# ---------------------------------------------------------------- a label-free baseline


def logmel_zscore_scores(
    train_normal_clips: np.ndarray, clips: np.ndarray, settings: features.FeatureSettings
) -> np.ndarray:
    """Label-free baseline: mean squared z-score of a clip's log-Mel bands relative to the
    normal training clips' per-band mean and std. [N_train, L], [N, L] -> [N]."""
    ref = features.extract(settings, train_normal_clips).reshape(len(train_normal_clips), -1)
    x = features.extract(settings, clips).reshape(len(clips), -1)
    mu, sd = ref.mean(axis=0), np.maximum(ref.std(axis=0), 1e-3)
    return np.mean(np.square((x - mu[None]) / sd[None]), axis=1).astype(np.float64)
