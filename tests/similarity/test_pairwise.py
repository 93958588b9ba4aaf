"""Tests for drill_jax.similarity.pairwise: known answers and parity with scipy.signal."""

import numpy as np
import pytest
import scipy.signal

from drill_jax.similarity import pairwise

SR = 96000


def _burst(rng, n=1999, pad=100):
    """Noise burst with silent edges, so that a shift of up to ``pad`` samples loses no energy."""
    x = np.zeros(n)
    x[pad : n - pad] = rng.standard_normal(n - 2 * pad) * np.hanning(n - 2 * pad)
    return x


def test_delayed_copy_peaks_at_one_at_minus_delay():
    x = _burst(np.random.default_rng(0))
    d = 37
    y = np.roll(x, d)  # y[n] = x[n - d]; the edges are silent, so nothing wraps
    xc = pairwise.xcorr_coeff(x, y, SR)
    np.testing.assert_allclose(xc.peak, 1.0, atol=1e-12)
    assert xc.peak_lag == -d
    np.testing.assert_allclose(xc.peak_lag_s, -d / SR)
    assert xc.coeffs.shape == (2 * 1999 - 1,) and xc.lags[0] == -1998 and xc.lags[-1] == 1998
    assert np.all(np.abs(xc.coeffs) <= 1.0 + 1e-12)
    # Swapping the arguments mirrors the lag.
    assert pairwise.xcorr_coeff(y, x, SR).peak_lag == d


def test_negation_and_scale_invariance():
    x = _burst(np.random.default_rng(1))
    xc = pairwise.xcorr_coeff(x, -3.0 * x, SR)
    np.testing.assert_allclose(xc.peak, -1.0, atol=1e-12)
    assert xc.peak_lag == 0


def test_independent_noise_is_near_zero():
    rng = np.random.default_rng(2)
    n = 4000
    xc = pairwise.xcorr_coeff(rng.standard_normal(n), rng.standard_normal(n), SR)
    # Max of ~2n roughly N(0, 1/n) coefficients: about 4.5 / sqrt(n) = 0.07.
    assert abs(xc.peak) < 0.1


def test_matches_direct_formula():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    xc = pairwise.xcorr_coeff(a, b, SR)
    norm = np.sqrt(np.sum(a**2) * np.sum(b**2))
    for k in (-49, -7, 0, 5, 49):
        if k >= 0:
            expected = np.sum(a[k:] * b[: 50 - k]) / norm
        else:
            expected = np.sum(a[: 50 + k] * b[-k:]) / norm
        np.testing.assert_allclose(xc.coeffs[xc.lags == k][0], expected, atol=1e-12)


def test_unequal_lengths_common_vs_pad():
    rng = np.random.default_rng(4)
    long = rng.standard_normal(4000)
    short = long[:1999].copy()
    common = pairwise.xcorr_coeff(long, short, SR)
    assert common.length == 1999 and common.coeffs.shape == (2 * 1999 - 1,)
    np.testing.assert_allclose(common.peak, 1.0, atol=1e-12)
    assert common.peak_lag == 0
    # Zero-padding keeps the long sound's full energy in the denominator.
    padded = pairwise.xcorr_coeff(long, short, SR, mode="pad")
    assert padded.length == 4000
    expected = np.sqrt(np.sum(short**2) / np.sum(long**2))
    np.testing.assert_allclose(padded.peak, expected, atol=1e-12)
    a, b = pairwise.common_part(long, short)
    assert a.shape == b.shape == (1999,)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="all zeros"):
        pairwise.xcorr_coeff(np.zeros(10), np.ones(10), SR)
    with pytest.raises(ValueError, match="1-D"):
        pairwise.xcorr_coeff(np.ones((2, 10)), np.ones(10), SR)
    with pytest.raises(ValueError, match="non-finite"):
        pairwise.xcorr_coeff(np.array([1.0, np.nan]), np.ones(2), SR)
    with pytest.raises(ValueError, match="mode"):
        pairwise.xcorr_coeff(np.ones(4), np.ones(4), SR, mode="x")
    with pytest.raises(ValueError, match="sample_rate"):
        pairwise.xcorr_coeff(np.ones(4), np.ones(4), 0)
    with pytest.raises(ValueError, match="9 samples"):
        pairwise.coherence(np.ones(5), np.ones(5), SR)


def test_peak_matrix_matches_pairwise():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 300))
    b = np.concatenate([rng.standard_normal((3, 300)), -np.roll(a[:1], 4, axis=1)])
    peaks, lags = pairwise.peak_xcorr_matrix(a, b, chunk=2)
    assert peaks.shape == lags.shape == (5, 4)
    for i in range(5):
        for j in range(4):
            xc = pairwise.xcorr_coeff(a[i], b[j], SR)
            np.testing.assert_allclose(peaks[i, j], xc.peak, atol=1e-10)
            assert lags[i, j] == xc.peak_lag
    assert peaks[0, 3] < -0.95 and lags[0, 3] == -4


