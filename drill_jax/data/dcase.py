"""DCASE task-2 data: the ``<root>/<machine_type>/{train,test}/*.wav`` layout and the file-name
conventions of 2020-2025 (machine type, section, domain, split, label, attributes per file)."""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from typing import Optional, Sequence

import numpy as np

from drill_jax.data.audio_io import AudioError, read_wav
from drill_jax.data.dataset import BadFile, Dataset, natural_key

SPLITS = ("train", "test")
DOMAINS = ("source", "target")
# Dataset labels of DCASE files: test files of the evaluation sets carry no label.
CLASS_NAMES = ("normal", "anomaly", "unlabelled")

# 2021-2025: section_00_source_train_normal_0000_<attributes>.wav (attributes optional)
_NAMED = re.compile(
    r"^section_(?P<section>\d+)_(?P<domain>source|target)_(?P<split>train|test)_"
    r"(?P<label>normal|anomaly)_(?P<index>\d+)(?:_(?P<attrs>.+))?$"
)
# 2020: normal_id_00_00000000.wav / anomaly_id_02_00000012.wav
_ID = re.compile(r"^(?P<label>normal|anomaly)_id_(?P<section>\d+)_(?P<index>\d+)$")
# evaluation test files: section_00_0000.wav (label and domain hidden)
_HIDDEN = re.compile(r"^section_(?P<section>\d+)_(?P<index>\d+)$")


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a DCASE file's name (and ``attributes_XX.csv``) says about it.

    Attributes:
      path: the WAV file.
      machine_type: the folder above ``train``/``test`` (e.g. 'ToyCar').
      split: 'train' or 'test' (the folder).
      section: two-digit section (2021+) or machine id (2020), e.g. '00'.
      domain: 'source', 'target', or None when hidden (evaluation test files); 2020 files
        are all 'source'.
      label: 0 normal, 1 anomaly, None hidden.
      attributes: ((name, value), ...) from the file name or the attributes csv; () when
        the file has none ('noAttributes'); an odd suffix is kept whole as ('attr', suffix).
    """

    path: str
    machine_type: str
    split: str
    section: str
    domain: Optional[str]
    label: Optional[int]
    attributes: tuple = ()

    @property
    def name(self) -> str:
        """The file name without folder (the key of the official CSV files)."""
        return os.path.basename(self.path)


def parse_name(name: str) -> dict:
    """Fields of a DCASE file name (without folder), as a dict with keys section, domain,
    split (or None when the name does not say), label (0/1/None), attributes.

    Raises ValueError (one line) for a name no convention matches.
    """
    stem = os.path.splitext(os.path.basename(name))[0]
    m = _NAMED.match(stem)
    if m:
        return {
            "section": m["section"],
            "domain": m["domain"],
            "split": m["split"],
            "label": int(m["label"] == "anomaly"),
            "attributes": _split_attributes(m["attrs"]),
        }
    m = _ID.match(stem)
    if m:
        label = int(m["label"] == "anomaly")
        return {"section": m["section"], "domain": "source", "split": None, "label": label,
                "attributes": ()}
    m = _HIDDEN.match(stem)
    if m:
        return {"section": m["section"], "domain": None, "split": None, "label": None,
                "attributes": ()}
    raise ValueError(f"{name}: not a DCASE file name (section_XX_<domain>_<split>_<label>_N, "
                     "<label>_id_XX_N or section_XX_N)")


def _split_attributes(suffix: Optional[str]) -> tuple:
    if not suffix or suffix == "noAttributes":
        return ()
    parts = suffix.split("_")
    if len(parts) % 2:
        return (("attr", suffix),)
    return tuple((parts[i], parts[i + 1]) for i in range(0, len(parts), 2))


def read_attribute_csvs(machine_dir: str) -> dict:
    """{file name: ((name, value), ...)} from every ``attributes_XX.csv`` in a machine folder
    (columns file_name, d1p, d1v, d2p, d2v, ...: parameter names and values). {} if none."""
    out = {}
    names = sorted(n for n in os.listdir(machine_dir) if re.match(r"^attributes_\d+\.csv$", n))
    for n in names:
        path = os.path.join(machine_dir, n)
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows or rows[0][:1] != ["file_name"]:
            raise ValueError(f"{path}: an attributes csv needs a 'file_name' first column")
        for row in rows[1:]:
            if not row:
                continue
            pairs = [(row[i], row[i + 1]) for i in range(1, len(row) - 1, 2) if row[i]]
            out[os.path.basename(row[0])] = tuple(pairs)
    return out


def machine_types(root: str) -> list[str]:
    """Sorted machine-type folders of a DCASE root (those with a ``train`` sub-folder)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: DCASE data folder does not exist")
    found = sorted(
        d for d in os.listdir(root)
        if not d.startswith(".") and os.path.isdir(os.path.join(root, d, "train"))
    )
    if not found:
        raise FileNotFoundError(f"{root}: no <machine_type>/train/ folders (DCASE layout)")
    return found


