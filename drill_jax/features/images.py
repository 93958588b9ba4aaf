"""Feature images: a log-Mel spectrogram drawn as an RGB picture (the CNN backbones' input)."""

from __future__ import annotations

import io
from typing import Optional

import matplotlib
import numpy as np
from PIL import Image

from drill_jax import files


def render_image(
    log_mel_db: np.ndarray,
    size: int = 227,
    db_range: Optional[tuple[float, float]] = None,
    cmap: str = "viridis",
) -> np.ndarray:
    """Draws one log-Mel spectrogram as an RGB image. [frames, n_mels] -> uint8 [size, size, 3].

    Time runs left to right, low frequencies at the bottom. Values map linearly to the
    colormap (matplotlib 'viridis' by default) over this image's own min..max, or over
    ``db_range=(lo, hi)`` dB when given (values outside are clipped; use a fixed range to
    compare loudness across images). A constant image maps to the colormap's low end.
    Upscaling is nearest-neighbour, so a 1-frame clip becomes horizontal stripes (one
    per band) and a 2-frame clip two blocks of stripes, as in the paper's figures.
    """
    values = np.asarray(log_mel_db, np.float64)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(f"expected a [frames, n_mels] array, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("log-Mel values must be finite")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    lo, hi = (values.min(), values.max()) if db_range is None else map(float, db_range)
    if not hi >= lo:
        raise ValueError(f"db_range must be (lo, hi) with hi >= lo, got {(lo, hi)}")
    scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(values)
    picture = scaled.T[::-1]  # [n_mels, frames], row 0 = highest band
    rows = np.arange(size) * picture.shape[0] // size
    cols = np.arange(size) * picture.shape[1] // size
    picture = picture[rows[:, None], cols[None, :]]
    rgba = matplotlib.colormaps[cmap](picture)
    return np.round(rgba[..., :3] * 255.0).astype(np.uint8)


def render_images(log_mel: np.ndarray, size: int, db_range=None) -> np.ndarray:
    """``render_image`` of each clip. [N, F, n_mels] dB -> uint8 [N, size, size, 3]."""
    return np.stack([render_image(m, size=size, db_range=db_range) for m in log_mel])


def write_png(path: str, image: np.ndarray) -> None:
    """Writes a uint8 [H, W, 3] image as PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    files.atomic_write_bytes(path, buffer.getvalue())
