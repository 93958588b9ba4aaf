"""Tests for the non-learned STFT reference generators: PCA on log-magnitude STFTs and
STFT interpolation, both with Griffin-Lim phases."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from drill_jax.vae import griffin_lim, onset_decoder, pca_reference, spectral_loss, stft_interp

T, N_FFT, HOP = 600, 128, 16
SPEC = griffin_lim.Spectrogram(n_fft=N_FFT, hop=HOP)


@pytest.fixture(scope="module")
def clips():
    """Six damped tones of different frequencies with onsets near sample 140: [6, T]."""
    t = np.arange(T)
    f = np.linspace(0.02, 0.08, 6)[:, None]
    on = (t >= 140)[None, :]
    x = on * np.exp(-np.maximum(t - 140, 0) / 60.0) * np.sin(2 * np.pi * f * t)
    return (0.5 * x + 1e-3 * np.random.default_rng(0).normal(size=(6, T))).astype(np.float32)


def _sc(y, x):
    mag = jnp.abs(spectral_loss.stft(jnp.asarray(x), N_FFT, HOP))
    return np.asarray(griffin_lim.spectral_convergence(jnp.asarray(y), mag, N_FFT, HOP))


def test_pca_full_rank_posterior_reproduces_the_source(clips):
    config = pca_reference.Config(
        spectrogram=SPEC, components=5, bandwidth=0.0, residual_scale=0.0
    )
    model = pca_reference.fit(config, clips, jax.random.key(0))
    assert model.directions.shape == (5, model.mean.shape[0])
    np.testing.assert_allclose(model.residual_var, 0.0, atol=1e-6)
    y, z = pca_reference.sample(config, model, jax.random.key(0), 3, clips[:3])
    assert z.shape == (3, 5)
    assert np.all(_sc(y, clips[:3]) < 0.15)
    assert np.all(_sc(y, clips[3:]) > 0.5)


def test_pca_prior_samples_are_new_and_deterministic(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=3)
    model = pca_reference.fit(config, clips, jax.random.key(0))
    a = pca_reference.sample(config, model, jax.random.key(1), 4)[0]
    b = pca_reference.sample(config, model, jax.random.key(1), 4)[0]
    c = pca_reference.sample(config, model, jax.random.key(2), 4)[0]
    assert a.shape == (4, T) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="source clips"):
        pca_reference.sample(config, model, jax.random.key(1), 4, clips[:2])


def test_pca_match_level_gives_each_sound_its_centre_clips_level(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=3, level="source")
    quiet = clips * np.linspace(0.1, 1.0, 6, dtype=np.float32)[:, None]
    model = pca_reference.fit(config, quiet, jax.random.key(0))
    np.testing.assert_allclose(model.levels, pca_reference.rms(quiet))
    y, _ = pca_reference.sample(config, model, jax.random.key(1), 3, quiet[[0, 2, 5]])
    np.testing.assert_allclose(pca_reference.rms(y), pca_reference.rms(quiet[[0, 2, 5]]), 1e-4)
    # Prior draws: each at the level of a training clip, every clip once in six draws.
    prior, _ = pca_reference.sample(config, model, jax.random.key(2), 6)
    np.testing.assert_allclose(
        np.sort(pca_reference.rms(prior)), np.sort(model.levels), rtol=1e-4
    )
    # Without it the level is Griffin-Lim's, which differs.
    plain = dataclasses.replace(config, level="decoded")
    y0, _ = pca_reference.sample(plain, model, jax.random.key(1), 3, quiet[[0, 2, 5]])
    assert not np.allclose(pca_reference.rms(y0), pca_reference.rms(y), rtol=1e-3)


def test_pca_aligned_onsets_are_restored_per_sound():
    # Two trigger positions, as the drill sounds have: onsets at 140 and at 300.
    t = np.arange(T)
    on = np.array([140, 140, 140, 300, 300, 300])[:, None]
    f = np.linspace(0.02, 0.08, 6)[:, None]
    x = (t >= on) * np.exp(-np.maximum(t - on, 0) / 60.0) * np.sin(2 * np.pi * f * t)
    mixed = (0.5 * x + 1e-3 * np.random.default_rng(0).normal(size=(6, T))).astype(np.float32)
    config = pca_reference.Config(spectrogram=SPEC, components=5, align_onsets=True)
    model = pca_reference.fit(config, mixed, jax.random.key(0))
    onsets = onset_decoder.onset_time(mixed).astype(int)
    np.testing.assert_array_equal(model.shifts, onsets - model.onset)
    assert np.all(np.abs(model.shifts[:3] - model.shifts[3:].mean()) > 100)

    def late(y):
        """Whether a sound's energy before sample 250 is under 5 % of its total."""
        return np.sum(y[:, :250] ** 2, axis=1) < 0.05 * np.sum(y**2, axis=1)

    y, _ = pca_reference.sample(config, model, jax.random.key(1), 6, mixed)
    assert list(late(y)) == [False] * 3 + [True] * 3  # each at its source's onset
    prior, _ = pca_reference.sample(config, model, jax.random.key(2), 6)
    assert sorted(late(prior)) == [False] * 3 + [True] * 3  # each kernel's onset once