def scan_machine(root: str, machine_type: str) -> tuple[list[FileInfo], list[BadFile]]:
    """Every WAV of ``root/machine_type/{train,test}`` as FileInfo (natural order), and the
    files whose names no convention matches (as BadFile). Raises FileNotFoundError (one
    line) when the machine folder or its ``train`` folder is missing or has no WAVs."""
    machine_dir = os.path.join(root, machine_type)
    if not os.path.isdir(os.path.join(machine_dir, "train")):
        raise FileNotFoundError(f"{machine_dir}: no train/ folder (expected <machine_type>/train/)")
    attrs = read_attribute_csvs(machine_dir)
    infos, bad = [], []
    for split in SPLITS:
        folder = os.path.join(machine_dir, split)
        if not os.path.isdir(folder):
            continue
        names = sorted((n for n in os.listdir(folder) if n.lower().endswith(".wav")),
                       key=natural_key)
        for n in names:
            path = os.path.join(folder, n)
            try:
                fields = parse_name(n)
            except ValueError as err:
                bad.append(BadFile(path, str(err).split(": ", 1)[1]))
                continue
            fields["split"] = split
            fields["attributes"] = attrs.get(n, fields["attributes"])
            infos.append(FileInfo(path=path, machine_type=machine_type, **fields))
    if not any(i.split == "train" for i in infos):
        raise FileNotFoundError(f"{machine_dir}/train: no DCASE-named .wav files")
    return infos, bad


def load_files(
    infos: Sequence[FileInfo], sample_rate: Optional[int] = None
) -> tuple[Dataset, tuple, tuple]:
    """Reads the files through ``read_wav`` (one-line AudioError reasons); bad files are skipped.

    Args:
      infos: the files to read.
      sample_rate: expected rate in Hz (None: the first good file's rate, then every file
        must match it).

    Returns:
      (Dataset with class names ``CLASS_NAMES`` and positive class 'anomaly', one item per
      good file, group = its index; the FileInfo of each item; the skipped files as BadFile).
    """
    waves, kept, bad = [], [], []
    rate = sample_rate
    for info in infos:
        try:
            x, rate = read_wav(info.path, rate)
        except AudioError as err:
            bad.append(BadFile(err.path, err.reason))
            continue
        waves.append(x)
        kept.append(info)
    if not waves:
        raise AudioError(os.path.dirname(infos[0].path) if infos else "<none>",
                         f"no usable sounds ({len(bad)} bad files)")
    labels = [2 if i.label is None else i.label for i in kept]
    data = dataclasses.replace(
        Dataset.from_arrays(waves, labels, CLASS_NAMES, rate, positive_class="anomaly"),
        paths=tuple(i.path for i in kept),
    )
    return data, tuple(kept), tuple(bad)


def metadata_classes(infos: Sequence[FileInfo]) -> tuple[np.ndarray, tuple]:
    """The outlier-exposure classes of training files: one class per (section, attributes),
    or per (section, domain) where a file has no attributes. Returns ([N] int class index,
    sorted class names 'section_XX|<attributes or domain>')."""
    keys = []
    for i in infos:
        what = "_".join(f"{k}_{v}" for k, v in i.attributes) or (i.domain or "unknown")
        keys.append(f"section_{i.section}|{what}")
    names = tuple(sorted(set(keys)))
    return np.array([names.index(k) for k in keys], np.int64), names
