"""Tests for drill_jax.features.images: Mel images for the CNN backbones."""

import numpy as np
import pytest

from drill_jax.features import images


def test_render_image_one_frame_is_horizontal_stripes():
    values = np.arange(32, dtype=np.float32)[None, :]  # 1 frame, band b has value b
    img = images.render_image(values, size=227)
    assert img.shape == (227, 227, 3) and img.dtype == np.uint8
    assert np.all(img == img[:, :1, :])  # every row is one colour: stripes
    rows = np.unique(img.reshape(227, -1), axis=0)
    assert len(rows) == 32
    # Low frequencies at the bottom: the bottom row is the colormap's low end (dark
    # viridis), the top row its high end (yellow).
    assert img[-1, 0].sum() < img[0, 0].sum()
    np.testing.assert_array_equal(img[-1, 0], [68, 1, 84])
    np.testing.assert_array_equal(img[0, 0], [253, 231, 37])


def test_render_image_two_frames_split_in_time_and_db_range():
    values = np.stack([np.zeros(32), np.full(32, 10.0)]).astype(np.float32)  # [2, 32]
    img = images.render_image(values, size=100, db_range=(-10.0, 20.0))
    assert np.all(img[:, :50] == img[0, 0]) and np.all(img[:, 50:] == img[0, 99])
    assert not np.array_equal(img[0, 0], img[0, 99])
    flat = images.render_image(np.ones((1, 32)), size=8)
    assert np.all(flat == flat[0, 0])


def test_render_images_stacks_render_image_and_rejects_bad_shapes():
    x = np.random.default_rng(0).normal(size=(3, 2, 32)).astype(np.float32)
    out = images.render_images(x, size=16)
    assert out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], images.render_image(x[1], size=16))
    with pytest.raises(ValueError):
        images.render_image(np.zeros((2, 3, 4)))
