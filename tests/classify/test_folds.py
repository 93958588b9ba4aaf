"""Tests for drill_jax.classify.folds: fitting every fold at once equals fitting one by one."""

import jax
import numpy as np
import pytest

from drill_jax import training
from drill_jax.classify import cnn, folds

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

CONFIG = cnn.ClassifierConfig(epochs=4, batch_size=8, conv_features=(4,), hidden=8)


def _folds(sizes, seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for n in sizes:
        labels = np.arange(n) % 2
        x = rng.normal(size=(n, 2, 32)).astype(np.float32) + 1.5 * labels[:, None, None]
        X.append(x)
        y.append(labels)
    return X, y


def test_folds_equal_sequential_fits_including_unequal_sizes():
    # 13 and 19 rows: 2 and 3 batches of 8, so the smaller fold gets a fully masked step.
    X, y = _folds((19, 13, 16))
    keys = [jax.random.key(k) for k in (3, 4, 5)]
    states, histories = folds.fit_folds(X, y, CONFIG, keys)
    X_test = np.random.default_rng(9).normal(size=(7, 2, 32)).astype(np.float32)
    for f in range(3):
        want_state, want_hist = cnn.fit(X[f], y[f], CONFIG, keys[f])
        assert int(states[f].step) == int(want_state.step) == 4 * -(-len(y[f]) // 8)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
            states[f].params,
            want_state.params,
        )
        np.testing.assert_allclose(
            training.series(histories[f], "train_loss"),
            training.series(want_hist, "train_loss"),
            rtol=1e-5,
        )
        np.testing.assert_allclose(
            cnn.predict_proba(states[f], X_test),
            cnn.predict_proba(want_state, X_test),
            rtol=1e-5,
            atol=1e-6,
        )


def test_one_compile_for_a_second_run_of_the_same_shapes():
    X, y = _folds((12, 12), seed=1)
    keys = [jax.random.key(0), jax.random.key(1)]
    folds.fit_folds(X, y, CONFIG, keys)
    before = training.compiled_count(folds.folds_train_step)
    folds.fit_folds(X, y, CONFIG, [jax.random.key(7), jax.random.key(8)])
    assert training.compiled_count(folds.folds_train_step) == before


def test_bad_inputs():
    X, y = _folds((8, 8))
    with pytest.raises(ValueError, match="same"):
        folds.fit_folds([X[0], X[1][:, :1]], y, CONFIG, [jax.random.key(0)] * 2)
    with pytest.raises(ValueError, match="keys"):
        folds.fit_folds(X, y, CONFIG, [jax.random.key(0)])