def test_silverman_bandwidth():
    # (4 / 3)^(1 / 5) n^(-1 / 5) in one dimension: 1.06 n^(-1/5), the familiar rule.
    np.testing.assert_allclose(pca_reference.silverman(1, 32), 1.0592 * 32 ** (-0.2), rtol=1e-4)


def test_pca_kde_prior_keeps_the_training_covariance(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=2, residual_scale=0.0)
    model = pca_reference.fit(config, clips, jax.random.key(0))
    # The coordinates of many prior samples have the training coordinates' spread.
    y, _ = pca_reference.sample(config, model, jax.random.key(5), 400)
    z = (pca_reference.vectors(config, y) - model.mean) @ model.directions.T
    np.testing.assert_allclose(z.std(axis=0), model.scales, rtol=0.25)


def test_pca_kernels_without_shrinkage_widen_the_spread_by_the_bandwidth(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=2, bandwidth=0.5, shrink=False)
    model = pca_reference.fit(config, clips, jax.random.key(0))
    centres = np.repeat(model.coords, 2000, axis=0)
    z = pca_reference.around(config, model, jax.random.key(3), centres)
    # variance of the centres (scales^2) plus the kernels' (0.5 scales)^2, nothing shrunk
    np.testing.assert_allclose(z.std(axis=0), model.scales * np.sqrt(1.25), rtol=0.05)
    assert np.all(np.abs(z.mean(axis=0) - model.coords.mean(axis=0)) < 0.05 * model.scales)


def test_pca_rejects_one_clip(clips):
    with pytest.raises(ValueError, match="N >= 2"):
        pca_reference.fit(pca_reference.Config(), clips[:1], jax.random.key(0))


def test_interp_at_weight_one_is_the_source(clips):
    config = stft_interp.Config(spectrogram=SPEC, weight_range=(1.0, 1.0))
    y = stft_interp.sample(config, jax.random.key(0), clips, clips[:3])
    assert np.all(_sc(y, clips[:3]) < 0.15)


def test_interp_lies_between_its_two_clips(clips):
    config = stft_interp.Config(spectrogram=SPEC, weight_range=(0.5, 0.5))
    a, b = jnp.asarray(clips[:1]), jnp.asarray(clips[5:6])
    y = stft_interp.interpolate(config, jax.random.key(0), a, b)
    # Its spectrum peaks at both tones' frequencies, each attenuated by about half (in log).
    spectrum = np.abs(np.fft.rfft(np.asarray(y)[0]))
    peaks = [int(round(f * T)) for f in (0.02, 0.08)]
    assert all(spectrum[p] > 5 * np.median(spectrum) for p in peaks)


def test_interp_never_pairs_a_training_clip_with_itself(clips):
    # Weight 1/2 between a clip and itself would be a (phase-randomised) copy of it.
    config = stft_interp.Config(spectrogram=SPEC, weight_range=(0.5, 0.5))
    pair, first = clips[:2], clips[[0, 0, 1, 1]]
    a = stft_interp.sample(config, jax.random.key(3), pair, first)
    np.testing.assert_array_equal(a, stft_interp.sample(config, jax.random.key(3), pair, first))
    assert a.shape == (4, T) and np.all(np.abs(a) <= 1.0)
    # Each sound lies between both clips, so it has both tones.
    spectrum = np.abs(np.fft.rfft(a, axis=-1))
    for f in (0.02, 0.032):
        assert np.all(spectrum[:, int(round(f * T))] > 5 * np.median(spectrum, axis=-1))
    with pytest.raises(ValueError, match="2 training clips"):
        stft_interp.sample(config, jax.random.key(3), clips[:1], clips[:1])
    with pytest.raises(ValueError, match="weight_range"):
        stft_interp.Config(weight_range=(0.8, 0.2))


