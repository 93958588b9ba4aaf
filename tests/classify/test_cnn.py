"""Tests for drill_jax.classify.cnn: masked jitted step, determinism, one compile."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training
from drill_jax.classify import cnn

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

CONFIG = cnn.ClassifierConfig(epochs=15, batch_size=16)


def _separable(n, seed):
    """Two classes that differ by +3 dB in the lowest 8 bands. -> X [n, 2, 32], y [n]."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    lift = 3.0 * (y[:, None, None] == 1) * (np.arange(32) < 8)[None, None, :]
    return (rng.normal(size=(n, 2, 32)) + lift - 60.0).astype(np.float32), y


@pytest.fixture(scope="module")
def fitted():
    X, y = _separable(100, 0)
    Xv, yv = _separable(60, 1)
    state, history = cnn.fit(X, y, CONFIG, jax.random.key(0), Xv, yv)
    return X, y, Xv, yv, state, history


def test_learns_and_predicts_probabilities(fitted):
    X, y, Xv, yv, state, history = fitted
    assert len(history) == CONFIG.epochs
    assert history[-1].train_loss < 0.5 * history[0].train_loss
    assert history[-1].eval_accuracy >= 0.9
    proba = cnn.predict_proba(state, Xv)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.mean(proba.argmax(1) == yv) == pytest.approx(history[-1].eval_accuracy)
    # Standardisation statistics come from the training set only.
    np.testing.assert_allclose(state.x_mean, X.mean(axis=0), rtol=1e-5)


def test_deterministic_for_fixed_key_and_compiles_once(fitted):
    X, y, Xv, _, state, _ = fitted
    before = training.compiled_count(cnn.train_step)
    again, _ = cnn.fit(X, y, CONFIG, jax.random.key(0))
    other, _ = cnn.fit(X[:90], y[:90], CONFIG, jax.random.key(1))
    # Same config and input shape: no new trace, whatever N or the key.
    assert training.compiled_count(cnn.train_step) == before
    np.testing.assert_array_equal(cnn.predict_proba(state, Xv), cnn.predict_proba(again, Xv))
    assert not np.array_equal(cnn.predict_proba(state, Xv), cnn.predict_proba(other, Xv))


def test_training_fields_of_the_config_do_not_recompile(fitted):
    X, y, *_ = fitted
    steps = [training.compiled_count(f) for f in (cnn.train_step, cnn._init_state)]
    other = dataclasses.replace(CONFIG, epochs=1, seed=7)
    cnn.fit(X, y, other)
    assert [training.compiled_count(f) for f in (cnn.train_step, cnn._init_state)] == steps
    assert cnn.make_model(other) is cnn.make_model(CONFIG)
    assert cnn.make_model(dataclasses.replace(CONFIG, hidden=8)) is not cnn.make_model(CONFIG)


def test_step_lowers_loss_on_tiny_batch(fitted):
    # Same config and batch shape as the fixture's fit: no new compile.
    X, y = _separable(CONFIG.batch_size, 2)
    state = cnn.create_state(CONFIG, X, jax.random.key(3))
    batch = {"x": X, "y": y.astype(np.int32), "mask": np.ones(CONFIG.batch_size, np.float32)}
    key = jax.random.key(4)
    before = training.compiled_count(cnn.train_step)
    losses = []
    for _ in range(10):
        state, m = cnn.train_step(state, batch, key)
        losses.append(float(m["loss"]))
    assert losses[-1] < 0.5 * losses[0]
    assert int(state.step) == 10
    assert training.compiled_count(cnn.train_step) == before


def test_masked_rows_do_not_change_the_step(fitted):
    X, y = _separable(CONFIG.batch_size, 5)
    state = cnn.create_state(CONFIG, X, jax.random.key(0))
    mask = (np.arange(CONFIG.batch_size) < 5).astype(np.float32)
    junk = X.copy()
    junk[5:] = 1e3
    y_junk = y.copy()
    y_junk[5:] = 1 - y[5:]
    key = jax.random.key(1)
    a, ma = cnn.train_step(state, {"x": X, "y": y, "mask": mask}, key)
    b, mb = cnn.train_step(state, {"x": junk, "y": y_junk, "mask": mask}, key)
    assert float(ma["loss"]) == pytest.approx(float(mb["loss"]), rel=1e-6)
    assert float(ma["count"]) == 5.0
    jax.tree.map(
        lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-7), a.params, b.params
    )


def test_bad_inputs_raise(fitted):
    state = fitted[4]
    with pytest.raises(ValueError, match="labels must be in"):
        cnn.fit(np.zeros((4, 2, 32)), np.array([0, 1, 2, 0]), CONFIG)
    with pytest.raises(ValueError, match="X must be"):
        cnn.predict_proba(state, np.zeros((3, 1, 32)))
    with pytest.raises(ValueError, match="non-finite"):
        cnn.fit(np.full((4, 2, 32), np.nan), np.array([0, 1, 1, 0]), CONFIG)
    assert jnp.ndim(state.x_std) == 2


def test_predictions_do_not_depend_on_batch_padding(fitted):
    """predict_proba pads to power-of-two buckets: one clip alone == the same clip in a batch."""
    state = fitted[4]
    X, _ = _separable(70, 3)
    together = cnn.predict_proba(state, X)
    for i in (0, 5, 69):
        np.testing.assert_allclose(
            cnn.predict_proba(state, X[i : i + 1])[0], together[i], atol=1e-6
        )
    np.testing.assert_allclose(cnn.predict_proba(state, X[:3]), together[:3], atol=1e-6)
