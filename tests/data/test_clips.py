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


def test_window_signal_gap_hop_never_makes_an_empty_padded_window():
    # hop > window: the samples after the last whole window lie before the next hop
    # position, so no (all-zero) tail window is made.
    x = np.arange(10, dtype=np.float32)
    clips, starts = data.window_signal(x, window=2, hop=5, last="pad")
    np.testing.assert_array_equal(starts, [0, 5])
    assert data.num_windows(10, 2, 5, last="pad") == 2


def test_num_windows_matches_window_signal():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, w, h = int(rng.integers(0, 40)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        for last in data.LAST_MODES:
            clips, _ = data.window_signal(np.zeros(n), w, h, last)
            assert clips.shape[0] == data.num_windows(n, w, h, last)


def test_window_boundaries_exact():
    x = np.arange(11, dtype=np.float32)
    w, starts = data.window_signal(x, window=4, hop=3)
    np.testing.assert_array_equal(starts, [0, 3, 6])
    np.testing.assert_array_equal(w, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    # sample 10 is after the last whole window: dropped by default, padded with last='pad'
    w, starts = data.window_signal(x, window=4, hop=3, last="pad")
    np.testing.assert_array_equal(starts, [0, 3, 6, 9])
    np.testing.assert_array_equal(w[3], [9, 10, 0, 0])
    # a signal that ends exactly at a window end gets no padded window
    w, starts = data.window_signal(x[:10], window=4, hop=3, last="pad")
    np.testing.assert_array_equal(starts, [0, 3, 6])
    # hop > window: gaps are never scored; the tail window starts at the next hop
    w, starts = data.window_signal(x, window=2, hop=4, last="pad")
    np.testing.assert_array_equal(starts, [0, 4, 8])
    np.testing.assert_array_equal(w, [[0, 1], [4, 5], [8, 9]])


def test_window_shorter_than_one_window():
    x = np.ones(3, np.float32)
    assert data.window_signal(x, 4, 2)[0].shape == (0, 4)
    w, starts = data.window_signal(x, 4, 2, last="pad")
    np.testing.assert_array_equal(w, [[1, 1, 1, 0]])
    np.testing.assert_array_equal(starts, [0])


def test_bad_window_settings():
    with pytest.raises(ValueError, match="positive"):
        data.window_signal(np.zeros(10), 0, 1)
    with pytest.raises(ValueError, match="last"):
        data.window_signal(np.zeros(10), 4, 1, last="wrap")


def test_window_signal_pad_modes():
    x = np.arange(11, dtype=np.float32)
    clips, _ = data.window_signal(x, 4, 3, last="pad", pad_mode="repeat")
    np.testing.assert_array_equal(clips[3], [9, 10, 9, 10])
