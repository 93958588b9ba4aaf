"""Anomaly detection without fault labels: a VAE trained on NORMAL sounds, scored by its ELBO.

* Input (``AnomalyConfig.input_repr``): 'logmel' (default; the clip's band-passed log-Mel,
  standardised on the normal training clips, as DCASE autoencoders) or 'waveform' (the
  paper's 1-D conv VAE on the first 1999 raw samples).
* Score of a clip (higher = less normal), computed deterministically at the posterior mean
  z = mu(x) with the decoder's batch-norm running averages:
  ``neg_elbo`` = -log p(x | z=mu) + KL(q(z|x) || N(0, I)) in nats per clip (the VAE's own
  reconstruction term, BCE or Gaussian, plus the analytic KL), or
  ``recon_mse`` = mean (x - x_hat)^2 with x_hat the decoded input.
* Threshold on normal scores: ``gamma`` fits a gamma distribution (shape, loc, scale by
  maximum likelihood, ``scipy.stats.gamma.fit``) and takes its ``quantile`` (0.9) point, as
  the DCASE 2020-2023 baselines; ``percentile`` takes the empirical quantile. By default
  the scores are those of 25 % of the normal sounds kept out of VAE training
  (``threshold_holdout``); 0 uses the training sounds' scores (DCASE), which on tiny data
  are optimistic and give too low a threshold.
* Honest evaluation (``evaluate_honest``): repeated stratified k-fold over the real
  sounds; per fold the VAE sees only the NORMAL sounds of the training folds, and the
  held-out normal + held-out anomaly sounds are scored. ROC-AUC and pAUC
  (FPR <= 0.1; sklearn ``roc_auc_score(max_fpr=0.1)``, McClish-standardised: 0.5 = chance)
  are reported per fold and as mean +- 95 % CI, next to the supervised jax_cnn classifier
  and a label-free log-Mel z-score baseline on the same folds.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from absl import logging

from drill_jax.classify import cnn

from drill_jax.detection import export

from drill_jax.vae import losses

from drill_jax.evaluation import metrics

from drill_jax.evaluation import protocols

from drill_jax.vae import trainer
from drill_jax import data as data_lib

SCORES = ("neg_elbo", "recon_mse")
THRESHOLD_RULES = ("gamma", "percentile")
INPUT_REPRS = export.INPUT_REPRS
_BUCKETS = (1, 8, 32, 128, 512)
# log-Mel inputs are standardised per (frame, band) with the normal training clips' mean and
# std, divided by this and clipped to [-1, 1] (the decoder's output range): |z| <= 4 is linear.
LOGMEL_SCALE = 4.0
# The VAE of the log-Mel detector: 1-D convolutions over the 32 bands, Gaussian likelihood.
LOGMEL_VAE = trainer.VAEConfig(
    latent_dim=2,
    epochs=50,
    batch_size=8,
    learning_rate=1e-3,
    recon="mse",
    mse_sigma=0.1,
    input_length=32,
    enc_features=(32, 64),
    dec_features=(64, 32),
    strides=(2, 2),
    kernel_size=3,
)
# The paper's waveform VAE (first 1999 samples, Bernoulli likelihood on [0, 1]-mapped samples).
WAVEFORM_VAE = trainer.VAEConfig()


_DEFAULT_CLASSIFIER = cnn.ClassifierConfig()


@dataclasses.dataclass(frozen=True)
class AnomalyConfig:
    """Unsupervised detector settings.

    Attributes:
      input_repr: 'logmel' (band-passed log-Mel of the clip, standardised on the normal
        training clips; DCASE-style) or 'waveform' (the paper's VAE on the first
        ``vae.input_length`` raw samples).
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
        if self.input_repr not in INPUT_REPRS:
            raise ValueError(f"input_repr must be one of {INPUT_REPRS}, got {self.input_repr!r}")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {self.score!r}")
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


# ---------------------------------------------------------------- scoring


@functools.lru_cache(maxsize=8)
def _score_fn(config: trainer.VAEConfig, score: str):
    model = trainer.make_model(config)

    @jax.jit
    def f(variables, x):
        # x: [B, T] -> [B] score
        mean, logvar = model.apply(variables, x, method=model.encode)
        logits = model.apply(variables, mean, method=model.decode)
        if score == "recon_mse":
            return jnp.mean(jnp.square(x - losses.logits_to_waveform(logits)), axis=-1)
        terms = losses.elbo_terms(
            logits, x, mean, mean, logvar, config.recon, "analytic", config.mse_sigma
        )
        return terms["loss"]

    return f


