"""What the protocols move around: sounds with provenance, their features, the leak check.

Every example carries the id of the real sound it came from (``origin``; synthetic sounds
carry their source's), so ``assert_no_leak`` can prove per fold that no held-out sound, and
nothing made from one, reached training.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.similarity import duplicates


@dataclasses.dataclass(frozen=True)
class Examples:
    """Sounds with provenance. waveforms: N arrays [T_i]; labels, origin [N]; synthetic [N] bool."""

    waveforms: tuple
    labels: np.ndarray
    origin: np.ndarray
    synthetic: np.ndarray

    @staticmethod
    def real(ds: data_lib.Dataset) -> "Examples":
        return Examples(tuple(ds.waveforms), ds.labels, ds.groups, np.zeros(len(ds), bool))

    def __len__(self) -> int:
        return len(self.waveforms)

    def take(self, idx) -> "Examples":
        idx = np.asarray(idx, np.int64)
        return Examples(
            tuple(self.waveforms[i] for i in idx),
            self.labels[idx],
            self.origin[idx],
            self.synthetic[idx],
        )

    def concat(self, other: "Examples") -> "Examples":
        return Examples(
            self.waveforms + other.waveforms,
            np.concatenate([self.labels, other.labels]),
            np.concatenate([self.origin, other.origin]),
            np.concatenate([self.synthetic, other.synthetic]),
        )

    @property
    def lengths(self) -> np.ndarray:
        return np.array([w.shape[0] for w in self.waveforms], np.int64)


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    """Classifier inputs. log_mel [N, F, n_mels] dB (a clip with fewer frames is padded
    with its own dB floor, ``features.extract``), frames [N] real frames per clip,
    labels [N], lengths [N] samples, origin [N], synthetic [N]; waveforms: the N clips the
    features came from (None where made on the feature side, e.g. SpecAugment), for
    detectors with their own clip features; settings: the FeatureSettings used."""

    log_mel: np.ndarray
    frames: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    origin: np.ndarray
    synthetic: np.ndarray
    waveforms: Optional[tuple] = None
    settings: Optional[features.FeatureSettings] = None

    def unpadded(self) -> list:
        """Per-clip log-Mel without padding: N arrays [frames_i, n_mels]."""
        return [m[:f] for m, f in zip(self.log_mel, self.frames)]


class LeakError(AssertionError):
    """A held-out sound, or something made from it, reached training."""


def assert_no_leak(train_origin, test_origin, fitted_on_origin=()) -> None:
    """Raises LeakError unless no held-out sound (by origin id), and nothing made from one,
    is on the training side, and no augmentation model was fitted on a held-out sound.

    train_origin: [N_train] origins of every training example (real and synthetic).
    test_origin: [N_test] origins of the scored (real) sounds.
    fitted_on_origin: origins of the sounds every augmentation model was fitted on.
    """
    test = set(np.asarray(test_origin).tolist())
    leaked = test & set(np.asarray(train_origin).tolist())
    if leaked:
        raise LeakError(f"{len(leaked)} held-out sound(s) reach training: {sorted(leaked)[:5]}")
    fitted = test & set(np.asarray(fitted_on_origin).tolist())
    if fitted:
        raise LeakError(
            f"augmentation fitted on {len(fitted)} held-out sound(s): {sorted(fitted)[:5]}"
        )


def crop_examples(ex: Examples, n: Optional[int]) -> Examples:
    """Every clip cut to its first ``n`` samples (clips shorter than n are kept as they are)."""
    if n is None:
        return ex
    return dataclasses.replace(ex, waveforms=tuple(w[:n] for w in ex.waveforms))


def make_features(ex: Examples, settings: features.FeatureSettings) -> FeatureSet:
    """``features.extract`` of every example: [N, n_frames, n_mels] (own dB floor padding)."""
    log_mel = features.extract(settings, list(ex.waveforms))
    frames = features.frames_per_clip(settings, ex.waveforms)
    return FeatureSet(
        log_mel, frames, ex.labels, ex.lengths, ex.origin, ex.synthetic, ex.waveforms, settings
    )


def fold_feature_settings(
    settings: Optional[features.FeatureSettings], sample_rate: int, lengths: np.ndarray
) -> features.FeatureSettings:
    """The settings every fold of one evaluation uses: ``settings`` (default the paper's) at
    ``sample_rate``, with ``clip_samples`` = the longest clip (at least the paper clip of
    1999 samples, the length of VAE-synthesized sounds) unless set."""
    settings = settings or features.FeatureSettings(sample_rate=int(sample_rate))
    if settings.sample_rate != sample_rate:
        raise ValueError(
            f"feature settings are for {settings.sample_rate} Hz but the sounds are "
            f"{sample_rate} Hz"
        )
    if settings.clip_samples is None:
        longest = int(max(np.max(lengths), data_lib.PAPER_CLIP_SAMPLES))
        settings = dataclasses.replace(settings, clip_samples=longest)
    return settings


def honest_splits(ds: data_lib.Dataset, config) -> list:
    """[(train idx, test idx), ...] of the honest protocol's folds over ``ds``'s sounds:
    ``config``'s (a ``protocols.ProtocolConfig``) n_splits x n_repeats seeded stratified
    folds, each group of ``duplicates.fold_groups(ds, config.folds)`` on one side."""
    return data_lib.repeated_stratified_kfold(
        ds.labels,
        config.n_splits,
        config.n_repeats,
        config.seed,
        groups=duplicates.fold_groups(ds, config.folds),
    )


def take_features(fs: FeatureSet, idx) -> FeatureSet:
    """The rows ``idx`` of a FeatureSet (its waveforms too; the settings are shared)."""
    idx = np.asarray(idx, np.int64)
    arrays = ("log_mel", "frames", "labels", "lengths", "origin", "synthetic")
    waves = None if fs.waveforms is None else tuple(fs.waveforms[i] for i in idx)
    return FeatureSet(
        *(getattr(fs, name)[idx] for name in arrays), waveforms=waves, settings=fs.settings
    )
