"""Tests for drill_jax.vae.trainer: loss goes down, one compile, determinism, resume."""

import dataclasses
import json
import os

import jax
import numpy as np
import pytest

from drill_jax import training
from drill_jax.vae import trainer
from tests.vae.conftest import TINY, T, _sounds  # noqa: F401


def test_config_validates():
    with pytest.raises(ValueError, match="arch"):
        trainer.NetworkConfig(arch="dense")
    with pytest.raises(ValueError, match="kl"):
        trainer.LossConfig(kl="none")
    with pytest.raises(ValueError, match="batch_size"):
        trainer.VAEConfig(batch_size=0)


def test_few_steps_on_a_tiny_batch_decrease_the_loss():
    state = trainer.create_state(TINY, jax.random.key(0))
    x = _sounds(4, 2)
    batch = {"x": x, "weight": np.ones(4, np.float32)}
    # Soft Bernoulli targets: the reconstruction cannot go below their entropy.
    p = (x.astype(np.float64) + 1.0) / 2.0
    floor = -np.mean(np.sum(p * np.log(p) + (1 - p) * np.log(1 - p), axis=1))
    loop_key = jax.random.key(1)
    excess = []
    for _ in range(30):
        state, metrics = trainer.train_step(state, batch, loop_key)
        excess.append(float(metrics["loss"]) - floor)
        assert np.isfinite(metrics["grad_norm"])
    assert int(state.step) == 30
    assert excess[-1] < 0.5 * excess[0], excess


def test_train_step_compiles_once(trained):
    x_train, x_test, _ = trained
    before = {
        "train_step": training.compiled_count(trainer.train_step),
        "eval_step": training.compiled_count(trainer.eval_step),
    }
    # A new state with an equal config, odd train/test sizes (padded batches): no retrace.
    trainer.train_class_vae(x_train[:5], x_test[:2], TINY, jax.random.key(3))
    assert training.compiled_count(trainer.train_step) == before["train_step"]
    assert training.compiled_count(trainer.eval_step) == before["eval_step"]


def test_history_has_test_elbo_per_epoch(trained):
    _, _, runs = trained
    _, history = runs[0]
    assert [r.epoch for r in history] == [1, 2]
    assert [r.step for r in history] == [2, 4]  # ceil(6 / 4) steps per epoch
    for r in history:
        assert np.isfinite(r.eval_elbo) and r.eval_elbo < 0
        np.testing.assert_allclose(-r.eval_elbo, r.eval_recon + r.eval_kl, rtol=1e-6)


def test_resume_equals_uninterrupted(trained, tmp_path):
    x_train, x_test, _ = trained
    four = dataclasses.replace(TINY, epochs=4)
    key = jax.random.key(11)
    straight, straight_hist = trainer.train_class_vae(x_train, x_test, four, key)
    workdir = str(tmp_path / "run")
    trainer.train_class_vae(x_train, x_test, TINY, key, workdir=workdir)  # "stops" at 2
    assert os.path.exists(os.path.join(workdir, trainer.CHECKPOINT))
    resumed, hist = trainer.train_class_vae(
        x_train, x_test, four, key, workdir=workdir, resume=True
    )
    assert int(resumed.step) == int(straight.step) == 8
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(straight.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(resumed.opt_state), jax.tree.leaves(straight.opt_state)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert [r.epoch for r in hist] == [1, 2, 3, 4]
    np.testing.assert_allclose(hist[-1].eval_elbo, straight_hist[-1].eval_elbo, rtol=1e-6)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        assert [json.loads(line)["epoch"] for line in f] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="another key"):
        trainer.train_class_vae(
            x_train, x_test, four, jax.random.key(12), workdir=workdir, resume=True
        )


def test_non_finite_loss_raises_at_once(monkeypatch):
    calls = []

    def nan_step(state, batch, key):
        calls.append(1)
        return state.replace(step=state.step + 1), {"loss": np.float32(np.nan)}

    monkeypatch.setattr(trainer, "train_step", nan_step)
    with pytest.raises(FloatingPointError, match="step 1 "):
        trainer.train_class_vae(_sounds(9, 0), None, TINY, jax.random.key(0))
    assert len(calls) == 1
