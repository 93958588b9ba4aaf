"""Features: band-pass filters, the Mel spectrogram, and the one feature path.

``from drill_jax import features`` gives the Mel functions (``features.MelConfig``,
``features.log_mel`` ...); the filters are ``drill_jax.features.filters``.
"""

from drill_jax.features.mel import *  # noqa: F403
from drill_jax.features.mel import AMIN, MelConfig, clip_features, log_mel, mel_spectrogram  # noqa: F401
