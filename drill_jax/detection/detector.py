"""A trained detector as one self-describing directory: the format, save and load.

Layout of a detector directory::

    DIR/detector.json    # format, version, kind, model, input, feature settings, class
                         # names, sample rate, clip length, threshold (+ how it was chosen),
                         # score definition, model config, versions, metrics, training record
    DIR/params.msgpack   # flax.serialization msgpack of the variables pytree

Two kinds:

* ``supervised``, model ``jax_cnn``: ``drill_jax.classify.cnn`` on the clip's log-Mel
  features (``drill_jax.features.extract``); score = P(anomaly), the softmax probability
  of ``class_names[positive_index]``. Model ``clip_classical``: the recipes of
  ``drill_jax.classify.classical`` (standardised logistic regression / RBF-SVM on clip
  features, ``features.clipstats``, band-passed by the settings' band) stored as arrays;
  score = mean over recipes of the logistic function of each model's decision value.
* ``unsupervised`` (model ``vae``): ``drill_jax.vae`` trained on normal sounds only, on
  the clip's log-Mel or its first ``NetworkConfig.input_length`` samples; score = negative
  ELBO in nats per clip (or the reconstruction MSE), see ``drill_jax.detection.scoring``.

Every clip the detector scores has exactly ``settings.clip_samples`` samples at
``settings.sample_rate`` Hz, the length it was trained on, so features are identical in
training, file scoring and streaming (no padding: ``n_frames`` frames per clip). A score
``>= threshold`` means "anomaly". Format version 2 stores the flat ``FeatureSettings``;
version 1 directories (nested Mel settings) still load.
"""

from __future__ import annotations

import dataclasses
import datetime
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
import optax
import scipy

import drill_jax
from drill_jax.classify import classical, cnn
from drill_jax.features import FeatureSettings
from drill_jax.vae import trainer

FORMAT = "drill_jax-detector"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
META_FILE = "detector.json"
PARAMS_FILE = "params.msgpack"
KINDS = {"supervised": ("jax_cnn", "clip_classical"), "unsupervised": ("vae",)}
INPUT_REPRS = ("logmel", "waveform")


