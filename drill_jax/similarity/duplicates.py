"""Near-duplicate recordings, so that folds can keep them on one side.

Many normal drill sounds repeat from one recording to the next (best-match |xcorr| 0.89,
median), mostly between neighbouring file numbers of the same parity: random folds put one on
each side, and the held-out one is then nearly a training sound. ``near_duplicate_groups``
links two recordings of one class when the peak |xcorr| (``pairwise.peak_xcorr_matrix``,
first ``length`` samples) exceeds ``threshold``, or, with ``neighbour_threshold``, when
their file numbers differ by 2 and it exceeds that (lower) value; linked recordings (and the
clips of one recording) form one group (``data.splits.linked_groups``).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from drill_jax import data
from drill_jax.data import splits
from drill_jax.similarity import pairwise, setwise

FOLDS = ("random", "grouped")  # how folds keep sounds together: ``fold_groups``

@dataclasses.dataclass(frozen=True)
class DuplicateConfig:
    """threshold: peak |xcorr| above which two recordings of a class are one group;
    neighbour_threshold: the same for file numbers 2 apart (None = no neighbour rule);
    length: samples compared (the shortest sound if shorter)."""

    threshold: float = 0.8
    neighbour_threshold: Optional[float] = None
    length: int = data.PAPER_CLIP_SAMPLES

    def __post_init__(self):
        for name in ("threshold", "neighbour_threshold"):
            v = getattr(self, name)
            if v is not None and not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")


def best_match_matrix(dataset: data.Dataset, length: int) -> np.ndarray:
    """Peak |xcorr| [N, N] between the first ``length`` samples of every two sounds of one
    class (0 between classes and on the diagonal)."""
    length = min(int(length), int(dataset.lengths.min()))
    out = np.zeros((len(dataset), len(dataset)))
    for k in range(len(dataset.class_names)):
        idx = np.flatnonzero(dataset.labels == k)
        if idx.size == 0:
            continue
        x = setwise.crop_set([dataset.waveforms[i] for i in idx], length)
        out[np.ix_(idx, idx)] = np.abs(pairwise.peak_xcorr_matrix(x, x)[0])
    np.fill_diagonal(out, 0.0)
    return out


def near_duplicate_groups(
    dataset: data.Dataset, config: DuplicateConfig = DuplicateConfig()
) -> np.ndarray:
    """Group ids [N] that keep near-duplicate recordings (module docstring) together."""
    sim = best_match_matrix(dataset, config.length)
    links = sim > config.threshold
    if config.neighbour_threshold is not None:
        near = splits.neighbour_links(splits.file_numbers(dataset.paths), dataset.labels)
        links |= near & (sim > config.neighbour_threshold)
    return splits.linked_groups(links, dataset.labels, dataset.groups)


def check_folds(folds: str) -> None:
    """Raises a one-line ValueError unless ``folds`` is one of ``FOLDS``."""
    if folds not in FOLDS:
        raise ValueError(f"folds must be one of {FOLDS}, got {folds!r}")


def fold_groups(dataset: data.Dataset, folds: str = "random") -> np.ndarray:
    """Group ids [N] that folds keep on one side: the recordings' own groups ('random': a
    recording's clips stay together) or those merged with near-duplicate links ('grouped',
    ``near_duplicate_groups`` with the default ``DuplicateConfig``)."""
    check_folds(folds)
    if folds == "grouped":
        return near_duplicate_groups(dataset)
    return np.asarray(dataset.groups)


def group_sizes(groups: np.ndarray) -> dict:
    """{'groups', 'largest', 'singletons'} of group ids [N]."""
    sizes = np.bincount(np.unique(np.asarray(groups), return_inverse=True)[1])
    return {
        "groups": int(sizes.size),
        "largest": int(sizes.max()),
        "singletons": int(np.sum(sizes == 1)),
    }
