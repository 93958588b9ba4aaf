"""Tests for drill_jax.training: keyed shuffles, masked batches, bucketed evaluation, records."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training


def test_masked_batches_wrap_fills_the_last_batch_with_real_rows_at_mask_zero():
    idx, w = training.masked_batches(np.array([5, 3, 1, 0, 2, 4]), 4)
    np.testing.assert_array_equal(idx, [[5, 3, 1, 0], [2, 4, 5, 3]])
    np.testing.assert_array_equal(w, [[1, 1, 1, 1], [1, 1, 0, 0]])
    idx, w = training.masked_batches(np.array([1, 0]), 4)
    np.testing.assert_array_equal(idx, [[1, 0, 1, 0]])
    np.testing.assert_array_equal(w, [[1, 1, 0, 0]])


def test_masked_batches_first_fill_repeats_index_zero():
    idx, w = training.masked_batches(np.array([2, 1, 3]), 2, fill="first")
    np.testing.assert_array_equal(idx, [[2, 1], [3, 0]])
    np.testing.assert_array_equal(w, [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match="fill"):
        training.masked_batches(np.arange(3), 2, fill="zero")
    with pytest.raises(ValueError):
        training.masked_batches(np.arange(0), 2)


def test_epoch_order_is_a_keyed_permutation():
    key = jax.random.key(0)
    a, b = training.epoch_order(key, 0, 10), training.epoch_order(key, 1, 10)
    np.testing.assert_array_equal(np.sort(a), np.arange(10))
    np.testing.assert_array_equal(a, training.epoch_order(key, 0, 10))
    assert not np.array_equal(a, b)


def test_bucket_rows_powers_of_two_capped_at_the_bucket():
    assert [training.bucket_rows(n, 64) for n in (1, 2, 3, 5, 33, 64)] == [1, 2, 4, 8, 64, 64]
    assert training.bucket_rows(5, 4 * 3) == 8
    with pytest.raises(ValueError):
        training.bucket_rows(65, 64)


def test_apply_in_buckets_equals_one_call_and_compiles_few_shapes():
    f = jax.jit(lambda x: (jnp.tanh(x) * 2.0, x.sum(axis=1)))
    rows = np.random.default_rng(0).normal(size=(150, 3)).astype(np.float32)
    got = training.apply_in_buckets(f, rows, bucket=64)
    want = jax.device_get(f(rows))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert got[0].shape == (150, 3) and got[1].shape == (150,)
    before = training.compiled_count(f)
    training.apply_in_buckets(f, rows[: 64 + 20], bucket=64)  # 64 + 32 rows: shapes seen
    assert training.compiled_count(f) == before
    training.apply_in_buckets(f, rows[:1], bucket=64)  # a new shape (1 row) compiles once
    assert training.compiled_count(f) == before + 1
    with pytest.raises(TypeError):
        training.compiled_count(lambda x: x)


def test_epoch_record_json_round_trip_drops_unmeasured_fields():
    r = training.EpochRecord(epoch=1, step=4, train_loss=0.5, train_accuracy=0.75)
    assert r.to_json() == {"epoch": 1, "step": 4, "train_loss": 0.5, "train_accuracy": 0.75}
    assert training.EpochRecord.from_json(r.to_json()) == r
    hist = [r, training.EpochRecord(epoch=2, step=8, train_loss=0.25)]
    np.testing.assert_array_equal(training.series(hist, "train_loss"), [0.5, 0.25])


@pytest.mark.parametrize(
    "kwargs", [dict(epochs=-1), dict(batch_size=0), dict(learning_rate=0.0)]
)
def test_schedule_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError, match="Schedule needs"):
        training.Schedule(**kwargs)


def test_schedule_keeps_what_it_is_given():
    s = training.Schedule(epochs=0, batch_size=3, learning_rate=2e-4)
    assert (s.epochs, s.batch_size, s.learning_rate) == (0, 3, 2e-4)