def test_pca_contrast_sharpens_around_the_moving_average_and_keeps_the_energy():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 20, 9))
    np.testing.assert_array_equal(pca_reference.sharpen(v, 1.0), v)
    sharp = pca_reference.sharpen(v, 2.0)
    width = pca_reference.CONTRAST_FRAMES
    smooth = scipy.ndimage.uniform_filter1d(v, width, axis=1, mode="nearest")
    # Twice the deviation from the moving average, up to one offset per sound ...
    offset = sharp - (smooth + 2.0 * (v - smooth))
    np.testing.assert_allclose(offset, offset[:, :1, :1] * np.ones_like(v), atol=1e-9)
    # ... that keeps each sound's energy sum exp(2 v).
    energy = lambda a: np.log(np.exp(2 * a).sum(axis=(1, 2)))
    np.testing.assert_allclose(energy(sharp), energy(v), rtol=1e-9)


def test_pca_fitted_contrast_brings_the_draws_kurtosis_nearest_the_clips(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=5, contrast=None)
    model = pca_reference.fit(config, clips, jax.random.key(0))
    assert model.contrast in pca_reference.CONTRASTS
    again = pca_reference.fit(config, clips, jax.random.key(0))
    assert again.contrast == model.contrast
    # The draws the fit compared: the chosen contrast misses the clips' kurtosis least.
    eps_key, r_key, phase_key = jax.random.split(jax.random.fold_in(jax.random.key(0), 1), 3)
    z = pca_reference.around(config, model, eps_key, model.coords)
    target = np.log(pca_reference.median_kurtosis(clips))

    def miss(contrast):
        y = pca_reference.decode(config, model._replace(contrast=contrast), z, r_key, phase_key)
        return abs(np.log(pca_reference.median_kurtosis(y)) - target)

    misses = {c: miss(c) for c in pca_reference.CONTRASTS}
    assert misses[model.contrast] == min(misses.values())
    y, _ = pca_reference.sample(config, model, jax.random.key(1), 4)
    assert y.shape == (4, T) and np.all(np.abs(y) <= 1.0)


def test_pca_local_draws_keep_the_centres_higher_coordinates(clips):
    config = pca_reference.Config(spectrogram=SPEC, components=5, perturbed=2, shrink=False)
    model = pca_reference.fit(config, clips, jax.random.key(0))
    z = pca_reference.around(config, model, jax.random.key(3), model.coords)
    np.testing.assert_array_equal(z[:, 2:], model.coords[:, 2:])
    assert np.all(np.abs(z[:, :2] - model.coords[:, :2]) > 0)


def test_pca_waveform_domain_full_rank_posterior_is_the_source_at_its_lag_and_sign(clips):
    # The same ringing at other lags and signs: aligned, they are one waveform plus noise.
    by, sign = np.array([0, 37, -90, 5, 200, -3]), np.array([1, -1, 1, -1, 1, 1])
    moved = (pca_reference.alignment.shift(np.repeat(clips[:1], 6, 0), by) * sign[:, None])
    moved = (moved + 0.05 * clips[::-1]).astype(np.float32)
    config = pca_reference.Config(
        components=5, domain="waveform", bandwidth=0.0, residual_scale=0.0
    )
    model = pca_reference.fit(config, moved, jax.random.key(0))
    assert model.frames == 0 and model.reference.shape == (T,)
    lag0 = model.shifts[0]
    np.testing.assert_array_equal(model.shifts - lag0, -by)
    np.testing.assert_array_equal(model.signs * model.signs[0], sign)
    y, _ = pca_reference.sample(config, model, jax.random.key(1), 6, moved)
    np.testing.assert_allclose(y, moved, atol=1e-5)
    # Prior draws at their kernels' lags: each is nearest its own training clip's lag.
    prior, _ = pca_reference.sample(
        dataclasses.replace(config, bandwidth=0.5), model, jax.random.key(2), 6
    )
    assert np.all(np.isfinite(prior)) and np.all(np.abs(prior) <= 1.0)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(domain="mel"), "domain"),
        (dict(contrast=0.0), "contrast"),
        (dict(perturbed=0), "perturbed"),
        (dict(domain="waveform", contrast=None), "waveform"),
        (dict(domain="waveform", align_onsets=True), "waveform"),
    ],
)
def test_pca_refuses_bad_settings(bad, match):
    with pytest.raises(ValueError, match=match):
        pca_reference.Config(**bad)