@dataclasses.dataclass(frozen=True)
class Detector:
    """A loaded (or freshly trained) detector.

    Attributes:
      kind: 'supervised' or 'unsupervised'; model: 'jax_cnn' or 'clip_classical'
        (supervised), 'vae' (unsupervised).
      settings: FeatureSettings; class_names: e.g. ('anomaly', 'normal');
      positive_index: index of the anomaly class in class_names.
      threshold: score >= threshold -> anomaly; threshold_rule: how it was chosen.
      score_name: 'p_anomaly', 'neg_elbo' or 'recon_mse'.
      model_config: cnn.ClassifierConfig, classical.ClassicalConfig or trainer.VAEConfig.
      variables: pytree of arrays (supervised: params, x_mean, x_std; VAE: params,
        batch_stats).
      metrics: validation metrics; info: training record, versions, creation time.
      input_repr: what the model reads: 'logmel' (``features.extract`` of the clip; the
        classifier and the log-Mel VAE) or 'waveform' (the clip's first
        ``NetworkConfig.input_length`` raw samples; the paper's VAE).
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
    input_repr: str = "logmel"

    def __post_init__(self):
        if self.model not in KINDS.get(self.kind, ()):
            raise ValueError(f"kind/model must be one of {KINDS}, got {self.kind}/{self.model}")
        if not 0 <= self.positive_index < len(self.class_names):
            raise ValueError(f"positive_index {self.positive_index} out of range")
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")
        if self.input_repr not in INPUT_REPRS:
            raise ValueError(f"input_repr must be one of {INPUT_REPRS}, got {self.input_repr!r}")
        if self.kind == "supervised" and self.input_repr != "logmel":
            raise ValueError("a supervised detector reads log-Mel features (input_repr='logmel')")
        if self.settings.clip_samples is None:
            raise ValueError("a detector's FeatureSettings must fix clip_samples")

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
    return {
        "drill_jax": drill_jax.__version__,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


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


def check_clips(settings: FeatureSettings, clips) -> np.ndarray:
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[0] == 0 or clips.shape[1] != settings.clip_samples:
        raise ValueError(
            f"expected clips [N >= 1, {settings.clip_samples}] (the detector's clip length at "
            f"{settings.sample_rate} Hz), got shape {clips.shape}"
        )
    if not np.all(np.isfinite(clips)):
        raise ValueError("clips hold non-finite samples")
    return clips


# ---------------------------------------------------------------- variables


def classifier_variables(state: cnn.ClassifierState) -> dict:
    """The parts of a trained ClassifierState a detector keeps (as NumPy)."""
    return jax.device_get({"params": state.params, "x_mean": state.x_mean, "x_std": state.x_std})


def vae_variables_template(config: trainer.VAEConfig, input_repr: str = "logmel") -> dict:
    """Freshly initialised variables of a detector's VAE: 'params', 'batch_stats' and, for
    log-Mel input, 'norm' {'mean', 'std'} [input_length]."""
    state = trainer.create_state(config, jax.random.key(0))
    v = jax.device_get({"params": state.params, "batch_stats": state.batch_stats})
    if input_repr == "logmel":
        n = config.network.input_length
        v["norm"] = {"mean": np.zeros(n, np.float32), "std": np.ones(n, np.float32)}
    return v


def variables_template(
    kind: str, model_config: Any, settings: FeatureSettings, input_repr: str = "logmel"
) -> Any:
    """Freshly initialised variables of the right structure and shapes (for loading)."""
    if kind == "supervised":
        template = np.zeros((1, settings.n_frames, settings.n_mels), np.float32)
        state = cnn.create_state(model_config, template, jax.random.key(0))
        return classifier_variables(state)

    return vae_variables_template(model_config, input_repr)


# ---------------------------------------------------------------- save / load


def _config_to_json(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def _config_from_json(kind: str, obj: dict, model: str = "") -> Any:
    if model == "clip_classical":
        cls = classical.ClassicalConfig
    elif kind == "supervised":
        cls = cnn.ClassifierConfig
    else:
        return trainer.VAEConfig.from_json(obj)
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
        "input_repr": detector.input_repr,
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
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{meta_path}: detector format version {version!r}; this drill_jax reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))} (retrain it, or use the "
            f"drill_jax that wrote it)"
        )
    kind = meta["kind"]
    if kind not in KINDS:
        raise ValueError(f"{meta_path}: unknown kind {kind!r}")
    try:
        if version == 1:  # nested Mel settings, 'bandpass' flag, input_repr among features
            settings = FeatureSettings.from_v1_json(meta["features"])
            input_repr = meta["features"].get("input_repr", "logmel")
        else:
            settings = FeatureSettings.from_json(meta["features"])
            input_repr = meta.get("input_repr", "logmel")
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"{meta_path}: feature settings of format version {version} unreadable ({err})"
        ) from None
    if settings.sample_rate != meta["sample_rate"] or settings.clip_samples != meta["clip_samples"]:
        raise ValueError(
            f"{meta_path}: sample_rate/clip_samples disagree with the feature settings"
        )
    model = meta.get("model", "")
    if model not in KINDS[kind]:
        raise ValueError(f"{meta_path}: unknown model {model!r} for kind {kind!r}")
    model_config = _config_from_json(kind, meta["model_config"], model)
    with open(params_path, "rb") as f:
        blob = f.read()
    if model == "clip_classical":  # sizes vary (support vectors): checked by structure
        variables = _restore_classical(blob, model_config, params_path)
    else:
        template = variables_template(kind, model_config, settings, input_repr)
        try:
            variables = flax.serialization.from_bytes(template, blob)
        except Exception as err:  # msgpack / structure errors come in several types
            raise ValueError(
                f"{params_path}: parameters do not match the model config ({err})"
            ) from None
        _check_shapes(template, variables, params_path)
    detector = Detector(
        kind=kind,
        model=model,
        settings=settings,
        class_names=tuple(meta["class_names"]),
        positive_index=int(meta["positive_index"]),
        threshold=float(meta["threshold"]),
        threshold_rule=meta.get("threshold_rule", ""),
        score_name=meta["score_name"],
        model_config=model_config,
        variables=variables,
        input_repr=input_repr,
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


_CLASSICAL_ARRAYS = {
    "lr": ("coef", "intercept", "mean", "scale"),
    "svm": ("dual", "gamma", "intercept", "mean", "scale", "support"),
}


def _restore_classical(blob: bytes, config: Any, where: str) -> dict:
    """The arrays of a clip_classical detector, checked against its recipes."""
    try:
        variables = flax.serialization.msgpack_restore(blob)
    except Exception as err:
        raise ValueError(f"{where}: unreadable parameters ({err})") from None
    for i, recipe in enumerate(config.recipes):
        models = ("lr", "svm") if recipe.model == "ensemble" else (recipe.model,)
        entry = variables.get(f"r{i}") if isinstance(variables, dict) else None
        if not isinstance(entry, dict) or sorted(entry) != sorted(models):
            raise ValueError(f"{where}: parameters do not match recipe {i} ({recipe.name})")
        for m in models:
            if tuple(sorted(entry[m])) != _CLASSICAL_ARRAYS[m]:
                raise ValueError(f"{where}: recipe {i} {m}: arrays {sorted(entry[m])}")
    if len(variables) != len(config.recipes):
        raise ValueError(f"{where}: {len(variables)} models for {len(config.recipes)} recipes")
    return variables
