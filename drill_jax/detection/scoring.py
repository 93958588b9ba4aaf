"""Scoring clips with a detector: anomaly scores, higher = more anomalous.

* Supervised (``jax_cnn``): P(anomaly) of the classifier on ``features.extract`` of the clip;
  (``clip_classical``): the mean P(anomaly) of its recipes on the clip's features.
* Unsupervised (``vae``), computed deterministically at the posterior mean z = mu(x) with
  the decoder's batch-norm running averages: ``neg_elbo`` = -log p(x | z=mu) + KL(q(z|x) ||
  N(0, I)) in nats per clip (the VAE's own reconstruction term, BCE or Gaussian, plus the
  analytic KL), or ``recon_mse`` = mean (x - x_hat)^2 with x_hat the decoded input. The
  VAE reads the clip's log-Mel (standardised with the normal training clips' statistics,
  / ``LOGMEL_SCALE``, clipped to [-1, 1]) or its first ``input_length`` raw samples.
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax import features, training
from drill_jax.classify import classical, cnn
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.detector import Detector
from drill_jax.vae import losses, trainer

SCORES = ("neg_elbo", "recon_mse")
# VAE scoring runs in chunks of this many clips (a shorter chunk padded to a power of two).
_BUCKET = 512
# log-Mel inputs are standardised per (frame, band) with the normal training clips' mean and
# std, divided by this and clipped to [-1, 1] (the decoder's output range): |z| <= 4 is linear.
LOGMEL_SCALE = 4.0


def score_clips(
    detector: Detector, clips: np.ndarray, sample_rate: Optional[int] = None
) -> np.ndarray:
    """Anomaly scores of clips. [N, clip_samples] float in [-1, 1] -> [N] float64.

    Supervised: P(anomaly class). Unsupervised: negative ELBO (nats per sound) or
    reconstruction MSE, per ``detector.score_name``. Higher = more anomalous; compare with
    ``detector.threshold``. ``sample_rate`` (Hz), when given, is checked against the
    detector's.
    """
    if sample_rate is not None:
        detector_lib.check_rate(detector, sample_rate)
    clips = detector_lib.check_clips(detector.settings, clips)
    if detector.model == "clip_classical":
        return classical_scores(detector, clips)
    if detector.kind == "supervised":
        state = _classifier_state(detector)
        proba = cnn.predict_proba(state, features.extract(detector.settings, clips))
        return proba[:, detector.positive_index].astype(np.float64)

    return detector_scores(detector, clips)


def classical_scores(detector: Detector, clips: np.ndarray) -> np.ndarray:
    """P(anomaly) [N] of a clip_classical detector on clips [N, clip_samples]."""
    st = detector.settings
    recipes = detector.model_config.recipes
    variants = sorted({r.features for r in recipes})
    feats = classical.variant_features(clips, st.sample_rate, st.band_hz, variants)
    return classical.predict_arrays(detector.variables, recipes, feats).astype(np.float64)


def warm_up(detector: Detector, max_batch: int) -> None:
    """Compiles the scoring for batches of 1 and ``max_batch`` clips before a stream starts,
    so the first chunks do not pay the compilation (it would count in their latency)."""
    for n in sorted({1, max(1, int(max_batch))}):
        score_clips(detector, np.zeros((n, detector.settings.clip_samples), np.float32))


_STATE_CACHE: dict = {}


def _classifier_state(detector: Detector) -> cnn.ClassifierState:
    """A ClassifierState holding the detector's variables (built once per detector)."""
    key = id(detector.variables)
    hit = _STATE_CACHE.get(key)
    if hit is not None and hit[0] is detector.variables:
        return hit[1]
    s = detector.settings
    template = np.zeros((1, s.n_frames, s.n_mels), np.float32)
    state = cnn.create_state(detector.model_config, template, jax.random.key(0))
    v = detector.variables
    state = state.replace(
        params=jax.tree.map(jax.numpy.asarray, v["params"]),
        x_mean=jax.numpy.asarray(v["x_mean"]),
        x_std=jax.numpy.asarray(v["x_std"]),
    )
    _STATE_CACHE.clear()  # one detector at a time is the common case; keep memory bounded
    _STATE_CACHE[key] = (detector.variables, state)
    return state


# ---------------------------------------------------------------- the VAE's scores


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
            logits, x, mean, mean, logvar, config.loss.recon, "analytic", config.loss.mse_sigma
        )
        return terms["loss"]

    return f


def vae_scores(
    variables: dict, config: trainer.VAEConfig, x: np.ndarray, score: str = "neg_elbo"
) -> np.ndarray:
    """Anomaly scores of VAE inputs. x [N, config.network.input_length] in [-1, 1] -> [N] float64.

    ``variables`` holds 'params' and 'batch_stats'. Batches are padded to a few fixed sizes
    (few compilations); each row's score depends on that row only.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    x = np.asarray(x, np.float32)
    t = config.network.input_length
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != t:
        raise ValueError(f"VAE inputs must be [N >= 1, {t}], got {x.shape}")
    f = _score_fn(config, score)
    v = {"params": variables["params"], "batch_stats": variables["batch_stats"]}
    out = training.apply_in_buckets(lambda rows: f(v, rows), x, _BUCKET)
    return np.asarray(out, np.float64)


def model_inputs(
    input_repr: str,
    settings: features.FeatureSettings,
    config: trainer.VAEConfig,
    clips: np.ndarray,
    norm: Optional[dict],
) -> np.ndarray:
    """What the VAE reads. clips [N, clip_samples] -> [N, config.network.input_length] in [-1, 1].

    'waveform': the first input_length samples. 'logmel': band-passed log-Mel [N, F * M],
    standardised with ``norm`` = {'mean', 'std'} [F * M], / LOGMEL_SCALE, clipped to [-1, 1].
    """
    clips = np.asarray(clips, np.float32)
    if input_repr == "waveform":
        return clips[:, : config.network.input_length]
    f = features.extract(settings, clips).reshape(clips.shape[0], -1)
    z = (f - norm["mean"][None]) / norm["std"][None]
    return np.clip(z / LOGMEL_SCALE, -1.0, 1.0).astype(np.float32)


_DEVICE_CACHE: dict = {}


def detector_scores(detector: Detector, clips: np.ndarray) -> np.ndarray:
    """Scores of an unsupervised detector. clips [N, clip_samples] -> [N] float64."""
    v = detector.variables
    x = model_inputs(
        detector.input_repr, detector.settings, detector.model_config, clips, v.get("norm")
    )
    hit = _DEVICE_CACHE.get(id(v))
    if hit is None or hit[0] is not v:
        # Parameters go to the device once per detector, not once per streamed chunk.
        dev = jax.device_put({"params": v["params"], "batch_stats": v["batch_stats"]})
        _DEVICE_CACHE.clear()
        _DEVICE_CACHE[id(v)] = hit = (v, dev)
    return vae_scores(hit[1], detector.model_config, x, detector.score_name)
