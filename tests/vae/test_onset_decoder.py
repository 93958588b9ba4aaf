"""Tests for drill_jax.vae.onset_decoder: the rendered parameters, onsets, and training."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training
from drill_jax.vae import latents, onset_decoder
from tests.vae.test_fit_loop import check_resume

SR, T = 96000, 600
TINY = onset_decoder.Config(
    latent_dim=2,
    input_length=T,
    n_sines=4,
    fir_taps=8,
    noise_hop=32,
    noise_bands=4,
    noise_fine=8,
    hidden=16,
    fft_sizes=(64,),
    train=training.Schedule(epochs=4, batch_size=4),
)


def _one_sine(onset, freq, decay, length=T):
    """render() parameters of a single damped sine (no click, no noise): [1] batch."""
    k = 1
    frames = onset_decoder.noise_shaping.n_frames_for(length, 32)
    return {
        "onset": jnp.array([onset], jnp.float32),
        "attack": jnp.zeros((1,), jnp.float32),
        "freq": jnp.full((1, k), freq, jnp.float32),
        "decay": jnp.full((1, k), decay, jnp.float32),
        "a_sin": jnp.ones((1, k), jnp.float32),
        "a_cos": jnp.zeros((1, k), jnp.float32),
        "fir": jnp.zeros((1, 8), jnp.float32),
        "noise_fine": jnp.zeros((1, 8), jnp.float32),
        "noise_bands": jnp.full((1, frames, 4), -30.0, jnp.float32),
    }


@pytest.mark.parametrize("onset", [150.0, 150.5])
def test_render_is_a_damped_sine_of_known_frequency_and_decay_at_the_onset(onset):
    freq, decay = 4800.0, 80.0  # 4.8 kHz = 20 samples per period at 96 kHz
    y = np.asarray(onset_decoder.render(_one_sine(onset, freq, decay), jnp.zeros((1, T)), TINY))
    tau = np.arange(T) - onset
    expected = np.where(tau >= 0, np.exp(-tau / decay) * np.sin(2 * np.pi * freq * tau / SR), 0)
    # The band-limited (fractional) delay rings slightly around the onset; elsewhere exact.
    far = np.abs(tau) > 12
    np.testing.assert_allclose(y[0, far], expected[far], atol=5e-3)
    assert np.max(np.abs(y[0, : int(onset) - 12])) < 5e-3


def test_damped_sinusoids_decay_and_attack():
    one = jnp.ones((1, 1))
    y = onset_decoder.damped_sinusoids(
        one * 0.0, one * 50.0, one * 0.0, one, jnp.zeros((1,)), 200, SR
    )
    np.testing.assert_allclose(np.asarray(y)[0], np.exp(-np.arange(200) / 50.0), rtol=1e-5)
    soft = onset_decoder.damped_sinusoids(one * 0, one * 1e9, one * 0, one, one[0] * 10, 50, SR)
    np.testing.assert_allclose(np.asarray(soft)[0], 1 - np.exp(-np.arange(1, 51) / 10.0), atol=1e-5)


def test_onset_time_finds_a_step_in_level():
    rng = np.random.default_rng(0)
    x = 0.01 * rng.normal(size=(3, T))
    for i, t0 in enumerate((100, 300, 450)):
        x[i, t0:] += 0.3 * rng.normal(size=T - t0)
    np.testing.assert_allclose(onset_decoder.onset_time(x, 32), [100, 300, 450], atol=8)


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(1)
    tau = np.arange(T) - 200.0
    x = np.where(tau >= 0, np.exp(-tau / 60) * np.sin(0.3 * tau), 0)[None, :]
    clips = (0.3 * x + 0.01 * rng.normal(size=(6, T))).astype(np.float32)
    return clips, [onset_decoder.fit(TINY, clips, jax.random.key(4)) for _ in range(2)]


def test_training_is_deterministic_and_lowers_the_loss(runs):
    _, ((a, hist_a), (b, hist_b)) = runs
    assert [r.train_loss for r in hist_a] == [r.train_loss for r in hist_b]
    for pa, pb in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(np.asarray(pa), np.asarray(pb))
    assert [r.step for r in hist_a] == [2, 4, 6, 8]
    assert hist_a[-1].train_loss < hist_a[0].train_loss


def test_sampling_shapes_and_determinism(runs):
    clips, ((state, _), _) = runs
    mean, logvar = onset_decoder.encode(state, clips)
    assert mean.shape == logvar.shape == (6, 2)
    mu, cov = latents.aggregate_prior(mean, logvar)
    z = mu + np.asarray(jax.random.normal(jax.random.key(0), (5, 2))) @ np.linalg.cholesky(cov).T
    a = onset_decoder.decode(state, z, jax.random.key(1))
    b = onset_decoder.decode(state, z, jax.random.key(1))
    assert a.shape == (5, T) and np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="clips"):
        onset_decoder.fit(TINY, clips[:, :100], jax.random.key(0))


def test_resumed_training_equals_uninterrupted(runs, tmp_path):
    clips, (straight, _) = runs
    key, workdir = jax.random.key(4), str(tmp_path)
    check_resume(onset_decoder.fit, TINY, clips, key, workdir, straight, {"n_sines": 2})
