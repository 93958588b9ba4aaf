"""Data: the bundled Valmet drill sounds, WAV loading with validation, clip helpers, splits."""

from drill_jax.data.audio_io import AudioError, read_wav, resample, write_wav
from drill_jax.data.clips import (
    LAST_MODES,
    PAPER_CLIP_SAMPLES,
    SHORTEST_BUNDLED_SAMPLES,
    crop_sounds,
    crop_to_common,
    fix_length,
    num_windows,
    pad_to,
    sound_windows,
    stack_fixed,
    take_first,
    window_signal,
)
from drill_jax.data.dataset import (
    BUNDLED_DATA_DIR,
    BUNDLED_SAMPLE_RATE,
    BadFile,
    Dataset,
    file_sha256,
    list_wavs,
    LoadOptions,
    load_dataset,
    natural_key,
    read_manifest,
)
from drill_jax.data.splits import paper_vae_split, repeated_stratified_kfold, stratified_holdout
