"""Features: band-pass filters, Mel spectrograms, feature images, and the one feature path.

Every sound becomes model input through ``extract(settings, clips)`` with one frozen
``FeatureSettings`` (``drill_jax.features.settings``). ``from drill_jax import features``
gives that path and the Mel functions; the filters are ``drill_jax.features.filters``,
the images ``drill_jax.features.images``.
"""

from drill_jax.features.mel import (
    AMIN,
    MelConfig,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
    periodic_hann,
    power_to_db,
)
from drill_jax.features.settings import (
    PAPER_BAND_HZ,
    FeatureSettings,
    band_filter,
    extract,
    frames_per_clip,
    make_band_filter,
)
