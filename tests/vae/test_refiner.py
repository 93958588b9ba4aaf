"""Tests for drill_jax.vae.refiner: adversarial fine-tuning of a generator's draws."""

import dataclasses

import jax
import numpy as np
import pytest

from drill_jax.vae import refiner

T = 256
SMALL = refiner.RefinerConfig(
    steps=100,
    batch_size=8,
    channels=8,
    layers=3,
    kernel=5,
    critic_channels=8,
    learning_rate=3e-3,
    self_weight=0.0,
    windows=(32, 64),
)


def _tones(n: int, seed: int, level: float) -> np.ndarray:
    """Damped tones of 1-3 kHz starting at sample 60, peak ``level``: [n, T] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 96000.0
    f = rng.uniform(1000.0, 3000.0, size=(n, 1))
    env = np.exp(-np.maximum(t - 60 / 96000.0, 0) / 0.001) * (np.arange(T) >= 60)
    return (level * env * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _rms_db(x) -> float:
    return float(20 * np.log10(np.median(np.sqrt(np.mean(np.square(x), axis=1)))))


@pytest.fixture(scope="module", name="fitted")
def _fitted():
    real, draws = _tones(24, 0, 0.8), _tones(32, 1, 0.2)
    params, history = refiner.fit(SMALL, real, draws, jax.random.key(0))
    return real, draws, params, history


def test_an_untrained_refiner_is_the_identity():
    draws = _tones(4, 1, 0.2)
    params, history = refiner.fit(
        dataclasses.replace(SMALL, steps=0), draws, draws, jax.random.key(0)
    )
    assert history == []
    np.testing.assert_array_equal(refiner.refine(SMALL, params, draws), draws)


def test_training_moves_the_draws_towards_the_real_sounds(fitted):
    # The draws are 12 dB quieter than the real sounds: the easiest thing the critic sees.
    real, draws, params, history = fitted
    before = _rms_db(real) - _rms_db(draws)
    after = _rms_db(real) - _rms_db(refiner.refine(SMALL, params, draws))
    assert before == pytest.approx(12.0, abs=0.5)
    assert abs(after) < before - 3.0
    assert all(np.isfinite(list(h.values())).all() for h in history)


def test_a_refined_sample_depends_only_on_its_receptive_field(fitted):
    _, draws, params, _ = fitted
    x = draws[:1].copy()
    y0 = refiner.refine(SMALL, params, x)
    x[0, 150] += 0.1
    changed = np.flatnonzero(np.abs(refiner.refine(SMALL, params, x) - y0)[0] > 0)
    half = refiner.receptive_field(SMALL) // 2
    assert refiner.receptive_field(SMALL) == 1 + 4 * 8
    assert changed.size == 2 * half + 1
    assert changed.min() == 150 - half and changed.max() == 150 + half


def test_the_same_key_gives_the_same_refiner(fitted):
    real, draws, params, _ = fitted
    again, _ = refiner.fit(SMALL, real, draws, jax.random.key(0))
    other, _ = refiner.fit(dataclasses.replace(SMALL, steps=5), real, draws, jax.random.key(1))
    same = jax.tree_util.tree_map(np.array_equal, params, again)
    assert all(jax.tree_util.tree_leaves(same))
    assert not np.array_equal(
        refiner.refine(SMALL, params, draws), refiner.refine(SMALL, other, draws)
    )


def test_bad_inputs_are_refused_with_one_line_errors():
    with pytest.raises(ValueError, match="real sounds have 256 samples, draws 128"):
        refiner.fit(SMALL, _tones(4, 0, 0.5), _tones(4, 0, 0.5)[:, :128], jax.random.key(0))
    with pytest.raises(ValueError, match="non-finite"):
        refiner.fit(SMALL, np.full((2, T), np.nan), _tones(2, 0, 0.5), jax.random.key(0))
    with pytest.raises(ValueError, match="steps"):
        refiner.RefinerConfig(steps=-1)
    with pytest.raises(ValueError, match="windows"):
        refiner.RefinerConfig(windows=())
