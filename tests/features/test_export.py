"""Tests for drill_jax.features.export (the features job) on a few bundled sounds."""

import json
import os

import numpy as np
from PIL import Image

from drill_jax import data, features
from drill_jax.features import export as feature_export
from drill_jax.features import images


def _four_sounds():
    ds = data.load_dataset()
    anomaly = np.flatnonzero(ds.labels == 0)
    normal = np.flatnonzero(ds.labels == 1)
    # Two of each class, with both clip lengths present.
    pick = [anomaly[0], normal[0]]
    pick += [next(i for i in anomaly if ds.lengths[i] == 4000)]
    pick += [next(i for i in normal if ds.lengths[i] == 4000)]
    return ds.subset(np.array(pick))


def test_export_writes_arrays_images_overview_and_summary(tmp_path):
    ds = _four_sounds()
    settings = features.FeatureSettings()
    summary = feature_export.export_features(
        ds, str(tmp_path), settings, image_size=64, progress=False
    )
    names = feature_export.item_names(ds)
    expected = [
        features.extract(settings, [w])[0] for w in ds.waveforms
    ]  # each sound alone: no padding
    for name, wave, feats in zip(names, ds.waveforms, expected):
        arr = np.load(tmp_path / f"{name}.npy")
        frames = 1 if wave.shape[0] == 2000 else 2
        assert arr.shape == (frames, 32) and arr.dtype == np.float32
        np.testing.assert_allclose(arr, feats, atol=1e-5)
        image = np.asarray(Image.open(tmp_path / f"{name}.png"))
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, images.render_image(arr, size=64))
    assert Image.open(tmp_path / "overview.png").format == "PNG"
    with open(tmp_path / "summary.json") as f:
        on_disk = json.load(f)
    assert on_disk["n_sounds"] == 4 == summary["n_sounds"]
    assert on_disk["classes"]["anomaly"]["count"] == 2
    assert on_disk["classes"]["normal"]["frames_per_clip"]["2"] >= 1
    assert sum(on_disk["classes"]["anomaly"]["lengths"].values()) == 2
    assert on_disk["settings"]["mel"]["win_length"] == 1999
    assert not [p for p in os.listdir(tmp_path / "anomaly") if p.startswith(".tmp")]


def test_item_names_keep_clips_of_one_file_apart():
    ds = data.load_dataset(classes=["normal"], clip_seconds=2000 / 96000)
    names = feature_export.item_names(ds)
    assert len(set(names)) == len(names)
    assert any(name.endswith("_s2000") for name in names)