def vae_scores(
    variables: dict, config: trainer.VAEConfig, x: np.ndarray, score: str = "neg_elbo"
) -> np.ndarray:
    """Anomaly scores of VAE inputs. x [N, config.input_length] in [-1, 1] -> [N] float64.

    ``variables`` holds 'params' and 'batch_stats'. Batches are padded to a few fixed sizes
    (few compilations); each row's score depends on that row only.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != config.input_length:
        raise ValueError(f"VAE inputs must be [N >= 1, {config.input_length}], got {x.shape}")
    f = _score_fn(config, score)
    v = {"params": variables["params"], "batch_stats": variables["batch_stats"]}
    out = []
    for a in range(0, x.shape[0], _BUCKETS[-1]):
        part = x[a : a + _BUCKETS[-1]]
        size = next(b for b in _BUCKETS if b >= part.shape[0])
        padded = np.zeros((size, x.shape[1]), np.float32)
        padded[: part.shape[0]] = part
        out.append(np.asarray(f(v, padded))[: part.shape[0]])
    return np.concatenate(out).astype(np.float64)


def model_inputs(
    settings: export.FeatureSettings,
    config: trainer.VAEConfig,
    clips: np.ndarray,
    norm: Optional[dict],
) -> np.ndarray:
    """What the VAE reads. clips [N, clip_samples] -> [N, config.input_length] in [-1, 1].

    'waveform': the first input_length samples. 'logmel': band-passed log-Mel [N, F * M],
    standardised with ``norm`` = {'mean', 'std'} [F * M], / LOGMEL_SCALE, clipped to [-1, 1].
    """
    clips = np.asarray(clips, np.float32)
    if settings.input_repr == "waveform":
        return clips[:, : config.input_length]
    f = export.clip_log_mel(settings, clips).reshape(clips.shape[0], -1)
    z = (f - norm["mean"][None]) / norm["std"][None]
    return np.clip(z / LOGMEL_SCALE, -1.0, 1.0).astype(np.float32)


_DEVICE_CACHE: dict = {}


def detector_scores(detector: export.Detector, clips: np.ndarray) -> np.ndarray:
    """Scores of an unsupervised detector. clips [N, clip_samples] -> [N] float64."""
    v = detector.variables
    x = model_inputs(detector.settings, detector.model_config, clips, v.get("norm"))
    hit = _DEVICE_CACHE.get(id(v))
    if hit is None or hit[0] is not v:
        # Parameters go to the device once per detector, not once per streamed chunk.
        dev = jax.device_put({"params": v["params"], "batch_stats": v["batch_stats"]})
        _DEVICE_CACHE.clear()
        _DEVICE_CACHE[id(v)] = hit = (v, dev)
    return vae_scores(hit[1], detector.model_config, x, detector.score_name)


def vae_variables_template(
    config: trainer.VAEConfig, settings: Optional[export.FeatureSettings] = None
) -> dict:
    """Freshly initialised variables of a detector's VAE: 'params', 'batch_stats' and, for
    log-Mel input, 'norm' {'mean', 'std'} [input_length]."""
    state = trainer.create_state(config, jax.random.key(0))
    v = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if settings is not None and settings.input_repr == "logmel":
        n = config.input_length
        v["norm"] = {"mean": np.zeros(n, np.float32), "std": np.ones(n, np.float32)}
    return v


# ---------------------------------------------------------------- training


def train_unsupervised_detector(
    normal_waveforms,
    sample_rate: int,
    config: AnomalyConfig = AnomalyConfig(),
    key: Optional[jax.Array] = None,
    class_names=("anomaly", "normal"),
    positive_index: int = 0,
    info: Optional[dict] = None,
) -> export.Detector:
    """Trains a VAE on normal sounds only and wraps it as an unsupervised Detector.

    Every sound gives its first ``clip_samples`` samples (or, with ``train_hop``, all its
    windows). With ``threshold_holdout`` > 0 a random part of the normal sounds is kept out
    of VAE training and the threshold is chosen on their clips' scores; otherwise on the
    training clips' scores.
    """
    n_sounds = len(normal_waveforms)
    n_hold = int(round(config.threshold_holdout * n_sounds))
    if n_sounds - n_hold < 2 or (config.threshold_holdout > 0 and n_hold < 1):
        raise ValueError(
            f"{n_sounds} normal sounds are too few for threshold_holdout="
            f"{config.threshold_holdout} (need >= 2 to train and >= 1 held out)"
        )
    clip_samples = int(config.clip_samples or min(np.asarray(w).shape[0] for w in normal_waveforms))
    settings = export.FeatureSettings(
        sample_rate=int(sample_rate),
        clip_samples=clip_samples,
        bandpass=config.input_repr == "logmel",
        input_repr=config.input_repr,
        mel=export.features.MelConfig(sample_rate=int(sample_rate)),
    )
    vcfg = config.vae_config
    if config.input_repr == "logmel":
        vcfg = dataclasses.replace(vcfg, input_length=settings.n_frames * settings.mel.n_mels)
    elif clip_samples < vcfg.input_length:
        raise ValueError(
            f"clip_samples ({clip_samples}) is shorter than the VAE input ({vcfg.input_length})"
        )
    key = jax.random.key(vcfg.seed) if key is None else key
    split_key, key = jax.random.split(key)
    order = np.asarray(jax.random.permutation(split_key, n_sounds))
    fit_idx, hold_idx = np.sort(order[n_hold:]), np.sort(order[:n_hold])
    clips, _ = export.sound_windows(
        [normal_waveforms[i] for i in fit_idx], clip_samples, config.train_hop
    )
    norm = None
    if config.input_repr == "logmel":
        f = export.clip_log_mel(settings, clips).reshape(clips.shape[0], -1)
        norm = {
            "mean": f.mean(axis=0).astype(np.float32),
            "std": np.maximum(f.std(axis=0), 1e-3).astype(np.float32),
        }
    x = model_inputs(settings, vcfg, clips, norm)
    state, history = trainer.train_class_vae(x, None, vcfg, key)
    variables = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if norm is not None:
        variables["norm"] = norm
    train_scores = vae_scores(variables, vcfg, x, config.score)
    if n_hold:
        hold, _ = export.sound_windows(
            [normal_waveforms[i] for i in hold_idx], clip_samples, config.train_hop
        )
        thr_scores = vae_scores(
            variables, vcfg, model_inputs(settings, vcfg, hold, norm), config.score
        )
        where = f"{len(hold)} clips of {n_hold} held-out normal sounds (not trained on)"
    else:
        thr_scores, where = train_scores, f"{len(clips)} normal training clips"
    thr, thr_info = choose_threshold(thr_scores, config.threshold_rule, config.quantile)
    rule = f"{thr_info['rule']} {config.quantile:g} quantile of the {config.score} of {where}"
    return export.Detector(
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
            final_train_loss=float(history[-1]["train_loss"]) if history else None,
            note="trained on normal sounds only",
        ),
    )


# ---------------------------------------------------------------- a label-free baseline


def logmel_zscore_scores(
    train_normal_clips: np.ndarray, clips: np.ndarray, settings: export.FeatureSettings
) -> np.ndarray:
    """Label-free baseline: mean squared z-score of a clip's log-Mel bands relative to the
    normal training clips' per-band mean and std. [N_train, L], [N, L] -> [N]."""
    ref = export.clip_log_mel(settings, train_normal_clips).reshape(len(train_normal_clips), -1)
    x = export.clip_log_mel(settings, clips).reshape(len(clips), -1)
    mu, sd = ref.mean(axis=0), np.maximum(ref.std(axis=0), 1e-3)
    return np.mean(np.square((x - mu[None]) / sd[None]), axis=1).astype(np.float64)


