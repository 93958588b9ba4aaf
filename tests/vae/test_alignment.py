"""Tests for drill_jax.vae.alignment: lag and sign alignment by circular cross-correlation."""

import numpy as np

from drill_jax.vae import alignment

T = 500


def _ringing(rng) -> np.ndarray:
    """A damped tone starting at sample 100 plus a little noise: [T]."""
    t = np.arange(T)
    tone = (t >= 100) * np.exp(-np.maximum(t - 100, 0) / 40.0) * np.sin(0.3 * t)
    return tone + 0.01 * rng.normal(size=T)


def test_shift_is_circular_and_undone_by_its_negative():
    clips = np.random.default_rng(0).normal(size=(6, T)).astype(np.float32)
    by = np.array([0, 5, -7, T + 3, 1, 2])
    moved = alignment.shift(clips, by)
    assert moved.dtype == np.float32
    np.testing.assert_array_equal(moved[1], np.roll(clips[1], -5))
    np.testing.assert_array_equal(alignment.shift(moved, -by), clips)


def test_lags_and_signs_find_shifted_and_flipped_copies():
    rng = np.random.default_rng(1)
    ref = _ringing(rng)
    lags, signs = np.array([0, 12, -40, 150, -249]), np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    # A copy moved right by l samples, flipped by s: aligning shifts it left by l.
    copies = alignment.shift(np.tile(ref, (5, 1)), -lags) * signs[:, None]
    found_lags, found_signs = alignment.lags_and_signs(copies, ref)
    np.testing.assert_array_equal(found_lags, lags)
    np.testing.assert_array_equal(found_signs, signs)
    back = alignment.aligned(copies, found_lags, found_signs)
    np.testing.assert_allclose(back, np.tile(ref, (5, 1)), atol=1e-12)
    np.testing.assert_allclose(alignment.aligned(back, -found_lags, found_signs), copies)


def test_reference_is_the_common_waveform_and_the_medoid_is_the_typical_clip():
    rng = np.random.default_rng(2)
    ref = _ringing(rng)
    copies = alignment.shift(np.tile(ref, (4, 1)), np.array([0, 30, -60, 90]))
    clips = np.concatenate([copies, 0.2 * rng.normal(size=(1, T))])  # one odd clip out
    assert alignment.medoid(clips) != 4
    common = alignment.reference(clips)
    lags, signs = alignment.lags_and_signs(copies, common)
    # Every copy aligns onto the same waveform, at the lag the copies differ by.
    aligned = alignment.aligned(copies, lags, signs)
    np.testing.assert_allclose(aligned, np.tile(aligned[:1], (4, 1)), atol=1e-12)
    np.testing.assert_array_equal(lags - lags[0], [0, -30, 60, -90])  # undoing the shifts
