"""Label-free ``dcase_oe``: the outlier-exposure embedding detector (``drill_jax.asd.outlier``)
as a saved detector. Clips carry no DCASE metadata here, so the classes it learns are
pseudo-labels: the recording each clip comes from (``Dataset.groups``). It reads its own
front-end (librosa log-Mel and Welch spectrum) at ``settings.sample_rate``; the other
feature settings do not apply to it."""

from __future__ import annotations

import dataclasses

import numpy as np

from drill_jax import data, features
from drill_jax.asd import outlier
from drill_jax.detection import family

KIND = "unsupervised"
SCORE_NAME = "dcase_oe"
SCORE_MEANING = (
    "cosine distance of the clip's outlier-exposure embedding to the nearest normal "
    "training clip (network trained to tell the normal recordings apart) plus the distance "
    "of its log-Mel statistics to theirs, each standardised by the training clips' "
    "leave-one-out distances"
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


def fit(config: Config, clips: data.Dataset, settings: features.FeatureSettings,
        key) -> family.Fitted:
    """Trains on normal clips [N, settings.clip_samples]; classes = their recordings."""
    _, labels = np.unique(clips.groups, return_inverse=True)
    if labels.max() < 1:
        raise ValueError("dcase_oe needs normal clips of >= 2 recordings (its pseudo-labels)")
    model = outlier.fit(config.oe, _inputs(config, settings, clips.waveforms), labels,
                        np.zeros(len(labels), int), np.zeros(len(labels), int), key)
    arrays = {**{f"seed{i}": m for i, m in enumerate(model.members)},
              "recording_stats": model.recording_stats}
    return family.Fitted(config, arrays, {"n_classes": int(labels.max()) + 1})


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
    members = tuple(arrays[f"seed{i}"] for i in range(config.oe.seeds))
    n_refs = members[0]["references"].shape[0]
    model = outlier.OEModel(members, np.zeros(n_refs, int), np.zeros(n_refs, int),
                            arrays["recording_stats"])
    inputs = _inputs(config, settings, clips)
    return outlier.score(config.oe, model, inputs, np.zeros(len(inputs.mels), int))


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless the arrays hold ``config.oe.seeds`` networks of this config."""
    seeds = tuple(f"seed{i}" for i in range(config.oe.seeds))
    family.check_keys(arrays, seeds + ("recording_stats",), where)
    first = arrays["seed0"]
    n_bins = config.oe.spectrum_fft // 2 + 1
    if (sorted(first) != ["references", "stats", "variables"]
            or first["stats"]["spec_mean"].shape != (n_bins,)
            or first["references"].shape[1] != config.oe.embedding_dim
            or np.shape(arrays["recording_stats"]) != (first["references"].shape[0],
                                                       2 * config.oe.front_end.n_mels)):
        raise ValueError(f"{where}: arrays do not match the dcase_oe config")
    for name in seeds:
        family.check_like(first, arrays[name], where)
