"""Tests for drill_jax.features.filters: measured responses, zero phase, short clips, batching."""

import numpy as np
import pytest
import scipy.signal

from drill_jax.features import filters

SR = 96000


@pytest.fixture(scope="module")
def highpass_design():
    return filters.design_filter("highpass", 1000.0, SR)


@pytest.fixture(scope="module")
def lowpass_design():
    return filters.design_filter("lowpass", 22000.0, SR)


@pytest.fixture(scope="module")
def bandpass():
    return filters.make_bandpass(1000.0, 22000.0, SR)


def _sine(freq, n, phase=0.3):
    return np.sin(2 * np.pi * freq * np.arange(n) / SR + phase)


def test_stopband_edges_follow_matlab_steepness():
    # p = 0.99 - 0.98 * 0.85 = 0.157 of the passband (high-pass) or of the upper band (low-pass).
    assert filters.stopband_edge("highpass", 1000.0, SR) == pytest.approx(843.0)
    assert filters.stopband_edge("lowpass", 22000.0, SR) == pytest.approx(26082.0)
    assert filters.stopband_edge("highpass", 1000.0, SR, steepness=0.5) == pytest.approx(500.0)


@pytest.mark.parametrize("kind", ["highpass", "lowpass"])
@pytest.mark.parametrize("design", ["fir", "iir"])
def test_measured_response_meets_spec(kind, design, highpass_design, lowpass_design):
    fd = highpass_design if kind == "highpass" else lowpass_design
    freqs, gain = filters.frequency_response(fd, design, n_freqs=100001)
    db = 20 * np.log10(np.maximum(np.abs(gain), 1e-30))
    if kind == "highpass":
        passband, stopband = freqs >= 1000.0, freqs <= fd.stopband_hz
    else:
        passband, stopband = freqs <= 22000.0, freqs >= fd.stopband_hz
    # FIR: single pass, 0.1 dB / 60 dB. IIR through filtfilt: gain squared, 0.2 dB / 120 dB.
    max_ripple, min_atten = (0.1, 60.0) if design == "fir" else (0.2 + 1e-6, 120.0 - 1e-6)
    assert np.max(np.abs(db[passband])) <= max_ripple
    assert -np.max(db[stopband]) >= min_atten


def test_auto_picks_iir_for_short_clips_like_matlab(highpass_design, lowpass_design):
    # MATLAB uses the IIR when the signal is at most 2 x the FIR order long.
    assert highpass_design.fir_order == 2217
    assert highpass_design.select(4000) == "iir"
    assert highpass_design.select(2 * 2217 + 1) == "fir"
    assert lowpass_design.select(2000) == "fir"
    assert lowpass_design.select(100) == "iir"


def _tone_gain(y, freq, sl):
    """Complex gain of the ``freq`` component of y over slice sl, relative to _sine."""
    n = np.arange(len(y))[sl]
    basis = np.exp(-2j * np.pi * freq * n / SR)
    return np.sum(y[sl] * basis) / np.sum(_sine(freq, len(y))[sl] * basis)


