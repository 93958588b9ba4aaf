"""Writes every sound's log-Mel array and image, an overview figure and a summary of a dataset."""

from __future__ import annotations

import collections
import dataclasses
import io
import os

import matplotlib
import numpy as np
import tqdm
from absl import logging

matplotlib.use("Agg")
from matplotlib import figure as mpl_figure  # noqa: E402  (after choosing the backend)

from drill_jax import data, files  # noqa: E402
from drill_jax.features import images as images_lib  # noqa: E402
from drill_jax.features import settings as settings_lib  # noqa: E402


def item_names(dataset: data.Dataset) -> list:
    """Relative output stems '<class>/<file stem>' ('_s<start>' added for cut clips)."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in dataset.paths]
    counts = collections.Counter(zip(dataset.labels.tolist(), stems))
    names = []
    for label, stem, start in zip(dataset.labels.tolist(), stems, dataset.starts.tolist()):
        suffix = f"_s{start}" if counts[(label, stem)] > 1 else ""
        names.append(f"{dataset.class_names[label]}/{stem}{suffix}")
    return names


def export_features(
    dataset: data.Dataset,
    out_dir: str,
    settings: settings_lib.FeatureSettings,
    image_size: int = 227,
    *,
    overview_per_class: int = 4,
    progress: bool = True,
) -> dict:
    """Computes and writes the features of every sound in ``dataset`` under ``out_dir``.

    Features are ``features.extract(settings, sound)``, each sound with its own frames
    (no padding). Writes ``<class>/<name>.npy`` (log-Mel dB, float32 [frames, n_mels]),
    ``<class>/<name>.png`` (``images.render_image``, uint8 [image_size, image_size, 3],
    per-image colour range), ``overview.png`` (per class, the first
    ``overview_per_class`` waveforms above their Mel images) and ``summary.json``
    (counts per class, clip-length and frames-per-clip histograms, dB range, settings).
    Every file is written atomically. Returns the summary dict.
    """
    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to export")
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    if settings.sample_rate != dataset.sample_rate:
        raise ValueError(
            f"feature settings are for {settings.sample_rate} Hz, the sounds are "
            f"{dataset.sample_rate} Hz"
        )
    logging.info(
        "computing log-Mel features of %d sounds (band %s)", len(dataset), settings.band_hz
    )
    padded = settings_lib.extract(settings, dataset.waveforms)
    frames = settings_lib.frames_per_clip(settings, dataset.waveforms)
    log_mels = [m[:f] for m, f in zip(padded, frames)]
    names = item_names(dataset)
    images = []
    for name, feats in tqdm.tqdm(
        list(zip(names, log_mels)), desc="writing features", disable=not progress
    ):
        image = images_lib.render_image(feats, size=image_size)
        files.atomic_save_npy(os.path.join(out_dir, f"{name}.npy"), feats)
        images_lib.write_png(os.path.join(out_dir, f"{name}.png"), image)
        images.append(image)
    write_overview(
        os.path.join(out_dir, "overview.png"), dataset, images, names, overview_per_class
    )
    summary = summarize(dataset, log_mels, names)
    summary["settings"] = {
        "mel": dataclasses.asdict(settings.mel),
        "hop": settings.mel.hop,
        "bandpass": settings.bandpass,
        "band_hz": None if settings.band_hz is None else list(settings.band_hz),
        "filter_design": settings.filter_design if settings.bandpass else None,
        "top_db": settings.top_db,
        "features": settings.to_json(),
        "image_size": image_size,
        "colormap": "viridis, per-image min..max",
    }
    files.atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    logging.info("wrote features of %d sounds to %s", len(dataset), out_dir)
    return summary


def summarize(dataset: data.Dataset, log_mels: list, names: list) -> dict:
    """Counts per class, length and frame histograms per class, dB range, bad files."""
    per_class = {}
    for label, class_name in enumerate(dataset.class_names):
        idx = np.flatnonzero(dataset.labels == label)
        lengths = collections.Counter(int(dataset.lengths[i]) for i in idx)
        frames = collections.Counter(int(log_mels[i].shape[0]) for i in idx)
        per_class[class_name] = {
            "count": int(len(idx)),
            "lengths": {str(k): v for k, v in sorted(lengths.items())},
            "frames_per_clip": {str(k): v for k, v in sorted(frames.items())},
        }
    all_db = np.concatenate([m.ravel() for m in log_mels])
    return {
        "n_sounds": len(dataset),
        "sample_rate": dataset.sample_rate,
        "classes": per_class,
        "db_min": float(all_db.min()),
        "db_max": float(all_db.max()),
        "items": [
            {"name": n, "label": int(y), "samples": int(w.shape[0]), "frames": int(m.shape[0])}
            for n, y, w, m in zip(names, dataset.labels, dataset.waveforms, log_mels)
        ],
        "bad_files": [str(b) for b in dataset.bad],
    }


def write_overview(
    path: str, dataset: data.Dataset, images: list, names: list, per_class: int = 4
) -> None:
    """PNG grid: per class, a row of waveforms (ms) over a row of their Mel images."""
    n_classes = len(dataset.class_names)
    cols = max(1, per_class)
    fig = mpl_figure.Figure(figsize=(3.0 * cols, 5.0 * n_classes), layout="constrained")
    axes = fig.subplots(2 * n_classes, cols, squeeze=False)
    for label in range(n_classes):
        idx = np.flatnonzero(dataset.labels == label)[:cols]
        for col in range(cols):
            wave_ax, image_ax = axes[2 * label, col], axes[2 * label + 1, col]
            if col >= len(idx):
                wave_ax.axis("off")
                image_ax.axis("off")
                continue
            i = idx[col]
            wave = dataset.waveforms[i]
            t_ms = np.arange(wave.shape[0]) / dataset.sample_rate * 1e3
            wave_ax.plot(t_ms, wave, linewidth=0.5)
            wave_ax.set_title(names[i], fontsize=8)
            wave_ax.set_xlabel("time (ms)", fontsize=7)
            wave_ax.tick_params(labelsize=6)
            image_ax.imshow(images[i])
            image_ax.set_xticks([])
            image_ax.set_yticks([])
            image_ax.set_xlabel("time ->  (low bands at bottom)", fontsize=7)
    fig.suptitle("Waveforms and log-Mel images per class")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    files.atomic_write_bytes(path, buffer.getvalue())
