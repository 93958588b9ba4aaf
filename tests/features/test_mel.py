"""Tests for drill_jax.features.mel: librosa parity, frame counts, bands, dB floor."""

import numpy as np
import pytest

from drill_jax import data, features

SR = 96000
CONFIG = features.MelConfig()
# Max relative difference we accept against librosa (float64 STFT). Measured with our
# float32 FFT: 1.2e-6 on white noise; on the 134 bundled sounds 2.5e-4 at most, in bands
# 60+ dB below the clip's peak (1e-3 dB), hence the absolute floor in that test.
PARITY_RTOL = 1e-5


@pytest.fixture(scope="module")
def librosa_reference():
    """librosa with the paper's settings; returns f([T]) -> [frames, n_mels] power."""
    librosa = pytest.importorskip("librosa")
    fb = librosa.filters.mel(
        sr=SR, n_fft=1999, n_mels=32, fmin=0.0, fmax=SR / 2, htk=True, norm="slaney"
    )
    window_sum = np.sum(features.periodic_hann(CONFIG))

    def reference(x):
        stft = librosa.stft(
            x, n_fft=1999, hop_length=1487, win_length=1999, window="hann", center=False
        )
        return (fb.astype(np.float64) @ np.abs(stft) ** 2).T / window_sum**2

    return fb, reference


def _tone(freq, n, amplitude=0.5):
    return amplitude * np.sin(2 * np.pi * freq * np.arange(n) / SR)


def test_filterbank_matches_librosa_htk_slaney(librosa_reference):
    fb, _ = librosa_reference
    ours = features.mel_filterbank(CONFIG)
    assert ours.shape == (1000, 32)
    np.testing.assert_allclose(ours, fb.T, rtol=1e-5, atol=1e-6 * fb.max())


def test_mel_spectrogram_matches_librosa(librosa_reference):
    _, reference = librosa_reference
    x = np.random.default_rng(0).standard_normal((4, 4000)).astype(np.float32) * 0.1
    ours = features.mel_spectrogram(x, CONFIG)
    expected = np.stack([reference(clip) for clip in x])
    assert ours.shape == expected.shape == (4, 2, 32)
    rel = np.max(np.abs(ours - expected) / np.abs(expected))
    assert rel < PARITY_RTOL, rel


def test_mel_spectrogram_matches_librosa_on_bundled_sound(librosa_reference):
    _, reference = librosa_reference
    ds = data.load_dataset()
    clip = ds.waveforms[0]
    ours = features.mel_spectrogram(clip[None], CONFIG)[0]
    expected = reference(clip)
    floor = 1e-6 * expected.max()  # bands far below the peak: compare absolutely
    np.testing.assert_allclose(ours, expected, rtol=PARITY_RTOL, atol=floor)


@pytest.mark.parametrize("n, frames", [(1999, 1), (2000, 1), (3485, 1), (3486, 2), (4000, 2)])
def test_frame_counts(n, frames):
    assert CONFIG.hop == 1487
    assert CONFIG.n_frames(n) == frames
    assert features.mel_spectrogram(np.zeros((1, n)), CONFIG).shape == (1, frames, 32)


def test_pure_tone_lands_in_its_band():
    freq = 5000.0
    spec = features.mel_spectrogram(_tone(freq, 2000)[None], CONFIG)[0, 0]
    edges = features.mel_to_hz(np.linspace(0.0, features.hz_to_mel(SR / 2), 34))
    centres = edges[1:-1]
    expected = int(np.argmin(np.abs(centres - freq)))
    assert int(np.argmax(spec)) == expected
    assert edges[expected] < freq < edges[expected + 2]
    # A full-scale-ish tone's power lands in the band(s) around it; neighbours far below.
    others = np.delete(spec, [expected - 1, expected, expected + 1])
    assert spec[expected] > 1e3 * others.max()


def test_tone_power_scale():
    # With window normalisation a tone of amplitude A has peak bin power (A / 2)^2; the
    # 'bandwidth' weights divide by (f_hi - f_lo) / 2 and sum over the main-lobe bins.
    amplitude, n = 0.5, 2000
    bin_hz = SR / 1999
    freq = 100 * bin_hz  # on a bin: no scalloping
    spec = features.mel_spectrogram(_tone(freq, n, amplitude)[None], CONFIG)[0, 0]
    fb = features.mel_filterbank(CONFIG)
    window = features.periodic_hann(CONFIG)
    # Hann main lobe: bins k-1, k, k+1 carry (A/2)^2 * [1/4, 1, 1/4].
    lobe = (amplitude / 2) ** 2 * np.array([0.25, 1.0, 0.25])
    expected = lobe @ fb[99:102]
    np.testing.assert_allclose(spec, expected, rtol=2e-3, atol=1e-6 * expected.max())
    assert np.sum(window) == pytest.approx(1999 / 2)


def test_batch_equals_per_clip():
    x = np.random.default_rng(1).standard_normal((3, 4000)).astype(np.float32)
    batched = features.log_mel(x, CONFIG)
    for i in range(3):
        np.testing.assert_allclose(batched[i], features.log_mel(x[i : i + 1], CONFIG)[0], atol=1e-4)


def test_log_mel_floor_and_top_db():
    quiet = np.zeros((1, 2000))
    assert np.all(features.log_mel(quiet, CONFIG, top_db=None) == pytest.approx(-200.0))
    x = _tone(5000.0, 2000)[None]
    db = features.log_mel(x, CONFIG, top_db=80.0)[0]
    assert db.min() == pytest.approx(db.max() - 80.0, abs=1e-3)
    power = features.mel_spectrogram(x, CONFIG)[0]
    unclipped = features.log_mel(x, CONFIG, top_db=None)[0]
    np.testing.assert_allclose(unclipped, 10 * np.log10(np.maximum(power, 1e-20)), atol=1e-3)
    assert db.max() == pytest.approx(unclipped.max(), abs=1e-4)


def test_power_to_db_matches_librosa_per_clip():
    librosa = pytest.importorskip("librosa")
    power = np.random.default_rng(2).uniform(1e-12, 1.0, (2, 3, 32)) ** 4
    ours = features.power_to_db(power, top_db=80.0, amin=1e-10)
    for i in range(2):
        expected = librosa.power_to_db(power[i], ref=1.0, amin=1e-10, top_db=80.0)
        np.testing.assert_allclose(ours[i], expected, atol=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shorter"):
        features.mel_spectrogram(np.zeros((1, 1998)), CONFIG)
    with pytest.raises(ValueError, match="\\[B, T\\]"):
        features.mel_spectrogram(np.zeros(4000), CONFIG)
    with pytest.raises(ValueError, match="NaN"):
        features.log_mel(np.full((1, 2000), np.nan), CONFIG)
    with pytest.raises(ValueError):
        features.MelConfig(n_fft=1024)
    with pytest.raises(ValueError):
        features.MelConfig(overlap=1999)