# ---------------------------------------------------------------- honest evaluation


def evaluate_honest(
    ds: data_lib.Dataset,
    config: AnomalyConfig = AnomalyConfig(),
    n_splits: int = 5,
    n_repeats: int = 2,
    seed: int = 0,
    positive_index: int = 0,
    supervised: Optional[cnn.ClassifierConfig] = _DEFAULT_CLASSIFIER,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Repeated stratified k-fold evaluation of the unsupervised detector (and references).

    Per fold: the VAE is trained on the training folds' NORMAL sounds only; the held-out
    normal and held-out anomaly sounds are scored (each sound cut to ``clip_samples``,
    default the shortest sound: the clip-length confound cannot help). The supervised
    jax_cnn (trained on both classes of the training folds) and the log-Mel z-score baseline
    are scored on the same held-out sounds. Returns {'label', 'pauc_definition', 'config',
    'folds': [...], 'summary': {detector: {metric: mean_ci}}}.
    """
    say = progress or (lambda msg: logging.info("%s", msg))
    normal_index = 1 - positive_index if len(ds.class_names) == 2 else None
    if normal_index is None:
        raise ValueError("evaluate_honest needs exactly two classes (anomaly, normal)")
    clip_samples = int(config.clip_samples or ds.lengths.min())
    config = dataclasses.replace(config, clip_samples=clip_samples)
    clips = export.crop_sounds(ds.waveforms, clip_samples, ds.paths)  # scored: first clip
    is_anom = ds.labels == positive_index
    splits = data_lib.repeated_stratified_kfold(ds.labels, n_splits, n_repeats, seed, ds.groups)
    # Configs stay the same across folds (they are static for jit: one compilation);
    # each fold's randomness comes from its own key.
    root = jax.random.key(seed)
    folds = []
    for k, (tr, te) in enumerate(splits):
        t0 = time.perf_counter()
        tr_normal = tr[~is_anom[tr]]
        protocols.assert_no_leak(ds.groups[tr_normal], ds.groups[te])
        key = jax.random.fold_in(root, k)
        det = train_unsupervised_detector(
            [ds.waveforms[i] for i in tr_normal],
            ds.sample_rate,
            config,
            key,
            ds.class_names,
            positive_index,
        )
        fold = {
            "fold": k,
            "n_train_normal": int(tr_normal.size),
            "n_test": int(te.size),
            "n_test_anomaly": int(is_anom[te].sum()),
            "leak_check": "passed",
        }
        fold["vae"] = export.detection_metrics(
            is_anom[te], export.score_clips(det, clips[te]), det.threshold
        )
        fold["vae"]["threshold"] = det.threshold
        base = logmel_zscore_scores(
            clips[tr_normal], clips[te], _feature_settings(ds, clip_samples)
        )
        base_thr, _ = choose_threshold(
            logmel_zscore_scores(
                clips[tr_normal], clips[tr_normal], _feature_settings(ds, clip_samples)
            ),
            config.threshold_rule,
            config.quantile,
        )
        fold["logmel_zscore"] = export.detection_metrics(is_anom[te], base, base_thr)
        if supervised is not None:
            sup = export.train_supervised_detector(
                [ds.waveforms[i] for i in tr],
                ds.labels[tr],
                ds.class_names,
                ds.sample_rate,
                positive_index,
                clip_samples,
                supervised,
                jax.random.fold_in(key, 1),
                train_hop=config.train_hop,
            )
            fold["jax_cnn_supervised"] = export.detection_metrics(
                is_anom[te], export.score_clips(sup, clips[te]), sup.threshold
            )
        fold["seconds"] = time.perf_counter() - t0
        folds.append(fold)
        say(
            f"fold {k + 1}/{len(splits)}: VAE ROC-AUC "
            f"{fold['vae'].get('roc_auc', float('nan')):.3f}"
            f" pAUC {fold['vae'].get('pauc', float('nan')):.3f}"
            + (
                f"; jax_cnn ROC-AUC {fold['jax_cnn_supervised'].get('roc_auc', float('nan')):.3f}"
                if supervised is not None
                else ""
            )
        )
    names = [n for n in ("vae", "jax_cnn_supervised", "logmel_zscore") if n in folds[0]]
    summary = {
        name: {
            m: metrics.mean_ci([f[name].get(m, float("nan")) for f in folds])
            for m in ("roc_auc", "pauc", "tpr", "fpr", "accuracy")
        }
        for name in names
    }
    return {
        "label": "honest protocol: repeated stratified k-fold over real sounds; the VAE is "
        "trained on the training folds' NORMAL sounds only; held-out normal + held-out "
        "anomaly sounds scored",
        "pauc_definition": export.PAUC_DEFINITION,
        "detectors": {
            "vae": f"unsupervised VAE on {config.input_repr}, score {config.score}, threshold "
            f"{config.threshold_rule} {config.quantile:g} quantile of normal training scores",
            "jax_cnn_supervised": "supervised jax_cnn on band-passed log-Mel (uses anomaly "
            "labels), score P(anomaly), threshold 0.5",
            "logmel_zscore": "label-free baseline: mean squared z-score of log-Mel bands vs the "
            "normal training sounds",
        },
        "config": {
            "anomaly": _jsonable(dataclasses.asdict(config)),
            "n_splits": n_splits,
            "n_repeats": n_repeats,
            "seed": seed,
            "clip_samples": clip_samples,
            "supervised": None if supervised is None else dataclasses.asdict(supervised),
        },
        "folds": folds,
        "summary": summary,
    }


def _feature_settings(ds, clip_samples) -> export.FeatureSettings:
    return export.FeatureSettings(
        sample_rate=ds.sample_rate,
        clip_samples=clip_samples,
        mel=export.features.MelConfig(sample_rate=ds.sample_rate),
    )


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return list(obj)
    return obj


def save_waveform_detector(
    dataset, vae_config: trainer.VAEConfig, path: str, normal_class: str = "normal"
) -> str:
    """Trains the paper's waveform VAE (``vae_config``) on the ``normal_class`` sounds of
    ``dataset`` only and saves it as an unsupervised detector directory at ``path``.

    Score = negative ELBO of a clip's first ``vae_config.input_length`` samples; threshold =
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
    export.save_detector(path, detector)
    return path