def test_power_spectrum_matlab_defaults_and_parity():
    rng = np.random.default_rng(6)
    x = rng.standard_normal(1999) + 0.5  # a DC offset that SciPy's default would remove
    f, p = pairwise.power_spectrum(x, SR)
    assert f.shape == (1025,)  # nfft = 2048
    f_ref, p_ref = scipy.signal.periodogram(x, SR, nfft=2048, detrend=False)
    np.testing.assert_allclose(p, p_ref)
    np.testing.assert_allclose(f, f_ref)
    # Parseval: the one-sided density integrates to the mean power.
    np.testing.assert_allclose(np.sum(p) * (f[1] - f[0]), np.mean(x**2), rtol=1e-2)
    assert pairwise.power_spectrum(np.ones(100), SR)[0].shape == (129,)  # nfft 256


def test_mscohere_params_give_eight_segments():
    p = pairwise.mscohere_params(1999)
    assert (p["nperseg"], p["noverlap"], p["nfft"]) == (444, 222, 512)
    assert (1999 - p["noverlap"]) // (p["nperseg"] - p["noverlap"]) == 8
    # The MATLAB Answers example: 8064 samples -> 1792-sample segments, nfft 2048.
    p = pairwise.mscohere_params(8064)
    assert (p["nperseg"], p["nfft"]) == (1792, 2048)
    np.testing.assert_allclose(p["window"], np.hamming(1792))  # symmetric, like MATLAB


def test_coherence_parity_with_scipy():
    rng = np.random.default_rng(7)
    a = rng.standard_normal(4000)
    b = 0.5 * a[:1999] + rng.standard_normal(1999)
    coh = pairwise.coherence(a, b, SR)
    p = pairwise.mscohere_params(1999)
    kw = {
        "fs": SR,
        "window": p["window"],
        "nperseg": 444,
        "noverlap": 222,
        "nfft": 512,
        "detrend": False,
    }
    f_ref, c_ref = scipy.signal.coherence(a[:1999], b, **kw)
    np.testing.assert_allclose(coh.freqs, f_ref)
    np.testing.assert_allclose(coh.cxy, c_ref, rtol=1e-10)
    _, pab = scipy.signal.csd(a[:1999], b, **kw)
    np.testing.assert_allclose(coh.phase_deg, np.degrees(np.angle(pab)))
    assert coh.length == 1999 and np.all((coh.cxy >= 0) & (coh.cxy <= 1 + 1e-12))


def test_sinusoids_sharing_a_frequency():
    rng = np.random.default_rng(8)
    n, f0, phi = 1999, 20 * 187.5, 45.0  # f0 on a 512-point bin
    t = np.arange(n) / SR
    a = np.sin(2 * np.pi * f0 * t) + 0.1 * rng.standard_normal(n)
    b = np.sin(2 * np.pi * f0 * t + np.radians(phi)) + 0.1 * rng.standard_normal(n)
    coh = pairwise.coherence(a, b, SR)
    k = int(np.argmin(np.abs(coh.freqs - f0)))
    assert coh.cxy[k] > 0.99
    np.testing.assert_allclose(coh.phase_deg[k], phi, atol=2.0)  # b leads a: positive phase
    far = np.abs(coh.freqs - f0) > 3000
    assert np.median(coh.cxy[far]) < 0.3
    peaks = pairwise.coherence_peaks(coh)
    top = int(np.argmax(peaks.cxy))
    np.testing.assert_allclose(peaks.freqs[top], f0)
    np.testing.assert_allclose(peaks.phase_deg[top], phi, atol=2.0)
    assert np.all(peaks.cxy > pairwise.COHERENCE_PEAK_THRESHOLD)
    ref_idx, _ = scipy.signal.find_peaks(coh.cxy, height=0.05)
    np.testing.assert_array_equal(peaks.freqs, coh.freqs[ref_idx])


def test_delay_gives_linear_phase():
    x = _burst(np.random.default_rng(9), n=4000, pad=200)
    d = 3
    coh = pairwise.coherence(x, np.roll(x, d), SR)
    band = (coh.freqs > 500) & (coh.freqs < 5000)
    expected = -360.0 * coh.freqs[band] * d / SR
    np.testing.assert_allclose(coh.phase_deg[band], expected, atol=3.0)


def test_compare_pair_summary():
    x = _burst(np.random.default_rng(10))
    summary = pairwise.compare_pair(x, np.roll(x, 5), SR, top_peaks=3)
    np.testing.assert_allclose(summary["xcorr_peak"], 1.0, atol=1e-12)
    assert summary["xcorr_peak_lag_samples"] == -5
    assert len(summary["coherence_top_peaks"]) <= 3
    assert summary["coherence_mean"] > 0.9
