"""Data: the bundled Valmet drill sounds, WAV loading with validation, clip helpers, splits."""

from drill_jax.data.audio_io import AudioError, read_wav, resample, write_wav
from drill_jax.data.clips import (
    crop_to_common,
    fix_length,
    frame_recording,
    num_frames,
    pad_to,
    stack_fixed,
    take_first,
)
from drill_jax.data.dataset import (
    BUNDLED_DATA_DIR,
    BUNDLED_SAMPLE_RATE,
    BadFile,
    Dataset,
    file_sha256,
    list_wavs,
    load_dataset,
    natural_key,
    read_manifest,
)
from drill_jax.data.splits import paper_vae_split, repeated_stratified_kfold, stratified_holdout
