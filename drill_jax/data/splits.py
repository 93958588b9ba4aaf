"""Train/test splits as pure functions of (labels, seed, groups) returning index arrays.

A *group* is any id shared by items that must stay on one side of a split: the
clips cut from one recording, a synthetic sound and the real sound it came
from, or near-duplicate recordings (``linked_groups`` of a similarity matrix, e.g.
best-match |xcorr| above a threshold, or neighbouring file numbers: ``neighbour_links``).
``groups=None`` makes every item its own group.
"""

from __future__ import annotations

import os
import re
from typing import Optional, Sequence

import numpy as np
import scipy.sparse.csgraph
import sklearn.model_selection as skms

Split = tuple[np.ndarray, np.ndarray]


def _check_labels(labels, groups) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if groups is None:
        groups = np.arange(labels.size)
    groups = np.asarray(groups)
    if groups.shape != labels.shape:
        raise ValueError(f"groups shape {groups.shape} != labels shape {labels.shape}")
    for g in np.unique(groups):
        if np.unique(labels[groups == g]).size > 1:
            raise ValueError(f"group {g!r} mixes classes; a group must hold one class")
    return labels, groups


def paper_vae_split(labels) -> Split:
    """The paper's VAE split: per class, items at even positions (0, 2, ...) of that
    class's list, in dataset order, go to train; odd positions go to test.

    With 67 sounds per class: 34 train, 33 test. Returns (train_idx, test_idx), sorted.
    """
    labels, _ = _check_labels(labels, None)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        train.append(idx[0::2])
        test.append(idx[1::2])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def stratified_holdout(
    labels, test_fraction: float = 0.3, seed: int = 0, groups: Optional[np.ndarray] = None
) -> Split:
    """Random stratified hold-out split (paper: 70/30). Returns (train_idx, test_idx).

    Per class, whole groups are drawn in a seeded random order into the test side
    until it holds round(test_fraction * class size) items (closest achievable with
    whole groups). Deterministic for a given seed.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels, groups = _check_labels(labels, groups)
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        in_class = labels == c
        target = int(round(test_fraction * in_class.sum()))
        class_groups = np.unique(groups[in_class])
        rng.shuffle(class_groups)
        taken = 0
        for g in class_groups:
            size = int(np.sum(groups == g))
            if taken >= target or abs(taken + size - target) > abs(taken - target):
                continue
            test.append(np.flatnonzero(groups == g))
            taken += size
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(labels.size), test_idx)
    if train_idx.size == 0 or test_idx.size == 0:
        raise ValueError("too few items/groups for a hold-out split with both sides non-empty")
    return train_idx, test_idx


def repeated_stratified_kfold(
    labels,
    n_splits: int = 5,
    n_repeats: int = 4,
    seed: int = 0,
    groups: Optional[np.ndarray] = None,
) -> list[Split]:
    """Repeated stratified k-fold: n_repeats x n_splits (train_idx, test_idx) pairs.

    Within a repeat every item is tested exactly once. Repeat r shuffles with seed
    ``seed + r``. With groups, scikit-learn's StratifiedGroupKFold keeps each group
    on one side (class proportions then hold approximately).
    """
    labels, groups = _check_labels(labels, groups)
    if n_splits < 2 or n_repeats < 1:
        raise ValueError(f"need n_splits >= 2 and n_repeats >= 1, got {n_splits}, {n_repeats}")
    _, counts = np.unique(labels, return_counts=True)
    if counts.min() < n_splits:
        raise ValueError(
            f"the smallest class has {counts.min()} items, fewer than {n_splits} folds"
        )
    out = []
    for r in range(n_repeats):
        cv = skms.StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        for train_idx, test_idx in cv.split(np.zeros(labels.size), labels, groups):
            out.append((np.sort(train_idx), np.sort(test_idx)))
    return out


def linked_groups(links, labels, groups=None) -> np.ndarray:
    """Group ids [N] (0 .. G-1, numbered in order of each group's first item) of the
    connected components of ``links`` [N, N] (bool, symmetric: True = keep i and j together),
    merged with existing ``groups`` [N] (items sharing a group stay together too).

    A link between items of different classes is an error (a group holds one class).
    """
    labels, groups = _check_labels(labels, groups)
    links = np.asarray(links, bool)
    if links.shape != (labels.size, labels.size):
        raise ValueError(f"links must be [{labels.size}, {labels.size}], got {links.shape}")
    links = links | links.T | (groups[:, None] == groups[None, :])
    i, j = np.nonzero(links)
    if np.any(labels[i] != labels[j]):
        raise ValueError("links join items of different classes; a group must hold one class")
    _, comp = scipy.sparse.csgraph.connected_components(links, directed=False)
    _, first = np.unique(comp, return_index=True)
    return np.argsort(np.argsort(first))[comp].astype(np.int64)


def file_numbers(paths: Sequence[str]) -> np.ndarray:
    """The last run of digits in each file name ('normal_41.wav' -> 41): [N] int64.
    Raises ValueError naming the first file without one."""
    out = []
    for p in paths:
        digits = re.findall(r"\d+", os.path.splitext(os.path.basename(p))[0])
        if not digits:
            raise ValueError(f"{p}: no number in the file name")
        out.append(int(digits[-1]))
    return np.asarray(out, np.int64)


def neighbour_links(numbers, labels, gap: int = 2) -> np.ndarray:
    """[N, N] bool: items of the same class whose file numbers differ by exactly ``gap``
    (2 = neighbours of the same parity: normal_39 / normal_41). Chains of neighbours span a
    whole class, so combine it with a similarity (``links & (similarity > t)``)."""
    numbers, labels = np.asarray(numbers), np.asarray(labels)
    if numbers.shape != labels.shape:
        raise ValueError(f"numbers {numbers.shape} and labels {labels.shape} differ in shape")
    return (np.abs(numbers[:, None] - numbers[None, :]) == gap) & (
        labels[:, None] == labels[None, :]
    )
