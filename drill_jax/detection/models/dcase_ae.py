"""Label-free ``dcase_ae``: the DCASE 2023 task-2 autoencoder baseline twin
(``drill_jax.asd.autoencoder``, published settings) as a saved detector. It reads its own
front-end (librosa log-Mel, 128 bands x 5 frames) at ``settings.sample_rate``; the other
feature settings (band-pass, MATLAB Mel) do not apply to it. Clips have no domain here, so
the selective Mahalanobis score uses one (source) covariance."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from drill_jax import data, features
from drill_jax.asd import autoencoder
from drill_jax.detection import family

KIND = "unsupervised"
SCORE_NAME = "dcase_ae"  # the config's ``score`` names the exact score
SCORE_MEANING = (
    "DCASE 2023 baseline autoencoder: mean squared reconstruction error of the clip's "
    "log-Mel frame vectors (or selective Mahalanobis distance of the mean residual)"
)


@dataclasses.dataclass(frozen=True)
class Config:
    """The baseline-twin detector.

    Attributes:
      ae: the autoencoder and its training (the published DCASE 2023 settings).
      score: 'mse' or 'mahalanobis'.
    """

    ae: autoencoder.AEConfig = autoencoder.AEConfig()
    score: str = "mse"

    def __post_init__(self):
        if self.score not in autoencoder.SCORES:
            raise ValueError(f"score: one of {autoencoder.SCORES}, got {self.score!r}")


def fit(config: Config, clips: data.Dataset, settings: features.FeatureSettings,
        key) -> family.Fitted:
    """Trains the twin on normal clips [N, settings.clip_samples] (labels ignored)."""
    vec = autoencoder.file_vectors(config.ae, clips.waveforms, settings.sample_rate)
    model = autoencoder.fit(config.ae, vec, np.zeros(len(vec), bool), key)
    arrays = {"variables": model.variables, "inv_cov_source": model.inv_cov_source,
              "inv_cov_target": model.inv_cov_target}
    return family.Fitted(config, arrays, {"n_vectors": int(sum(len(v) for v in vec))})


def score(config: Config, settings: features.FeatureSettings, arrays: dict, clips) -> np.ndarray:
    """Scores [N] float64 of clips [N, settings.clip_samples]; higher = less normal."""
    vec = autoencoder.file_vectors(config.ae, list(np.asarray(clips)), settings.sample_rate)
    model = autoencoder.AEModel(arrays["variables"], arrays["inv_cov_source"],
                                arrays["inv_cov_target"])
    return autoencoder.score(config.ae, model, vec)[config.score]


def check(config: Config, settings: features.FeatureSettings, arrays, where: str) -> None:
    """ValueError unless the arrays are this config's autoencoder and covariances."""
    del settings
    state = autoencoder.init_state(config.ae, jax.random.key(0))
    n = config.ae.front_end.n_mels
    template = {"variables": jax.device_get({"params": state.params,
                                             "batch_stats": state.batch_stats}),
                "inv_cov_source": np.zeros((n, n)), "inv_cov_target": np.zeros((n, n))}
    family.check_like(template, arrays, where)
