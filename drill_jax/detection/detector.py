"""A trained detector as one self-describing directory: the format, save and load.

Layout of a detector directory::

    DIR/detector.json    # format, version, kind, model, feature settings, class names,
                         # sample rate, clip length, window and file thresholds (+ how they
                         # were chosen), file aggregate, score meaning, model config,
                         # versions, metrics, training record
    DIR/params.msgpack   # flax.serialization msgpack of the model's arrays pytree

Every model of ``detection.registry`` is saved and loaded here alike: its config through the
registry's JSON functions, its arrays as msgpack, checked on load by the model's ``check``.
Every clip the detector scores has exactly ``settings.clip_samples`` samples at
``settings.sample_rate`` Hz, the length it was trained on (no padding). A window score
``>= threshold`` means "anomaly"; a file's score (its windows' scores aggregated by
``aggregate``) ``>= file_threshold`` means an anomalous file.
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
from drill_jax import files
from drill_jax.detection import registry, thresholds
from drill_jax.features import FeatureSettings

FORMAT = "drill_jax-detector"
FORMAT_VERSION = 3
META_FILE = "detector.json"
PARAMS_FILE = "params.msgpack"


@dataclasses.dataclass(frozen=True)
class Detector:
    """A loaded (or freshly trained) detector.

    Attributes:
      model: a name of ``detection.registry`` (its kind follows from it).
      settings: FeatureSettings (clip_samples fixed); class_names: e.g. ('anomaly',
        'normal'); positive_index: index of the anomaly class in class_names.
      threshold: a WINDOW score >= threshold -> anomaly; threshold_rule: how it was chosen.
      file_threshold: a FILE score (``aggregate`` of its window scores) >= file_threshold
        -> anomalous file; file_threshold_rule: how it was chosen.
      aggregate: how window scores make a file score ('mean', 'max', 'median').
      model_config: the model's Config; variables: its arrays pytree.
      metrics: validation metrics; info: training record, versions, creation time.
    """

    model: str
    settings: FeatureSettings
    class_names: tuple
    positive_index: int
    threshold: float
    threshold_rule: str
    file_threshold: float
    file_threshold_rule: str
    model_config: Any
    variables: Any
    aggregate: str = "mean"
    metrics: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        registry.get(self.model)
        if not 0 <= self.positive_index < len(self.class_names):
            raise ValueError(f"positive_index {self.positive_index} out of range")
        if not (np.isfinite(self.threshold) and np.isfinite(self.file_threshold)):
            raise ValueError(
                f"thresholds must be finite, got {self.threshold}, {self.file_threshold}"
            )
        if self.aggregate not in thresholds.AGGREGATES:
            raise ValueError(
                f"aggregate: one of {list(thresholds.AGGREGATES)}, got {self.aggregate!r}"
            )
        if self.settings.clip_samples is None:
            raise ValueError("a detector's FeatureSettings must fix clip_samples")

    @property
    def kind(self) -> str:
        return registry.get(self.model).KIND

    @property
    def score_name(self) -> str:
        return registry.get(self.model).SCORE_NAME

    @property
    def anomaly_class(self) -> str:
        return self.class_names[self.positive_index]

    @property
    def normal_class(self) -> str:
        others = [c for i, c in enumerate(self.class_names) if i != self.positive_index]
        return others[0] if len(others) == 1 else "not_" + self.anomaly_class

    def predicted_class(self, scores, threshold: Optional[float] = None) -> list:
        """Class name per score: the anomaly class where score >= ``threshold`` (default:
        the window threshold; pass ``file_threshold`` for file scores)."""
        thr = self.threshold if threshold is None else threshold
        return [self.anomaly_class if s >= thr else self.normal_class for s in scores]


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
    """Clips as float32 [N >= 1, settings.clip_samples], finite; one-line ValueError otherwise."""
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[0] == 0 or clips.shape[1] != settings.clip_samples:
        raise ValueError(
            f"expected clips [N >= 1, {settings.clip_samples}] (the detector's clip length at "
            f"{settings.sample_rate} Hz), got shape {clips.shape}"
        )
    if not np.all(np.isfinite(clips)):
        raise ValueError("clips hold non-finite samples")
    return clips


# ---------------------------------------------------------------- save / load


def _meta(detector: Detector) -> dict:
    """detector.json's content."""
    module = registry.get(detector.model)
    return {
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
        "file_threshold": float(detector.file_threshold),
        "file_threshold_rule": detector.file_threshold_rule,
        "aggregate": detector.aggregate,
        "score_name": detector.score_name,
        "score_meaning": module.SCORE_MEANING,
        "features": detector.settings.to_json(),
        "model_config": registry.config_to_json(detector.model_config),
        "metrics": detector.metrics,
        "info": detector.info,
        "versions": versions(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


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
    blob = flax.serialization.msgpack_serialize(jax.device_get(detector.variables))
    text = json.dumps(_meta(detector), indent=2, default=_json_default) + "\n"
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


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _read_meta(path: str) -> dict:
    """detector.json of a detector directory, format and version checked."""
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such detector directory")
    for p in (meta_path, os.path.join(path, PARAMS_FILE)):
        if not os.path.isfile(p):
            raise ValueError(f"{path}: not a detector directory (missing {os.path.basename(p)})")
    meta = files.read_json(meta_path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: not a {FORMAT!r} file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{meta_path}: detector format version {meta.get('format_version')!r}; this "
            f"drill_jax reads version {FORMAT_VERSION} (retrain it with "
            f"experiments.train_detector, or use the drill_jax that wrote it)"
        )
    return meta


def load_detector(path: str, sample_rate: Optional[int] = None) -> Detector:
    """Reads a detector directory written by ``save_detector``.

    Checks the format and version, rebuilds the model config through the registry and
    checks the arrays with the model's ``check`` (a mismatch is a one-line ValueError).
    ``sample_rate`` (Hz), when given, must be the detector's rate.
    """
    path = os.fspath(path)
    meta = _read_meta(path)
    meta_path, params_path = os.path.join(path, META_FILE), os.path.join(path, PARAMS_FILE)
    try:
        module = registry.get(meta["model"])
        settings = FeatureSettings.from_json(meta["features"])
        config = registry.config_from_json(meta["model"], meta["model_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{meta_path}: {err}") from None
    if settings.sample_rate != meta["sample_rate"] or settings.clip_samples != meta["clip_samples"]:
        raise ValueError(
            f"{meta_path}: sample_rate/clip_samples disagree with the feature settings"
        )
    with open(params_path, "rb") as f:
        blob = f.read()
    try:
        variables = flax.serialization.msgpack_restore(blob)
    except Exception as err:  # msgpack errors come in several types
        raise ValueError(f"{params_path}: unreadable parameters ({err})") from None
    module.check(config, settings, variables, params_path)
    detector = Detector(
        model=meta["model"],
        settings=settings,
        class_names=tuple(meta["class_names"]),
        positive_index=int(meta["positive_index"]),
        threshold=float(meta["threshold"]),
        threshold_rule=meta.get("threshold_rule", ""),
        file_threshold=float(meta["file_threshold"]),
        file_threshold_rule=meta.get("file_threshold_rule", ""),
        aggregate=meta.get("aggregate", "mean"),
        model_config=config,
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