@pytest.mark.parametrize("design", ["fir", "iir"])
def test_passband_sinusoid_has_no_phase_shift(design, highpass_design):
    n = 20000
    y = filters.apply(highpass_design, _sine(5000.0, n)[None], design=design)[0]
    gain = _tone_gain(y, 5000.0, slice(n // 4, 3 * n // 4))
    freqs, response = filters.frequency_response(highpass_design, design, n_freqs=96001)
    assert abs(np.angle(gain, deg=True)) < 0.01
    assert abs(gain) == pytest.approx(response[np.searchsorted(freqs, 5000.0)], abs=1e-3)


def test_fir_matches_scipy_delay_compensated_lfilter(lowpass_design):
    x = np.random.default_rng(0).standard_normal(3000)
    taps = lowpass_design.taps
    delay = (len(taps) - 1) // 2
    full = scipy.signal.lfilter(taps, 1.0, np.concatenate([x, np.zeros(delay)]))
    expected = full[delay:]
    y = filters.apply(lowpass_design, x, design="fir")
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_fir_longer_than_clip_is_still_delay_compensated(highpass_design):
    # The 1000 Hz FIR (2275 taps) is longer than a 2000-sample clip: 'same' alignment must
    # still equal filtering the zero-extended clip and dropping the delay.
    x = np.random.default_rng(3).standard_normal(2000)
    taps = highpass_design.taps
    assert len(taps) > len(x)
    delay = (len(taps) - 1) // 2
    expected = scipy.signal.lfilter(taps, 1.0, np.concatenate([x, np.zeros(delay)]))[delay:]
    np.testing.assert_allclose(filters.apply(highpass_design, x, design="fir"), expected, atol=1e-5)


def test_iir_matches_scipy_sosfiltfilt(highpass_design):
    x = np.random.default_rng(1).standard_normal(2000)
    expected = scipy.signal.sosfiltfilt(highpass_design.sos, x)
    np.testing.assert_allclose(filters.apply(highpass_design, x, design="iir"), expected, atol=1e-5)


@pytest.mark.parametrize("design", ["auto", "fir"])
def test_bandpass_on_2000_sample_clip(design):
    bandpass = filters.make_bandpass(1000.0, 22000.0, SR, design=design)
    n, mid = 2000, slice(500, 1500)
    passed = bandpass(_sine(5000.0, n))
    assert passed.dtype == np.float32 and passed.shape == (n,)
    gain = _tone_gain(passed, 5000.0, mid)
    assert abs(gain) == pytest.approx(1.0, abs=0.01)  # <= 0.2 dB ripple (IIR through filtfilt)
    assert abs(np.angle(gain, deg=True)) < 0.05
    for freq in (200.0, 30000.0):
        assert abs(_tone_gain(bandpass(_sine(freq, n)), freq, mid)) < 1e-3  # <= -60 dB
    # The 1000 Hz elliptic high-pass that 'auto' picks (like MATLAB) rings from the clip
    # edges: about 1 % of the input amplitude is left mid-clip. The long FIR does not ring.
    residual = np.sqrt(np.mean(bandpass(_sine(200.0, n))[mid] ** 2))
    assert residual < 2e-3
    leak = np.sqrt(np.mean(bandpass(_sine(30000.0, n))[mid] ** 2))
    assert leak < (2e-2 if design == "auto" else 1e-3)


def test_batched_equals_per_clip(bandpass):
    x = np.random.default_rng(2).standard_normal((3, 2, 2000)).astype(np.float32)
    batched = bandpass(x)
    assert batched.shape == x.shape
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(batched[i, j], bandpass(x[i, j]), atol=1e-6)


def test_very_short_clip_uses_truncated_iir_order(highpass_design):
    # 12 samples <= 3 x order 8: MATLAB cuts the order to floor(12 / 3) = 4, minus 1 -> 3.
    y = filters.apply(highpass_design, np.ones(12), design="iir")
    assert y.shape == (12,) and np.all(np.isfinite(y))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"passband_hz": 0.0},
        {"passband_hz": 48000.0},
        {"passband_hz": 1000.0, "sample_rate": -1},
        {"passband_hz": 1000.0, "steepness": 1.0},
        {"passband_hz": 1000.0, "attenuation_db": 5.0},
        {"passband_hz": 1000.0, "design": "fft"},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        filters.make_highpass(**kwargs)


def test_bad_signals_raise(lowpass_design):
    with pytest.raises(ValueError, match="NaN"):
        filters.apply(lowpass_design, np.array([0.0, np.nan, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        filters.apply(lowpass_design, np.zeros((2, 0)))
    with pytest.raises(ValueError, match="below"):
        filters.make_bandpass(22000.0, 1000.0)


@pytest.mark.parametrize(
    "shape, padlen", [((2000,), 27), ((3, 2, 4000), 27), ((4, 30), 5), ((2, 50), 0)]
)
def test_cached_sosfiltfilt_equals_scipy(shape, padlen):
    sos = scipy.signal.ellip(8, 0.1, 60, 1000, "highpass", fs=96000, output="sos")
    x = np.random.default_rng(1).standard_normal(shape)
    expected = scipy.signal.sosfiltfilt(sos, x, axis=-1, padlen=padlen)
    np.testing.assert_array_equal(filters.sosfiltfilt_cached(sos, x, padlen), expected)
