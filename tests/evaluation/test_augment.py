"""Tests for drill_jax.evaluation.augment: counts per class, source ids, reproducibility,
mask values."""

import random

import numpy as np
import pytest

from drill_jax.evaluation import augment

SR = 96000


def _clips(seed=0):
    """Six clips, two classes, lengths 2000 / 4000, peaks up to full scale."""
    rng = np.random.default_rng(seed)
    lengths = [2000, 4000, 2000, 4000, 2000, 2000]
    clips = [(0.3 * rng.standard_normal(n)).clip(-1, 1).astype(np.float32) for n in lengths]
    clips[0][10] = 1.0
    return clips, np.array([0, 0, 0, 1, 1, 1])


def test_choose_sources_balanced_and_cycling():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    src = augment.choose_sources(labels, 9, np.random.default_rng(0))
    assert np.bincount(labels[src]).tolist() == [5, 4]  # remainder to the lowest class
    # Class 0 has 3 examples, used 5 times: each at least once and at most twice.
    counts = np.bincount(src[labels[src] == 0], minlength=3)[:3]
    assert counts.min() >= 1 and counts.max() <= 2
    assert augment.choose_sources(labels, 0, np.random.default_rng(0)).size == 0
    free = augment.choose_sources(labels, 16, np.random.default_rng(0), balanced=False)
    assert np.bincount(free, minlength=8).tolist() == [2] * 8


@pytest.mark.parametrize("method", ["classic", "mixup"])
def test_waveform_methods_shapes_sources_and_reproducibility(method):
    clips, labels = _clips()
    new, y_new, src = augment.augment_waveforms(
        method, clips, labels, 10, np.random.default_rng(7), SR
    )
    assert len(new) == 10 and y_new.shape == (10,) and src.shape == (10,)
    assert np.bincount(y_new).tolist() == [5, 5]
    np.testing.assert_array_equal(y_new, labels[src])
    assert src.min() >= 0 and src.max() < len(clips)
    for x, s in zip(new, src):
        assert x.dtype == np.float32 and x.shape == clips[s].shape  # keeps the length
        assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 1.0
        assert not np.array_equal(x, clips[s])  # really changed
    again, y2, src2 = augment.augment_waveforms(
        method, clips, labels, 10, np.random.default_rng(7), SR
    )
    np.testing.assert_array_equal(src, src2)
    for a, b in zip(new, again):
        np.testing.assert_array_equal(a, b)


def test_classic_leaves_global_random_state_alone():
    clips, labels = _clips()
    random.seed(123)
    np.random.seed(123)
    expect_py, expect_np = random.random(), np.random.random()
    random.seed(123)
    np.random.seed(123)
    augment.augment_waveforms("classic", clips, labels, 4, np.random.default_rng(0), SR)
    assert random.random() == expect_py and np.random.random() == expect_np


def test_classic_snr_and_gain_within_configured_range():
    # No shift or pitch: output = gain * x + noise, at 20-30 dB SNR w.r.t. the gained clip.
    clips, labels = _clips()
    config = augment.ClassicConfig(max_shift_fraction=0.0, p_pitch=0.0, gain_db=(-3.0, 3.0))
    new, _, src = augment.augment_waveforms(
        "classic", clips, labels, 6, np.random.default_rng(1), SR, config=config
    )
    for x, s in zip(new, src):
        x0 = clips[s].astype(np.float64)
        gain = float(np.dot(x, x0) / np.dot(x0, x0))  # least-squares estimate
        noise = x - gain * x0
        snr = 10 * np.log10(np.sum((gain * x0) ** 2) / np.sum(noise**2))
        peak_scaled = np.max(np.abs(x)) == pytest.approx(1.0)
        assert peak_scaled or 10 ** (-3.1 / 20) <= gain <= 10 ** (3.1 / 20)
        assert 19.0 <= snr <= 31.0


