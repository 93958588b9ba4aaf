"""Tests for drill_jax.features.settings: the one feature path (FeatureSettings + extract)."""

import dataclasses

import numpy as np
import pytest

from drill_jax import features
from drill_jax.features import filters

SR = 96000


def _clips(lengths, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(np.float32) for n in lengths]


def test_defaults_are_the_papers():
    s = features.FeatureSettings()
    assert s.band_hz == (1000.0, 22000.0) and s.filter_design == "auto"
    m = s.mel
    assert (m.win_length, m.overlap, m.n_fft, m.n_mels, m.hop) == (1999, 512, 1999, 32, 1487)
    assert s.top_db == 80.0 and s.clip_samples is None
    assert dataclasses.replace(s, clip_samples=4000).n_frames == 2
    assert dataclasses.replace(s, clip_samples=2000).n_frames == 1


def test_extract_groups_lengths_pads_with_each_clip_floor_and_matches_log_mel():
    clips = _clips((2000, 4000, 2000))
    s = features.FeatureSettings(band_hz=None)
    x = features.extract(s, clips)
    assert x.shape == (3, 2, 32) and x.dtype == np.float32
    np.testing.assert_array_equal(features.frames_per_clip(s, clips), [1, 2, 1])
    own = features.log_mel(clips[0][None], s.mel, 80.0)[0]  # [1, 32]
    np.testing.assert_array_equal(x[0, :1], own)
    np.testing.assert_array_equal(x[0, 1], np.full(32, own.min(), np.float32))  # own floor
    np.testing.assert_allclose(x[1], features.log_mel(clips[1][None], s.mel)[0], atol=1e-5)


def test_extract_band_pass_equals_filtering_first():
    clips = np.stack(_clips((2000, 2000)))
    s = features.FeatureSettings()
    band = filters.make_bandpass(1000.0, 22000.0, SR)
    want = features.log_mel(band(clips), s.mel, 80.0)
    np.testing.assert_array_equal(features.extract(s, clips), want)
    raw = features.extract(dataclasses.replace(s, band_hz=None), clips)
    # The 1 kHz high-pass removes the lowest bands: they drop by > 40 dB.
    assert np.all(features.extract(s, clips)[:, 0, :2] < raw[:, 0, :2] - 40.0)


def test_one_sided_bands_apply_one_filter():
    clips = np.stack(_clips((2000,)))
    high = features.FeatureSettings(band_hz=(1000.0, None))
    low = features.FeatureSettings(band_hz=(None, 22000.0))
    np.testing.assert_array_equal(
        features.extract(high, clips),
        features.log_mel(filters.make_highpass(1000.0, SR)(clips), high.mel, 80.0),
    )
    np.testing.assert_array_equal(
        features.extract(low, clips),
        features.log_mel(filters.make_lowpass(22000.0, SR)(clips), low.mel, 80.0),
    )


def test_other_rate_and_mel_settings():
    s = features.FeatureSettings(
        sample_rate=16000,
        band_hz=(100.0, 7000.0),
        window_samples=512,
        overlap_samples=256,
        n_fft=512,
        n_mels=40,
        fmax=8000.0,
        top_db=None,
        clip_samples=16000,
    )
    assert s.n_frames == (16000 - 512) // 256 + 1
    x = features.extract(s, _clips((16000, 12000)))
    assert x.shape == (2, s.n_frames, 40) and np.all(np.isfinite(x))


def test_settings_errors_name_the_field_and_the_limit():
    with pytest.raises(
        ValueError, match=r"^band_hz: edge 22000 Hz is at or above the Nyquist limit 8000 Hz"
    ):
        features.FeatureSettings(sample_rate=16000)
    with pytest.raises(ValueError, match="band_hz: low edge"):
        features.FeatureSettings(band_hz=(5000.0, 1000.0))
    with pytest.raises(ValueError, match="band_hz: need"):
        features.FeatureSettings(band_hz=(None, None))
    with pytest.raises(ValueError, match="fmax"):
        features.FeatureSettings(sample_rate=16000, band_hz=None, fmax=9000.0)
    with pytest.raises(ValueError, match="filter_design"):
        features.FeatureSettings(filter_design="butter")
    with pytest.raises(ValueError, match="clip_samples"):
        features.FeatureSettings(clip_samples=1000)
    with pytest.raises(ValueError, match="top_db"):
        features.FeatureSettings(top_db=-1.0)


def test_extract_rejects_bad_clips():
    s = features.FeatureSettings(clip_samples=2000)
    with pytest.raises(ValueError, match="more than clip_samples=2000"):
        features.extract(s, _clips((4000,)))
    with pytest.raises(ValueError, match="shorter"):
        features.extract(s, _clips((1000,)))
    with pytest.raises(ValueError, match="non-finite"):
        features.extract(s, [np.full(2000, np.nan, np.float32)])
    with pytest.raises(ValueError, match="no clips"):
        features.extract(s, [])
    with pytest.raises(ValueError, match="1-D"):
        features.extract(s, [np.zeros((2, 2000))])


def test_json_round_trip_and_format_v1():
    s = features.FeatureSettings(band_hz=(None, 7000.0), clip_samples=4000, top_db=None)
    assert features.FeatureSettings.from_json(s.to_json()) == s
    v1 = {
        "sample_rate": 96000,
        "clip_samples": 2000,
        "bandpass": False,
        "band_hz": [1000.0, 22000.0],
        "filter_design": "auto",
        "top_db": 80.0,
        "mel": {
            "sample_rate": 96000,
            "win_length": 1999,
            "overlap": 512,
            "n_fft": 1999,
            "n_mels": 32,
            "fmin": 0.0,
            "fmax": None,
            "power": 2.0,
            "window_normalization": True,
        },
    }
    old = features.FeatureSettings.from_v1_json(v1)
    assert old == features.FeatureSettings(band_hz=None, clip_samples=2000)
    with pytest.raises(ValueError, match="unknown fields"):
        features.FeatureSettings.from_json(dict(s.to_json(), colour="red"))


def test_fft_filter_method_gives_the_same_features():
    clips = np.stack(_clips((2000, 2000)))
    s = features.FeatureSettings()
    fast = dataclasses.replace(s, filter_method="fft")
    np.testing.assert_allclose(features.extract(fast, clips), features.extract(s, clips), atol=1e-3)
    with pytest.raises(ValueError, match="filter_method"):
        features.FeatureSettings(filter_method="magic")
