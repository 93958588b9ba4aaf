"""Folder-per-class WAV datasets (class = sub-folder name), with manifest verification."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import re
from typing import Optional, Sequence

import numpy as np

from drill_jax.data import clips as clips_lib
from drill_jax.data.audio_io import AudioError, read_wav

BUNDLED_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valmet")
BUNDLED_SAMPLE_RATE = 96000
MANIFEST = "manifest.csv"
WAV_SUFFIXES = (".wav", ".wave")


@dataclasses.dataclass(frozen=True)
class BadFile:
    """A file that was skipped, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Labelled sounds: the one type that carries waveforms, labels, class names, sample rate,
    positive class and groups together (a folder-per-class dataset, in class order then natural
    file order, or any subset or synthetic set built with ``from_arrays``).

    Attributes:
      waveforms: N float32 arrays [T_i] in [-1, 1] (lengths may differ).
      sample_rate: Hz, the same for every sound.
      labels: [N] int, index into ``class_names``.
      class_names: the sub-folder names, sorted (or as asked).
      paths: N file paths.
      groups: [N] int; a clip cut from a longer recording shares its recording's
        group, a whole file is its own group.
      starts: [N] int, the clip's first sample in its source file (0 for whole files).
      bad: the files skipped with ``skip_bad=True``.
      positive_class: the class scored as positive (anomaly) by metrics and detectors;
        None = 'anomaly' if that class exists, else the first class.
    """

    waveforms: tuple
    sample_rate: int
    labels: np.ndarray
    class_names: tuple
    paths: tuple
    groups: np.ndarray
    starts: np.ndarray
    bad: tuple = ()
    positive_class: Optional[str] = None

    def __post_init__(self):
        n = len(self.waveforms)
        for name in ("labels", "paths", "groups", "starts"):
            got = len(getattr(self, name))
            if got != n:
                raise ValueError(f"Dataset: {name} has {got} entries, {n} waveforms")
        if self.positive_class is not None and self.positive_class not in self.class_names:
            raise ValueError(
                f"Dataset: positive_class {self.positive_class!r} is not one of {self.class_names}"
            )

    @property
    def positive_index(self) -> int:
        """Index into ``class_names`` of the positive (anomaly) class."""
        if self.positive_class is not None:
            return self.class_names.index(self.positive_class)
        return self.class_names.index("anomaly") if "anomaly" in self.class_names else 0

    @staticmethod
    def from_arrays(
        waveforms, labels, class_names, sample_rate, groups=None, positive_class=None
    ) -> "Dataset":
        """Labelled sounds made in memory (tests, synthetic sets): paths are '<memory:i>'."""
        labels = np.asarray(labels, np.int64)
        n = len(waveforms)
        return Dataset(
            waveforms=tuple(np.asarray(w, np.float32) for w in waveforms),
            sample_rate=int(sample_rate),
            labels=labels,
            class_names=tuple(class_names),
            paths=tuple(f"<memory:{i}>" for i in range(n)),
            groups=np.arange(n, dtype=np.int64) if groups is None else np.asarray(groups, np.int64),
            starts=np.zeros(n, np.int64),
            positive_class=positive_class,
        )

    def __len__(self) -> int:
        return len(self.waveforms)

    @property
    def lengths(self) -> np.ndarray:
        """[N] clip lengths in samples."""
        return np.array([w.shape[0] for w in self.waveforms], np.int64)

    def subset(self, idx) -> "Dataset":
        """The items at ``idx`` (an index array), same classes and rate."""
        idx = np.asarray(idx, np.int64)
        return dataclasses.replace(
            self,
            waveforms=tuple(self.waveforms[i] for i in idx),
            labels=self.labels[idx],
            paths=tuple(self.paths[i] for i in idx),
            groups=self.groups[idx],
            starts=self.starts[idx],
        )


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: fault_2 < fault_10."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(data_dir: str) -> Optional[dict]:
    """``manifest.csv`` as {relative path: row dict}, or None when absent."""
    path = os.path.join(data_dir, MANIFEST)
    if not os.path.isfile(path):
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0] or "sha256" not in rows[0]:
        raise ValueError(f"{path}: a manifest needs 'path' and 'sha256' columns")
    return {row["path"].replace("\\", "/"): row for row in rows}


def list_wavs(data_dir: str, classes: Optional[Sequence[str]] = None) -> list[tuple[str, str]]:
    """(class name, path) of every WAV in ``data_dir/<class>/``, classes sorted (or as
    given), files in natural order. Raises if the folder or a class is missing."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{data_dir}: data folder does not exist")
    found = sorted(
        d
        for d in os.listdir(data_dir)
        if os.path.isdir(os.path.join(data_dir, d)) and not d.startswith(".")
    )
    if classes is None:
        classes = found
    else:
        missing = [c for c in classes if c not in found]
        if missing:
            raise FileNotFoundError(f"{data_dir}: no class folder(s) {missing}; found {found}")
    if len(classes) == 0:
        raise FileNotFoundError(f"{data_dir}: no class sub-folders (expected <class>/*.wav)")
    out = []
    for c in classes:
        folder = os.path.join(data_dir, c)
        names = sorted(
            (n for n in os.listdir(folder) if n.lower().endswith(WAV_SUFFIXES)), key=natural_key
        )
        out.extend((c, os.path.join(folder, n)) for n in names)
    if not out:
        raise FileNotFoundError(f"{data_dir}: no .wav files in {list(classes)}")
    return out


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """How ``load_dataset`` reads a folder-per-class dataset.

    Attributes:
      sample_rate: expected rate in Hz (None, flag value 'none', accepts the first file's
        rate and then requires every file to match it).
      resample: resample files at another rate instead of rejecting them.
      channel: channel to keep from multi-channel files (None rejects them).
      classes: class folders to load, in this label order (default: all, sorted).
      clip_seconds: if set, cut every file into clips of this duration (hop
        ``hop_seconds``, default = clip_seconds); a clip keeps its file as group.
        Files shorter than one clip are reported as bad (with ``last_clip='drop'``).
      hop_seconds: seconds between clip starts (None = clip_seconds: no overlap).
      last_clip: the tail rule of ``clips.window_signal``: 'drop' keeps whole clips only,
        'pad' adds a zero-padded last clip over the remaining samples.
      skip_bad: collect bad files in ``Dataset.bad`` and go on, instead of raising.
      verify_manifest: when ``manifest.csv`` exists, check every listed file's SHA-256.
    """

    sample_rate: Optional[int] = BUNDLED_SAMPLE_RATE
    resample: bool = False
    channel: Optional[int] = None
    classes: Optional[Sequence[str]] = None
    clip_seconds: Optional[float] = None
    hop_seconds: Optional[float] = None
    last_clip: str = "drop"
    skip_bad: bool = False
    verify_manifest: bool = True

    def __post_init__(self):
        c, h = self.clip_seconds, self.hop_seconds
        if (c is not None and c <= 0) or (h is not None and h <= 0):
            raise ValueError(f"clip_seconds/hop_seconds must be positive, got {c}, {h}")


