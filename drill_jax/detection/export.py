"""A trained detector as one self-describing directory: save, load (with input checks), score.

Layout of a detector directory::

    DIR/detector.json    # format, kind, model, feature settings, class names, sample rate,
                         # clip length, threshold (+ how it was chosen), score definition,
                         # model config, versions, validation metrics, training record
    DIR/params.msgpack   # flax.serialization msgpack of the variables pytree

Two kinds:

* ``supervised`` (model ``jax_cnn``): ``drill_jax.classifier`` on band-passed log-Mel
  features of one clip; score = P(anomaly), the softmax probability of
  ``class_names[positive_index]``.
* ``unsupervised`` (model ``vae``): ``drill_jax.vae`` trained on normal sounds only on the
  first ``VAEConfig.input_length`` samples of a clip; score = negative ELBO in nats per sound
  (or the reconstruction MSE), see ``drill_jax.anomaly``.

Every clip the detector scores has exactly ``settings.clip_samples`` samples at
``settings.sample_rate`` Hz, the length it was trained on, so features are identical in
training, file scoring and streaming (no padding: ``n_frames`` frames per clip). A score
``>= threshold`` means "anomaly".
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import platform
import shutil
import tempfile
from typing import Any, Optional

import flax
import flax.serialization
import jax
import numpy as np

import drill_jax
from drill_jax.classify import cnn
from drill_jax import features
from drill_jax.features import filters

FORMAT = "drill_jax-detector"
FORMAT_VERSION = 1
META_FILE = "detector.json"
PARAMS_FILE = "params.msgpack"
KINDS = {"supervised": "jax_cnn", "unsupervised": "vae"}
INPUT_REPRS = ("logmel", "waveform")


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
    """How a clip becomes model input. Units: Hz, samples, dB.

    Attributes:
      sample_rate: rate of the audio the detector accepts (Hz).
      clip_samples: samples per scored clip (bundled detectors: 2000 = 20.8 ms).
      bandpass: apply the paper's high-pass then low-pass (supervised features only).
      band_hz: (high-pass passband, low-pass passband) edges in Hz.
      filter_design: 'auto' (MATLAB choice), 'fir' or 'iir'.
      top_db: log-Mel clipping below each clip's max (None = none).
      mel: the Mel spectrogram settings.
      input_repr: what the model reads: 'logmel' (band-passed log-Mel; the classifier and
        the log-Mel VAE) or 'waveform' (the first VAEConfig.input_length raw samples; the
        paper's VAE).
    """

    sample_rate: int = 96000
    clip_samples: int = 2000
    bandpass: bool = True
    band_hz: tuple = (1000.0, 22000.0)
    filter_design: str = "auto"
    top_db: Optional[float] = 80.0
    mel: features.MelConfig = features.MelConfig()
    input_repr: str = "logmel"

    def __post_init__(self):
        if self.input_repr not in INPUT_REPRS:
            raise ValueError(f"input_repr must be one of {INPUT_REPRS}, got {self.input_repr!r}")
        if self.sample_rate != self.mel.sample_rate:
            raise ValueError(
                f"sample_rate {self.sample_rate} Hz differs from the Mel config's "
                f"{self.mel.sample_rate} Hz"
            )
        if self.clip_samples < self.mel.win_length:
            raise ValueError(
                f"clip_samples ({self.clip_samples}) is shorter than the Mel window "
                f"({self.mel.win_length} samples)"
            )
        if len(self.band_hz) != 2 or not 0 < self.band_hz[0] < self.band_hz[1]:
            raise ValueError(f"band_hz must be (low, high) with 0 < low < high, got {self.band_hz}")

    @property
    def n_frames(self) -> int:
        """Mel frames per clip."""
        return self.mel.n_frames(self.clip_samples)

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["band_hz"] = list(self.band_hz)
        out["n_frames"] = self.n_frames
        out["clip_seconds"] = self.clip_seconds
        return out

    @staticmethod
    def from_json(obj: dict) -> "FeatureSettings":
        obj = dict(obj)
        obj.pop("n_frames", None)
        obj.pop("clip_seconds", None)
        obj["band_hz"] = tuple(float(v) for v in obj["band_hz"])
        obj["mel"] = features.MelConfig(**obj["mel"])
        return FeatureSettings(**obj)


@dataclasses.dataclass(frozen=True)
class Detector:
    """A loaded (or freshly trained) detector.

    Attributes:
      kind: 'supervised' or 'unsupervised'; model: 'jax_cnn' or 'vae'.
      settings: FeatureSettings; class_names: e.g. ('anomaly', 'normal');
      positive_index: index of the anomaly class in class_names.
      threshold: score >= threshold -> anomaly; threshold_rule: how it was chosen.
      score_name: 'p_anomaly', 'neg_elbo' or 'recon_mse'.
      model_config: cnn.ClassifierConfig or trainer.VAEConfig.
      variables: pytree of arrays (supervised: params, x_mean, x_std; VAE: params,
        batch_stats).
      metrics: validation metrics; info: training record, versions, creation time.
    """

    kind: str
    model: str
    settings: FeatureSettings
    class_names: tuple
    positive_index: int
    threshold: float
    threshold_rule: str
    score_name: str
    model_config: Any
    variables: Any
    metrics: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if KINDS.get(self.kind) != self.model:
            raise ValueError(f"kind/model must be one of {KINDS}, got {self.kind}/{self.model}")
        if not 0 <= self.positive_index < len(self.class_names):
            raise ValueError(f"positive_index {self.positive_index} out of range")
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")

    @property
    def anomaly_class(self) -> str:
        return self.class_names[self.positive_index]

    @property
    def normal_class(self) -> str:
        others = [c for i, c in enumerate(self.class_names) if i != self.positive_index]
        return others[0] if len(others) == 1 else "not_" + self.anomaly_class

    def predicted_class(self, scores: np.ndarray) -> list:
        """Class name per score: the anomaly class where score >= threshold."""
        return [self.anomaly_class if s >= self.threshold else self.normal_class for s in scores]


def versions() -> dict:
    """Versions of the software that made a detector."""
    import optax
    import scipy

    return {
        "drill_jax": drill_jax.__version__,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


# ---------------------------------------------------------------- features


@functools.lru_cache(maxsize=8)
def _bandpass_fn(settings: FeatureSettings):
    # Designing the filters takes ~0.5 s: once per settings, not once per window.
    low, high = settings.band_hz
    return filters.make_bandpass(low, high, settings.sample_rate, design=settings.filter_design)


def clip_log_mel(settings: FeatureSettings, clips: np.ndarray) -> np.ndarray:
    """Band-pass + log-Mel of equal-length clips. [N, clip_samples] -> [N, n_frames, n_mels] dB.

    The same numbers as ``features.clip_features(list(clips), rate, mel, bandpass, top_db=,
    band_hz=, filter_design=)`` (checked in the tests), with the filter designed once.
    """
    clips = _check_clips(settings, clips)
    x = _bandpass_fn(settings)(clips) if settings.bandpass else clips
    return features.log_mel(x, settings.mel, settings.top_db)


def _check_clips(settings: FeatureSettings, clips) -> np.ndarray:
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[0] == 0 or clips.shape[1] != settings.clip_samples:
        raise ValueError(
            f"expected clips [N >= 1, {settings.clip_samples}] (the detector's clip length at "
            f"{settings.sample_rate} Hz), got shape {clips.shape}"
        )
    if not np.all(np.isfinite(clips)):
        raise ValueError("clips hold non-finite samples")
    return clips


# ---------------------------------------------------------------- input checks


def check_rate(detector: Detector, sample_rate: int, source: str = "input") -> None:
    """Raises ValueError unless ``sample_rate`` (Hz) is the detector's rate."""
    want = detector.settings.sample_rate
    if int(sample_rate) != want:
        raise ValueError(
            f"{source} is {int(sample_rate)} Hz but the detector was trained at {want} Hz; "
            f"resample it (--resample) or record at {want} Hz"
        )


def fit_clip(detector: Detector, x: np.ndarray, name: str = "clip") -> np.ndarray:
    """The part of a sound the detector scores: its first ``clip_samples`` samples. [T] -> [L].

    Raises ValueError for a sound shorter than the clip length (it is not padded: padding
    would change the features the detector was trained on).
    """
    x = np.asarray(x, np.float32)
    n = detector.settings.clip_samples
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sound, got shape {x.shape}")
    if x.shape[0] < n:
        raise ValueError(
            f"{name}: {x.shape[0]} samples, shorter than the detector's clip of {n} samples "
            f"({n / detector.settings.sample_rate * 1e3:.1f} ms)"
        )
    return x[:n]


# ---------------------------------------------------------------- scoring


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
        check_rate(detector, sample_rate)
    clips = _check_clips(detector.settings, clips)
    if detector.kind == "supervised":
        state = _classifier_state(detector)
        proba = cnn.predict_proba(state, clip_log_mel(detector.settings, clips))
        return proba[:, detector.positive_index].astype(np.float64)
    from drill_jax.detection import anomaly  # the VAE path pulls in the VAE trainer

    return anomaly.detector_scores(detector, clips)


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
    template = np.zeros((1, s.n_frames, s.mel.n_mels), np.float32)
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


def classifier_variables(state: cnn.ClassifierState) -> dict:
    """The parts of a trained ClassifierState a detector keeps (as NumPy)."""
    return jax.device_get({"params": state.params, "x_mean": state.x_mean, "x_std": state.x_std})


def variables_template(kind: str, model_config: Any, settings: FeatureSettings) -> Any:
    """Freshly initialised variables of the right structure and shapes (for loading)."""
    if kind == "supervised":
        template = np.zeros((1, settings.n_frames, settings.mel.n_mels), np.float32)
        state = cnn.create_state(model_config, template, jax.random.key(0))
        return classifier_variables(state)
    from drill_jax.detection import anomaly

    return anomaly.vae_variables_template(model_config, settings)


# ---------------------------------------------------------------- save / load


def _config_to_json(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def _config_from_json(kind: str, obj: dict) -> Any:
    if kind == "supervised":
        cls = cnn.ClassifierConfig
    else:
        from drill_jax.vae import trainer

        cls = trainer.VAEConfig
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise ValueError(f"model config has unknown fields {sorted(unknown)} (newer drill_jax?)")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in obj.items()})