def test_mixup_same_class_same_length_convex():
    clips, labels = _clips()
    new, y_new, src, partner = augment.mixup_waveforms(clips, labels, 12, np.random.default_rng(3))
    np.testing.assert_array_equal(labels[partner], labels[src])
    for x, s, p in zip(new, src, partner):
        assert p != s
        if any(
            len(clips[j]) == len(clips[s]) for j in np.flatnonzero(labels == labels[s]) if j != s
        ):
            assert len(clips[p]) == len(clips[s])
            # x = lam * a + (1 - lam) * b with lam >= 0.5, solved by least squares.
            a, b = clips[s].astype(np.float64), clips[p].astype(np.float64)
            lam = np.dot(x - b, a - b) / np.dot(a - b, a - b)
            assert 0.5 <= lam <= 1.0 + 1e-6
            np.testing.assert_allclose(x, lam * a + (1 - lam) * b, atol=1e-6)


def test_specaugment_masks_bands_to_the_clip_floor():
    rng = np.random.default_rng(0)
    X = rng.uniform(-60, -10, size=(6, 2, 32)).astype(np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1])
    n_frames = np.array([1, 2, 2, 2, 1, 2])
    X_new, y_new, src = augment.augment_features(
        "specaugment", X, labels, 8, np.random.default_rng(5), n_frames=n_frames
    )
    assert X_new.shape == (8, 2, 32) and np.bincount(y_new).tolist() == [4, 4]
    np.testing.assert_array_equal(y_new, labels[src])
    config = augment.SpecAugmentConfig()
    for x, s in zip(X_new, src):
        floor = X[s].min()
        changed = x != X[s]
        assert changed.any()
        assert np.all(x[changed] == floor)  # masked cells are set to the clip's dB floor
        cols = np.flatnonzero(changed.any(axis=0))
        assert cols.size <= config.n_freq_masks * config.max_bands
        # Whole bands are masked over all real frames; padding frames are untouched.
        nf = n_frames[s]
        assert np.all(changed[:nf, cols] | (X[s][:nf, cols] == floor))
        np.testing.assert_array_equal(x[nf:], X[s][nf:])
    again = augment.augment_features(
        "specaugment", X, labels, 8, np.random.default_rng(5), n_frames=n_frames
    )
    np.testing.assert_array_equal(X_new, again[0])


def test_specaugment_time_mask_keeps_one_real_frame():
    X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) + 1.0
    config = augment.SpecAugmentConfig(n_freq_masks=0, n_time_masks=1, max_frames=3, fill_db=0.0)
    X_new, _, src = augment.augment_features(
        "specaugment",
        X,
        np.array([0, 1]),
        20,
        np.random.default_rng(0),
        config,
        n_frames=np.array([3, 1]),
    )
    for x, s in zip(X_new, src):
        masked = np.all(x == 0.0, axis=1)
        if s == 0:
            assert 1 <= masked.sum() <= 2  # never all three real frames
        else:
            assert masked.sum() == 0  # a 1-frame clip gets no time mask


def test_none_vae_and_domain_errors():
    clips, labels = _clips()
    new, y_new, src = augment.augment_waveforms(
        "none", clips, labels, 5, np.random.default_rng(0), SR
    )
    assert new == [] and y_new.size == 0 and src.size == 0
    assert set(augment.METHODS) == {"none", "vae", "classic", "specaugment", "mixup"}
    with pytest.raises(ValueError, match="VAE"):
        augment.augment_waveforms("vae", clips, labels, 5, np.random.default_rng(0), SR)
    with pytest.raises(ValueError, match="augment_features"):
        augment.augment_waveforms("specaugment", clips, labels, 5, np.random.default_rng(0), SR)
    with pytest.raises(ValueError, match="not log-Mel"):
        augment.augment_features("mixup", np.zeros((6, 2, 32)), labels, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        augment.augment_waveforms("classic", clips, labels, 5, 0, SR)
