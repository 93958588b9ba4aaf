"""Tests for drill_jax.features.fftfilt: the FFT form of sosfiltfilt equals scipy's."""

import jax
import numpy as np
import pytest
import scipy.signal

from drill_jax.features import fftfilt, filters

SR = 96000


def _max_rel(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


@pytest.mark.parametrize("n", [2000, 4000, 300])
def test_paper_high_pass_matches_scipy(n):
    fd = filters.design_filter("highpass", 1000.0, SR)
    x = np.random.default_rng(n).uniform(-1, 1, (5, n))
    pad = filters._padlen(fd.sos, n)
    want = scipy.signal.sosfiltfilt(fd.sos, x, axis=-1, padlen=pad)
    assert _max_rel(fftfilt.sosfiltfilt_fft(fd.sos, x, pad), want) < 1e-6


def test_random_stable_designs_and_paddings_match_scipy():
    rng = np.random.default_rng(0)
    for trial in range(12):
        order = int(rng.integers(1, 9))
        kind = ["lowpass", "highpass", "bandpass"][trial % 3]
        wn = sorted(rng.uniform(0.05, 0.9, 2)) if kind == "bandpass" else rng.uniform(0.05, 0.9)
        if trial % 2:
            sos = scipy.signal.ellip(order, 0.5, 50, wn, btype=kind, output="sos")
        else:
            sos = scipy.signal.butter(order, wn, btype=kind, output="sos")
        n = int(rng.integers(50, 700))
        pad = int(rng.integers(0, min(3 * (2 * len(sos) + 1), n - 1) + 1))
        x = rng.standard_normal((3, n))
        want = scipy.signal.sosfiltfilt(sos, x, axis=-1, padlen=pad)
        assert _max_rel(fftfilt.sosfiltfilt_fft(sos, x, pad), want) < 1e-6, (trial, order, kind)


def test_filters_apply_fft_method_equals_recursive():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 4000)).astype(np.float32)
    for settings in ((1000.0, 22000.0), (1000.0, None)):
        band = (
            filters.make_bandpass(*settings, SR)
            if settings[1]
            else filters.make_highpass(settings[0], SR)
        )
        fast = (
            filters.make_bandpass(*settings, SR, method="fft")
            if settings[1]
            else filters.make_highpass(settings[0], SR, method="fft")
        )
        want, got = band(x), fast(x)
        assert got.dtype == np.float32
        assert _max_rel(got, want) < 1e-6
    with pytest.raises(ValueError, match="method"):
        filters.make_highpass(1000.0, SR, method="magic")


def test_jax_version_matches_in_float32():
    fd = filters.design_filter("highpass", 1000.0, SR)
    n = 2000
    pad = filters._padlen(fd.sos, n)
    x = np.random.default_rng(2).uniform(-1, 1, (3, n)).astype(np.float32)
    f = jax.jit(fftfilt.make_jax_sosfiltfilt(fd.sos, n, pad))
    got = np.asarray(f(x), np.float64)
    want = scipy.signal.sosfiltfilt(fd.sos, x.astype(np.float64), axis=-1, padlen=pad)
    assert got.shape == (3, n)
    assert _max_rel(got, want) < 1e-4  # float32 FFTs


def test_bad_arguments():
    sos = scipy.signal.butter(2, 0.3, output="sos")
    with pytest.raises(ValueError, match="padlen"):
        fftfilt.sosfiltfilt_fft(sos, np.zeros((2, 10)), 10)
    with pytest.raises(ValueError, match="sos"):
        fftfilt.sosfiltfilt_fft(np.zeros((2, 5)), np.zeros((2, 10)), 1)
