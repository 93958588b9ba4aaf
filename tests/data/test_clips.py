"""Tests for drill_jax.data.clips: first-N, padding, cropping and framing long recordings."""

import numpy as np
import pytest

from drill_jax import data


def test_take_first():
    x = np.arange(2000, dtype=np.float32)
    np.testing.assert_array_equal(data.take_first(x, 1999), x[:1999])
    with pytest.raises(ValueError, match="fewer than"):
        data.take_first(x[:10], 11)


def test_pad_zero_and_repeat():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(data.pad_to(x, 7, "zero"), [1, 2, 3, 0, 0, 0, 0])
    np.testing.assert_array_equal(data.pad_to(x, 7, "repeat"), [1, 2, 3, 1, 2, 3, 1])
    np.testing.assert_array_equal(data.pad_to(x, 2), x)  # never shortens
    with pytest.raises(ValueError, match="pad mode"):
        data.pad_to(x, 5, "mirror")
    with pytest.raises(ValueError, match="empty"):
        data.pad_to(np.zeros(0), 5)


def test_fix_length_and_stack():
    clips = [np.ones(2000), np.ones(4000), np.ones(1000)]
    out = data.stack_fixed(clips, 1999)
    assert out.shape == (3, 1999) and out.dtype == np.float32
    assert out[2, 999] == 1 and out[2, 1000] == 0
    assert data.crop_to_common(clips).shape == (3, 1000)


def test_frame_recording_boundaries():
    x = np.arange(11, dtype=np.float32)
    clips, starts = data.frame_recording(x, clip_len=4, hop=3)
    np.testing.assert_array_equal(starts, [0, 3, 6])
    np.testing.assert_array_equal(clips, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    clips, starts = data.frame_recording(x, clip_len=4, hop=3, keep_last=True)
    np.testing.assert_array_equal(starts, [0, 3, 6, 9])
    np.testing.assert_array_equal(clips[3], [9, 10, 0, 0])  # last partial window zero-padded
    clips, _ = data.frame_recording(x, 4, 3, keep_last=True, pad_mode="repeat")
    np.testing.assert_array_equal(clips[3], [9, 10, 9, 10])
    assert data.num_frames(11, 4, 3) == 3 and data.num_frames(3, 4, 3) == 0
    assert data.num_frames(3, 4, 3, keep_last=True) == 1


def test_frame_recording_exact_fit_has_no_extra_window():
    x = np.arange(12, dtype=np.float32)
    clips, starts = data.frame_recording(x, 4, 4, keep_last=True)
    np.testing.assert_array_equal(starts, [0, 4, 8])


def test_frame_recording_rejects_bad_args():
    with pytest.raises(ValueError):
        data.frame_recording(np.zeros((2, 5)), 2, 1)
    with pytest.raises(ValueError):
        data.frame_recording(np.zeros(5), 0, 1)
