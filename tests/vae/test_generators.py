"""Tests for drill_jax.vae.generators and reference_generators: every new generator is
deterministic per seed, resumes bit-identically, and the reference ones reach their extremes."""

import dataclasses

import jax
import numpy as np
import pytest

from drill_jax.vae import generators, latents, reference_generators, trainer
from drill_jax.vae.models import noise_vae
from tests.vae.conftest import TINY_NOISE as NOISE
from tests.vae.conftest import _sounds

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

T = NOISE.network.input_length


def _leaves(state):
    return jax.tree_util.tree_leaves(jax.device_get((state.params, state.opt_state, state.step)))


def test_noise_vae_is_deterministic_and_resumes_bit_identically(tmp_path):
    x = _sounds(6, 0)  # [6, 256]: a padded last batch
    key = jax.random.key(3)
    full, hist = generators.fit(x, None, NOISE, key)
    again, _ = generators.fit(x, None, NOISE, key)
    for a, b in zip(_leaves(full), _leaves(again)):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(hist[-1].train_loss) and len(hist) == 2
    one = dataclasses.replace(NOISE, epochs=1)
    generators.fit(x, None, one, key, workdir=str(tmp_path))
    resumed, hist_r = generators.fit(x, None, NOISE, key, workdir=str(tmp_path), resume=True)
    for a, b in zip(_leaves(full), _leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    assert [r.epoch for r in hist_r] == [1, 2]
    # same synthesis key -> same sounds; posterior and aggregate-prior sounds are finite
    # (6 sounds, as many as the training clips: one compile of the encoder)
    for mode in ("posterior", "prior"):
        cfg = dataclasses.replace(NOISE, synthesis=trainer.SynthesisConfig(prior="aggregate"))
        a, info = generators.sample(full, cfg, jax.random.key(9), 6, mode, x, train_sounds=x)
        b, _ = generators.sample(full, cfg, jax.random.key(9), 6, mode, x, train_sounds=x)
        np.testing.assert_array_equal(a, b)
        assert a.shape == (6, T) and np.all(np.isfinite(a)) and np.abs(a).max() <= 1.0
        assert (info["source_index"] >= 0).all() == (mode == "posterior")
    # level calibration: every sound scaled by one gain, level_gain of the training sounds
    cal = dataclasses.replace(NOISE, synthesis=trainer.SynthesisConfig(calibrate_level=True))
    key = jax.random.key(9)
    a, _ = generators.sample(full, NOISE, key, 6, "posterior", x, train_sounds=x)
    b, _ = generators.sample(full, cal, key, 6, "posterior", x, train_sounds=x)
    gain = noise_vae.level_gain(full, x, jax.random.fold_in(jax.random.split(key)[1], 1))
    assert gain > 0 and np.isfinite(gain)
    np.testing.assert_allclose(b, np.clip(a * gain, -1.0, 1.0), rtol=1e-5, atol=1e-7)


def test_random_phase_copy_keeps_the_magnitude_spectrum():
    x = _sounds(4, 1)
    y = np.asarray(jax.jit(reference_generators.random_phase_copy)(jax.random.key(0), x))
    np.testing.assert_allclose(
        np.abs(np.fft.rfft(y, axis=-1)), np.abs(np.fft.rfft(x, axis=-1)), atol=1e-4
    )
    assert np.abs(np.corrcoef(x[0], y[0])[0, 1]) < 0.5  # new phases: not the same waveform


def test_shaped_noise_has_the_class_mean_level():
    x = _sounds(6, 2)
    mean_power = reference_generators.mean_power_spectrum(x)
    shaped_noise = jax.jit(reference_generators.shaped_noise, static_argnums=(2, 3))
    y = np.asarray(shaped_noise(jax.random.key(1), mean_power, 2000, 256))
    np.testing.assert_allclose(np.mean(y**2), np.mean(x**2), rtol=0.05)


def test_interpolation_level_lies_between_its_two_sounds():
    rng = np.random.default_rng(0)
    xa = np.float32(0.01 * rng.normal(size=(50, 256)))
    xb = np.float32(0.5 * rng.normal(size=(50, 256)))
    interpolate = jax.jit(reference_generators.interpolate_pairs)  # one compile, not one per op
    y = np.asarray(interpolate(jax.random.key(2), xa, xb))
    rms = np.sqrt(np.mean(y**2, axis=1))
    assert np.all(rms > 0.009) and np.all(rms < 0.51) and np.std(np.log(rms)) > 0.5


@pytest.mark.parametrize("arch", ("interp", "phase_copy", "shaped_noise"))
def test_reference_generators_are_deterministic_and_refuse_test_sources(arch):
    cfg = trainer.VAEConfig(network=trainer.NetworkConfig(arch=arch, input_length=256))
    x = _sounds(3, 3)  # 4 sounds from 3 sources: the sources repeat
    model, history = generators.fit(x, None, cfg, jax.random.key(0))
    assert history == []
    a, info = generators.sample(model, cfg, jax.random.key(1), 4, "posterior", x)
    b, _ = generators.sample(model, cfg, jax.random.key(1), 4, "posterior", x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 256) and np.abs(a).max() <= 1.0
    with pytest.raises(ValueError, match="TEST"):
        generators.sample(model, cfg, jax.random.key(1), 4, "posterior", x, "test")


def test_noise_shaping_needs_a_spectral_loss_and_the_paper_vae_is_the_default():
    with pytest.raises(ValueError, match="recon='stft'"):
        trainer.VAEConfig(network=trainer.NetworkConfig(arch="noise"))
    assert trainer.VAEConfig().network.arch == "conv"


def test_aggregate_prior_fits_the_posterior_means():
    rng = np.random.default_rng(0)
    mean = rng.normal(loc=[3.0, -1.0], scale=[0.5, 2.0], size=(4000, 2))
    mu, cov = latents.aggregate_prior(mean, np.full((4000, 2), np.log(0.25)))
    np.testing.assert_allclose(mu, [3.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.diag(cov), [0.25 + 0.25, 4.0 + 0.25], rtol=0.1)


def test_interpolation_is_finite_on_every_bundled_sound():
    # Regression: a moving average by cumulative sums dipped below 0 on the bundled sounds'
    # wide-range power spectra, and its log was NaN.
    from drill_jax import data

    ds = data.load_dataset()
    x = data.stack_fixed(ds.waveforms, 1999, "zero")
    smoothed = jax.jit(reference_generators.smoothed_log_magnitude, static_argnums=1)
    assert np.all(np.isfinite(np.asarray(smoothed(x, 8))))
