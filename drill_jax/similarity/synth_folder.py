"""A folder of synthesized sounds (``<dir>/<class>/*.wav`` plus an optional manifest.csv), read
against the real dataset it imitates: which classes match, which groups (per class, then per
synthesis mode) to score, and which real sound a synthesized one was decoded from."""

from __future__ import annotations

import csv
import dataclasses
import os
from typing import Optional

import numpy as np

from drill_jax import data

SYNTH_MANIFEST = "manifest.csv"
_PATH_COLUMNS = ("path", "file", "filename", "wav", "synth_path")
MIN_GROUP = 5  # synthesized sounds a group needs to be scored


def read_synth_manifest(synth_dir: str) -> dict:
    """``<synth_dir>/manifest.csv`` as {"<class>/<file>.wav": row dict}; {} when absent.

    The file column is the first of path/file/filename/wav/synth_path present; a bare file name
    is keyed under the row's ``class`` column.
    """
    path = os.path.join(synth_dir, SYNTH_MANIFEST)
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    col = next((c for c in _PATH_COLUMNS if c in rows[0]), None)
    if col is None:
        raise ValueError(f"{path}: no file column (one of {_PATH_COLUMNS}) in {list(rows[0])}")
    out = {}
    for row in rows:
        rel = row[col].replace("\\", "/")
        if "/" not in rel and row.get("class"):
            rel = f"{row['class']}/{rel}"
        out["/".join(rel.split("/")[-2:])] = row
    return out


def source_column(manifest: dict) -> Optional[str]:
    """The manifest column naming each sound's source file ('source_file', else the first
    column naming a source), or None."""
    if not manifest:
        return None
    keys = list(next(iter(manifest.values())).keys())
    for want in (("source", "file"), ("source", "path"), ("source",)):
        found = [k for k in keys if all(w in k.lower() for w in want)]
        if found:
            return found[0]
    return None


def rel(path: str) -> str:
    """'<class>/<file>' of a path (its last two components)."""
    return "/".join(os.path.normpath(path).replace(os.sep, "/").split("/")[-2:])


def find(ds: data.Dataset, rel_path: str) -> int:
    """Index of the sound whose '<class>/<file>' is ``rel_path``; FileNotFoundError if none."""
    want = "/".join(rel_path.replace("\\", "/").split("/")[-2:])
    for i, p in enumerate(ds.paths):
        if rel(p) == want:
            return i
    raise FileNotFoundError(f"{rel_path}: not among the loaded sounds")


@dataclasses.dataclass(frozen=True)
class SynthFolder:
    """synth: the synthesized sounds; manifest: ``read_synth_manifest``; classes: the synth
    classes that the real dataset holds, in synth order; path: the folder."""

    synth: data.Dataset
    manifest: dict
    classes: tuple
    path: str

    def modes(self, idx) -> np.ndarray:
        """The manifest's 'mode' of each synthesized sound at ``idx`` ('' where none): [len]."""
        return np.array(
            [self.manifest.get(rel(self.synth.paths[i]), {}).get("mode", "") for i in idx]
        )

    def groups(self, class_name: str) -> list:
        """[(group name, synth indices)]: the class, then one group per mode when the
        manifest gives several (e.g. 'normal/posterior', 'normal/prior')."""
        s_idx = np.flatnonzero(self.synth.labels == self.synth.class_names.index(class_name))
        modes = self.modes(s_idx)
        out = [(class_name, s_idx)]
        if len(set(modes)) > 1:
            out += [(f"{class_name}/{m}", s_idx[modes == m]) for m in sorted(set(modes))]
        return out


def load(synth_dir: str, dataset: data.Dataset, skip_bad: bool = False) -> SynthFolder:
    """Reads the folder at the dataset's sample rate; ValueError if no class matches."""
    synth = data.load_dataset(
        synth_dir, sample_rate=dataset.sample_rate, skip_bad=skip_bad, verify_manifest=False
    )
    classes = tuple(c for c in synth.class_names if c in dataset.class_names)
    if not classes:
        raise ValueError(
            f"no class of {synth_dir} ({synth.class_names}) is in the dataset {dataset.class_names}"
        )
    return SynthFolder(synth, read_synth_manifest(synth_dir), classes, synth_dir)


def train_mask(dataset: data.Dataset, train_split: str) -> np.ndarray:
    """[N] bool: the real sounds a generator was trained on: 'paper' (``data.paper_vae_split``'s
    train list) or 'all'."""
    if train_split == "all":
        return np.ones(len(dataset), bool)
    if train_split == "paper":
        mask = np.zeros(len(dataset), bool)
        mask[data.paper_vae_split(dataset.labels)[0]] = True
        return mask
    raise ValueError(f"train_split must be 'paper' or 'all', got {train_split!r}")
