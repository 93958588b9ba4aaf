"""Clip-level feature sets: shapes, names, known values, librosa parity, errors."""

import librosa
import numpy as np
import pytest

from drill_jax.features import clipstats as cs

SR = 96000


def _sine(freq, n=4000, amp=0.5, sr=SR):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float64)


def test_time_stats_of_a_sine_are_known_values():
    # 6 kHz at 96 kHz: exactly 16 samples per period, so every statistic is exact.
    rms, crest, kurt, zcr, peak = cs.time_stats(_sine(6000.0, amp=0.5)[None])[0]
    assert rms == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1e-6)
    assert crest == pytest.approx(20 * np.log10(np.sqrt(2)), abs=1e-6)  # 3.01 dB
    assert kurt == pytest.approx(-1.5, abs=1e-6)  # a sine's excess kurtosis
    assert zcr == pytest.approx(2 * 6000.0 / SR, abs=2e-3)
    assert peak == pytest.approx(20 * np.log10(0.5), abs=1e-3)


def test_frame_power_of_a_bin_centred_sine_peaks_at_a_quarter():
    window = 960  # 6 kHz falls on bin 60
    p = cs.frame_power(_sine(6000.0, n=window, amp=1.0)[None], window, window)
    assert p.shape == (1, 1, window // 2 + 1)
    assert np.argmax(p[0, 0]) == 60
    assert p[0, 0, 60] == pytest.approx(0.25, rel=1e-9)


def test_band_energy_ratios_put_a_sine_in_its_band():
    edges = (0.0, 1000.0, 4000.0, 10000.0, 48000.0)
    r = cs.band_energy_ratios(_sine(6000.0)[None], SR, edges)[0]
    assert r.shape == (4,)
    assert r[2] == pytest.approx(0.0, abs=0.01)  # ~all power in 4-10 kHz
    assert np.all(r[[0, 1, 3]] < -40.0)


def test_spectral_shape_of_a_sine_centroid_and_rolloff_at_its_frequency():
    out = cs.spectral_shape(_sine(12000.0, n=8192)[None], SR, 512, 256)[0]
    assert out.shape == (20,)
    centroid, bandwidth, flatness, rolloff = out[:4]
    assert centroid == pytest.approx(12.0, abs=0.3)  # kHz
    assert rolloff == pytest.approx(12.0, abs=0.4)
    assert bandwidth < 1.0 and flatness < -20.0
    noise = np.random.default_rng(0).normal(size=(1, 8192))
    assert cs.spectral_shape(noise, SR, 512, 256)[0, 2] > flatness + 15.0  # noise is flat


def test_mfcc_match_librosa_on_the_same_log_mel():
    x = np.random.default_rng(1).normal(size=(1, 6000))
    lm = cs.log_mel_frames(x, SR, 1024, 512, 40)[0]  # [frames, 40]
    ours = cs.mfcc_stats(x, SR, 1024, 512, 40, 13)[0]
    ref = librosa.feature.mfcc(S=lm.T, n_mfcc=13, dct_type=2, norm="ortho")  # [13, frames]
    np.testing.assert_allclose(ours[:13], ref.mean(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours[13:26], ref.std(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours[26:39], np.diff(ref, axis=1).mean(axis=1), atol=1e-9)


def test_log_mel_stats_match_librosa_mel_power():
    x = np.random.default_rng(2).normal(size=(1, 5000))
    w, hop, m = 1024, 512, 32
    power = librosa.feature.melspectrogram(
        y=x[0],
        sr=SR,
        n_fft=w,
        hop_length=hop,
        window="hann",
        center=False,
        power=2.0,
        n_mels=m,
        htk=True,
        norm="slaney",
    )  # [m, frames], unnormalised window; ours divides by sum(window)^2 and Hz bandwidth
    ours = 10 ** (cs.log_mel_frames(x, SR, w, hop, m)[0] / 10)  # [frames, m]
    ratio = ours / power.T
    # One constant per band (window sum and bandwidth normalisation), the same in every frame.
    np.testing.assert_allclose(ratio, ratio[:1].repeat(ratio.shape[0], 0), rtol=1e-5)


def test_clip_stats_shape_names_and_independence_from_the_batch():
    settings = cs.ClipStatsSettings()
    rng = np.random.default_rng(3)
    clips = [rng.normal(size=n) for n in (2000, 4000, 2000)]
    x = cs.clip_stats(settings, clips)
    assert x.shape == (3, len(cs.feature_names(settings)))
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(x[1], cs.clip_stats(settings, clips[1:2])[0])
    banded = cs.clip_stats(cs.ClipStatsSettings(band_hz=(1000.0, 22000.0)), clips)
    assert not np.allclose(banded, x)  # the band is applied first


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sets": ("nope",)}, "sets must be"),
        ({"band_edges_hz": (0.0, 60000.0)}, "Nyquist"),
        ({"resolutions": ((1024, 0, 32),)}, "resolution"),
        ({"n_mfcc": 50}, "n_mfcc"),
    ],
)
def test_settings_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cs.ClipStatsSettings(**kwargs)


def test_clip_stats_rejects_non_finite_clips():
    with pytest.raises(ValueError, match="non-finite"):
        cs.clip_stats(cs.ClipStatsSettings(), [np.array([0.0, np.nan, 1.0] * 1000)])
