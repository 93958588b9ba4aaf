"""Label-free ``dcase_oe``: the outlier-exposure embedding detector (``drill_jax.asd.outlier``)
as a saved detector. Clips carry no DCASE metadata here, so the classes it learns are
pseudo-labels: the recording each clip comes from (``Dataset.groups``). It reads its own
front-end (librosa log-Mel and Welch spectrum) at ``settings.sample_rate``; the other
feature settings do not apply to it. The fused score (``OEConfig.fusion``, the default) is
calibrated on the clips of ``CALIBRATION_FRACTION`` of the training recordings, held out of
the network's training."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from drill_jax import data, features
from drill_jax.asd import outlier
from drill_jax.detection import family

KIND = "unsupervised"
SCORE_NAME = "dcase_oe"
CALIBRATION_FRACTION = 0.1  # of the training recordings, held out to calibrate the fusion
# The fused score, a sum of standardised scores, has no lower bound: a gamma fit with a free
# location is ill-posed on it (``thresholds``), a normal fit is not (used for fusion 'none',
# the embedding distance alone, as well: one rule per model, here and in the DCASE job).
THRESHOLD_RULE = "normal"
SCORE_MEANING = (
    "cosine distance of the clip's outlier-exposure embedding to the nearest normal "
    "training clip (network trained to tell the normal recordings apart) plus the distance "
    "of its log-Mel statistics to theirs (with OEConfig.fusion 'stats+reconstruction' also "
    "its principal-component reconstruction error), each standardised on held-out normal clips"
)


@dataclasses.dataclass(frozen=True)
class Config:
    """The outlier-exposure detector.

    Attributes:
      oe: the network, its training and the kNN scoring.
    """

    oe: outlier.OEConfig = outlier.OEConfig()


def _inputs(config: Config, settings: features.FeatureSettings, clips) -> outlier.Inputs:
    return outlier.inputs(config.oe, list(np.asarray(clips)), settings.sample_rate)


def _held_groups(config: Config, n_groups: int, key) -> np.ndarray:
    """[G] bool: the recordings held out of training to calibrate the score fusion,
    ``max(2, ceil(CALIBRATION_FRACTION * G))`` random ones (none without fusion)."""
    out = np.zeros(n_groups, bool)
    if config.oe.fusion == "none":
        return out
    n_held = max(2, int(np.ceil(CALIBRATION_FRACTION * n_groups)))
    if n_groups - n_held < 2:
        raise ValueError(f"dcase_oe with score fusion needs normal clips of >= {n_held + 2} "
                         f"recordings (2 to calibrate it), got {n_groups}")
    out[np.asarray(jax.random.permutation(key, n_groups))[:n_held]] = True
    return out


def fit(config: Config, clips: data.Dataset, settings: features.FeatureSettings,
        key) -> family.Fitted:
    """Trains on normal clips [N, settings.clip_samples] (classes = their recordings), and
    calibrates the score fusion on the clips of recordings held out of that training."""
    groups, labels = np.unique(clips.groups, return_inverse=True)
    if len(groups) < 2:
        raise ValueError("dcase_oe needs normal clips of >= 2 recordings (its pseudo-labels)")
    split_key, fit_key = jax.random.split(key)
    held = _held_groups(config, len(groups), split_key)[labels]
    inputs = _inputs(config, settings, clips.waveforms)
    train = np.flatnonzero(~held)
    _, train_labels = np.unique(labels[train], return_inverse=True)
    zeros = np.zeros(len(train), int)
    model = outlier.fit(config.oe, inputs.take(train), train_labels, zeros, zeros, fit_key)
    arrays = {**{f"seed{i}": m for i, m in enumerate(model.members)},
              "recording_stats": model.recording_stats}
    if model.pcas is not None:
        arrays["pca"] = model.pcas["0"]
    if held.any():
        model = outlier.calibrate(config.oe, model, inputs.take(np.flatnonzero(held)),
                                  np.zeros(int(held.sum()), int))
        arrays["norms"] = model.norms["0"]
    return family.Fitted(config, arrays, {"n_classes": int(train_labels.max()) + 1,
                                          "n_calibration_clips": int(held.sum())})


def _model(config: Config, arrays: dict) -> outlier.OEModel:
    members = tuple(arrays[f"seed{i}"] for i in range(config.oe.seeds))
    zeros = np.zeros(members[0]["references"].shape[0], int)
    norms = {"0": arrays["norms"]} if "norms" in arrays else None
    pcas = {"0": arrays["pca"]} if "pca" in arrays else None
    return outlier.OEModel(members, zeros, zeros, arrays["recording_stats"], pcas, norms)


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
    inputs = _inputs(config, settings, clips)
    return outlier.score(config.oe, _model(config, arrays), inputs,
                         np.zeros(len(inputs.mels), int))


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless the arrays hold ``config.oe.seeds`` networks of this config."""
    seeds = tuple(f"seed{i}" for i in range(config.oe.seeds))
    fused = ("norms",) if config.oe.fusion != "none" else ()
    pca = ("pca",) if config.oe.fusion == "stats+reconstruction" else ()
    family.check_keys(arrays, seeds + ("recording_stats",) + fused + pca, where)
    first = arrays["seed0"]
    n_bins = config.oe.inputs.spectrum_fft // 2 + 1
    dim = outlier.RECONSTRUCTION_FRAMES * config.oe.inputs.front_end.n_mels
    if (sorted(first) != ["references", "stats", "variables"]
            or first["stats"]["spec_mean"].shape != (n_bins,)
            or first["references"].shape[1] != config.oe.embedding_dim
            or np.shape(arrays["recording_stats"]) != (first["references"].shape[0],
                                                       2 * config.oe.inputs.front_end.n_mels)
            or (fused and np.shape(arrays["norms"]) != (2 + len(pca), 2))
            or (pca and (np.shape(arrays["pca"]["mean"]) != (dim,)
                         or np.shape(arrays["pca"]["basis"])
                         != (dim, min(config.oe.components, dim))))):
        raise ValueError(f"{where}: arrays do not match the dcase_oe config")
    for name in seeds:
        family.check_like(first, arrays[name], where)