def save_detector(path: str, detector: Detector) -> None:
    """Writes ``detector`` to the directory ``path`` atomically.

    Everything is written to a temporary sibling directory first, which is then renamed
    onto ``path`` (an existing detector there is replaced; a crash leaves either the old
    or the new directory, never a half-written one).
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(path) and not os.path.isfile(os.path.join(path, META_FILE)):
        if os.listdir(path):
            raise ValueError(f"{path} exists and is not a detector directory; not replacing it")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": detector.kind,
        "model": detector.model,
        "class_names": list(detector.class_names),
        "positive_index": int(detector.positive_index),
        "anomaly_class": detector.anomaly_class,
        "sample_rate": int(detector.settings.sample_rate),
        "clip_samples": int(detector.settings.clip_samples),
        "threshold": float(detector.threshold),
        "threshold_rule": detector.threshold_rule,
        "score_name": detector.score_name,
        "score_meaning": SCORE_MEANINGS[detector.score_name],
        "features": detector.settings.to_json(),
        "model_config": _config_to_json(detector.model_config),
        "metrics": detector.metrics,
        "info": detector.info,
        "versions": versions(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    blob = flax.serialization.to_bytes(jax.device_get(detector.variables))
    text = json.dumps(meta, indent=2, default=_json_default) + "\n"
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-detector-")
    try:
        with open(os.path.join(tmp, PARAMS_FILE), "wb") as f:
            f.write(blob)
        with open(os.path.join(tmp, META_FILE), "w", encoding="utf-8") as f:
            f.write(text)
        old = None
        if os.path.exists(path):
            old = tempfile.mkdtemp(dir=parent, prefix=".old-detector-")
            os.rmdir(old)
            os.rename(path, old)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


SCORE_MEANINGS = {
    "p_anomaly": "softmax probability of the anomaly class (0..1)",
    "neg_elbo": "negative ELBO of the clip under a VAE trained on normal sounds only, nats per "
    "sound (reconstruction at the posterior mean + analytic KL); higher = less normal",
    "recon_mse": "mean squared error of the VAE reconstruction at the posterior mean; "
    "higher = less normal",
}


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_detector(path: str, sample_rate: Optional[int] = None) -> Detector:
    """Reads a detector directory written by ``save_detector``.

    Checks the format and version, rebuilds the configs, and restores the parameters into
    a template of the expected structure and shapes (a mismatch is a clear ValueError).
    ``sample_rate`` (Hz), when given, must be the detector's rate.
    """
    path = os.fspath(path)
    meta_path = os.path.join(path, META_FILE)
    params_path = os.path.join(path, PARAMS_FILE)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such detector directory")
    for p in (meta_path, params_path):
        if not os.path.isfile(p):
            raise ValueError(f"{path}: not a detector directory (missing {os.path.basename(p)})")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_path}: not valid JSON ({err})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{meta_path}: format version {meta['format_version']} is newer than this "
            f"drill_jax reads ({FORMAT_VERSION})"
        )
    kind = meta["kind"]
    if kind not in KINDS:
        raise ValueError(f"{meta_path}: unknown kind {kind!r}")
    settings = FeatureSettings.from_json(meta["features"])
    if settings.sample_rate != meta["sample_rate"] or settings.clip_samples != meta["clip_samples"]:
        raise ValueError(
            f"{meta_path}: sample_rate/clip_samples disagree with the feature settings"
        )
    model_config = _config_from_json(kind, meta["model_config"])
    template = variables_template(kind, model_config, settings)
    with open(params_path, "rb") as f:
        blob = f.read()
    try:
        variables = flax.serialization.from_bytes(template, blob)
    except Exception as err:  # msgpack / structure errors come in several types
        raise ValueError(
            f"{params_path}: parameters do not match the model config ({err})"
        ) from None
    _check_shapes(template, variables, params_path)
    detector = Detector(
        kind=kind,
        model=meta["model"],
        settings=settings,
        class_names=tuple(meta["class_names"]),
        positive_index=int(meta["positive_index"]),
        threshold=float(meta["threshold"]),
        threshold_rule=meta.get("threshold_rule", ""),
        score_name=meta["score_name"],
        model_config=model_config,
        variables=variables,
        metrics=meta.get("metrics", {}),
        info=dict(
            meta.get("info", {}),
            versions=meta.get("versions", {}),
            created_utc=meta.get("created_utc"),
        ),
    )
    if sample_rate is not None:
        check_rate(detector, sample_rate)
    return detector


def _check_shapes(template, variables, where: str) -> None:
    same_tree = jax.tree.structure(template) == jax.tree.structure(variables)
    want = [np.shape(v) for v in jax.tree.leaves(template)]
    got = [np.shape(v) for v in jax.tree.leaves(variables)]
    if not same_tree or want != got:
        raise ValueError(f"{where}: parameter shapes do not match the model config")


# ---------------------------------------------------------------- training a supervised detector


def crop_sounds(waveforms, clip_samples: int, names=None) -> np.ndarray:
    """First ``clip_samples`` samples of every sound. list of [T_i] -> [N, clip_samples].

    Raises ValueError naming the first sound that is shorter.
    """
    out = []
    for i, w in enumerate(waveforms):
        w = np.asarray(w, np.float32)
        if w.ndim != 1 or w.shape[0] < clip_samples:
            name = names[i] if names is not None else f"sound {i}"
            raise ValueError(f"{name}: {w.shape} samples, shorter than clip_samples={clip_samples}")
        out.append(w[:clip_samples])
    if not out:
        raise ValueError("no sounds given")
    return np.stack(out)


def sound_windows(waveforms, clip_samples: int, hop: Optional[int] = None, names=None):
    """Training clips of sounds: every whole window (``clip_samples`` long, ``hop`` apart,
    see drill_jax.streaming) of every sound, or only its first clip when ``hop`` is None.

    list of [T_i] -> (clips [M, clip_samples], owner [M] index of the sound each came from).
    Windows at every offset teach a model the same positions a stream shows it.
    """
    from drill_jax.detection import streaming

    if hop is None:
        return crop_sounds(waveforms, clip_samples, names), np.arange(len(waveforms))
    first = crop_sounds(waveforms, clip_samples, names)  # checks lengths
    del first
    clips, owner = [], []
    for i, w in enumerate(waveforms):
        win, _ = streaming.window_signal(np.asarray(w, np.float32), clip_samples, hop)
        clips.append(win)
        owner.append(np.full(win.shape[0], i))
    return np.concatenate(clips), np.concatenate(owner)


def detection_metrics(is_anomaly: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """ROC-AUC, pAUC (FPR <= 0.1, McClish-standardised as sklearn's roc_auc_score(max_fpr=0.1))
    and the detection rates at ``threshold``. is_anomaly [N] bool, scores [N]."""
    import sklearn.metrics as skm

    from drill_jax.evaluation import metrics as metrics_lib

    y = np.asarray(is_anomaly, bool)
    s = np.asarray(scores, np.float64)
    pred = s >= threshold
    out = {
        "n": int(y.size),
        "n_anomaly": int(y.sum()),
        "n_normal": int((~y).sum()),
        "tpr": float(pred[y].mean()) if y.any() else float("nan"),
        "fpr": float(pred[~y].mean()) if (~y).any() else float("nan"),
        "accuracy": float(np.mean(pred == y)),
    }
    if y.any() and (~y).any():
        out["roc_auc"] = float(skm.roc_auc_score(y, s))
        out["pauc"] = metrics_lib.pauc(y, s, max_fpr=0.1)
    out["pauc_definition"] = PAUC_DEFINITION
    return out


PAUC_DEFINITION = (
    "pAUC = sklearn.metrics.roc_auc_score(y, score, max_fpr=0.1): the partial AUC over "
    "FPR <= 0.1, McClish-standardised (0.5 = chance, 1 = perfect), not the raw area"
)


def train_supervised_detector(
    waveforms,
    labels: np.ndarray,
    class_names,
    sample_rate: int,
    positive_index: int = 0,
    clip_samples: Optional[int] = None,
    config: Optional[cnn.ClassifierConfig] = None,
    key: Optional[jax.Array] = None,
    threshold: float = 0.5,
    val_waveforms=None,
    val_labels=None,
    bandpass: bool = True,
    info: Optional[dict] = None,
    train_hop: Optional[int] = None,
) -> Detector:
    """Trains the jax_cnn classifier on sounds and wraps it as a supervised Detector.

    Every sound is cut to its first ``clip_samples`` samples (default: the shortest sound;
    bundled data: 2000), so all clips have the same length and no padding (which would
    leak the clip-length confound) enters the features. Score = P(positive class);
    ``threshold`` 0.5 = the argmax decision. ``train_hop`` (samples): train on every window
    of every sound at this hop instead of the first clip only (``sound_windows``). With
    validation sounds, their metrics (ROC-AUC, pAUC, TPR/FPR at the threshold, first clip of
    each sound) are stored in the detector.
    """
    labels = np.asarray(labels, np.int64)
    if len(waveforms) != labels.shape[0]:
        raise ValueError(f"{len(waveforms)} sounds but {labels.shape[0]} labels")
    clip_samples = int(clip_samples or min(np.asarray(w).shape[0] for w in waveforms))
    settings = FeatureSettings(
        sample_rate=int(sample_rate),
        clip_samples=clip_samples,
        bandpass=bandpass,
        mel=features.MelConfig(sample_rate=int(sample_rate)),
    )
    config = dataclasses.replace(
        config or cnn.ClassifierConfig(), n_classes=len(class_names)
    )
    clips, owner = sound_windows(waveforms, clip_samples, train_hop)
    x = clip_log_mel(settings, clips)
    key = jax.random.key(config.seed) if key is None else key
    state, history = cnn.fit(x, labels[owner], config, key)
    detector = Detector(
        kind="supervised",
        model="jax_cnn",
        settings=settings,
        class_names=tuple(class_names),
        positive_index=int(positive_index),
        threshold=float(threshold),
        threshold_rule=f"fixed {threshold:g} on P({class_names[positive_index]})",
        score_name="p_anomaly",
        model_config=config,
        variables=classifier_variables(state),
        info=dict(
            info or {},
            n_train=int(labels.size),
            n_train_clips=int(owner.size),
            train_hop=train_hop,
            n_train_per_class={c: int(np.sum(labels == i)) for i, c in enumerate(class_names)},
            final_train_loss=float(history["train_loss"][-1]),
        ),
    )
    if val_waveforms is not None:
        vy = np.asarray(val_labels) == positive_index
        vs = score_clips(detector, crop_sounds(val_waveforms, clip_samples))
        detector = dataclasses.replace(
            detector, metrics={"validation": detection_metrics(vy, vs, detector.threshold)}
        )
    return detector