def load_dataset(
    data_dir: Optional[str] = None, options: Optional[LoadOptions] = None, **fields
) -> Dataset:
    """Loads a folder-per-class WAV dataset.

    Args:
      data_dir: folder with one sub-folder per class; None = the bundled Valmet data.
      options: how to read it (default ``LoadOptions()``).
      **fields: ``LoadOptions`` fields that replace those of ``options``
        (``load_dataset(classes=["normal"], clip_seconds=0.5)``).

    Raises:
      AudioError: the first bad file (one-line message: path and reason), unless skip_bad.
      FileNotFoundError: missing folder, class, or no WAVs at all.
      TypeError: a keyword that is not a LoadOptions field.
    """
    opts = dataclasses.replace(options or LoadOptions(), **fields)
    data_dir = BUNDLED_DATA_DIR if data_dir is None else os.fspath(data_dir)
    entries = list_wavs(data_dir, opts.classes)
    names = opts.classes if opts.classes is not None else dict.fromkeys(c for c, _ in entries)
    class_names = tuple(names)
    manifest = read_manifest(data_dir) if opts.verify_manifest else None
    rate = opts.sample_rate
    waves, labels, paths, groups, starts, bad = [], [], [], [], [], []
    for file_id, (cls, path) in enumerate(entries):
        try:
            if manifest is not None:
                _check_manifest(manifest, data_dir, path)
            x, file_rate = read_wav(path, rate, opts.resample, opts.channel)
            if rate is None:
                rate = file_rate
            pieces, offsets = [x], [0]
            if opts.clip_seconds is not None:
                pieces, offsets = _cut(path, x, rate, opts)
        except AudioError as err:
            if not opts.skip_bad:
                raise
            bad.append(BadFile(err.path, err.reason))
            continue
        for piece, off in zip(pieces, offsets):
            waves.append(np.asarray(piece, np.float32))
            labels.append(class_names.index(cls))
            paths.append(path)
            groups.append(file_id)
            starts.append(int(off))
    if not waves:
        raise AudioError(data_dir, f"no usable sounds ({len(bad)} bad files)")
    return Dataset(
        waveforms=tuple(waves),
        sample_rate=int(rate),
        labels=np.asarray(labels, np.int64),
        class_names=class_names,
        paths=tuple(paths),
        groups=np.asarray(groups, np.int64),
        starts=np.asarray(starts, np.int64),
        bad=tuple(bad),
    )


def _check_manifest(manifest: dict, data_dir: str, path: str) -> None:
    rel = os.path.relpath(path, data_dir).replace(os.sep, "/")
    row = manifest.get(rel)
    if row is None:
        return  # files not listed are loaded unverified
    if file_sha256(path) != row["sha256"].strip().lower():
        raise AudioError(path, "SHA-256 does not match manifest.csv (file changed or corrupt)")


def _cut(path: str, x: np.ndarray, rate: int, opts: LoadOptions) -> tuple[list, list]:
    """[T] samples at ``rate`` Hz -> (clips of opts.clip_seconds, their start samples)."""
    clip_len = int(round(opts.clip_seconds * rate))
    hop = clip_len if opts.hop_seconds is None else int(round(opts.hop_seconds * rate))
    pieces, offsets = clips_lib.window_signal(x, clip_len, hop, opts.last_clip)
    if len(pieces) == 0:
        raise AudioError(path, f"{x.shape[0]} samples, shorter than one {clip_len}-sample clip")
    return list(pieces), list(offsets)
