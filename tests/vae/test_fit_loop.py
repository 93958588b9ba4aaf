"""Tests for drill_jax.vae.fit_loop: checkpoints after each epoch, and a run resumed from its
checkpoint is bit-identical to an uninterrupted one; a checkpoint of another config or key
is refused. ``check_resume`` is the check the STFT VAE and onset decoder tests run."""

import dataclasses
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drill_jax import training
from drill_jax.vae import checkpoints, fit_loop

_TIMING = ("train_seconds", "train_examples_per_s")


def _same_history(a: list, b: list) -> None:
    """The two histories agree in everything but their timings."""
    drop = lambda h: [{k: v for k, v in r.to_json().items() if k not in _TIMING} for r in h]
    assert drop(a) == drop(b)


def check_resume(fit, config, clips, key, workdir, straight, change: dict) -> None:
    """fit(config with half the epochs, ..., Options(workdir)) then fit(config, ...,
    Options(workdir, resume=True)), which trains only the remaining epochs, gives the model
    and history of ``straight`` = fit(config, clips, key): every array bit-identical. The
    config with the fields ``change`` ({name: value}) changed cannot resume that run."""
    epochs = config.train.epochs
    half = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs // 2))
    seen = []
    fit(half, clips, key, fit_loop.Options(workdir, on_epoch=lambda h: seen.append(len(h))))
    assert seen == list(range(1, epochs // 2 + 1))
    assert os.path.exists(os.path.join(workdir, fit_loop.CHECKPOINT))
    resumed = fit_loop.Options(workdir, resume=True, on_epoch=lambda h: seen.append(len(h)))
    model, history = fit(config, clips, key, resumed)
    # It trained only the epochs after the checkpoint's.
    assert seen == list(range(1, epochs + 1))
    assert len(history) == epochs
    _same_history(history, straight[1])
    leaves, expected = jax.tree.leaves(model), jax.tree.leaves(straight[0])
    assert len(leaves) == len(expected)
    for a, b in zip(leaves, expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = dataclasses.replace(config, **change)
    names = ", ".join(repr(k) for k in changed_paths(config, other))
    error = rf"^{re.escape(workdir)}/\S+: checkpoint config differs in \[{names}\]"
    with pytest.raises(ValueError, match=error) as e:
        fit(other, clips, key, fit_loop.Options(workdir, resume=True))
    assert "\n" not in str(e.value)


def changed_paths(a, b) -> list:
    """Sorted dotted paths of the leaves in which two configs differ."""
    out = []
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(va):
            out += [f"{f.name}.{p}" for p in changed_paths(va, vb)]
        elif va != vb:
            out.append(f.name)
    return sorted(out)


@dataclasses.dataclass(frozen=True)
class _Linear:
    train: training.Schedule = training.Schedule(epochs=4, batch_size=3, learning_rate=0.1)


@jax.jit
def _train_step(state, batch, key):
    """Least squares of a noisy linear map [B, 2] -> [B]; the step's noise from fold_in."""
    noise = 0.1 * jax.random.normal(jax.random.fold_in(key, state.step), batch["y"].shape)

    def loss_fn(w):
        err = jnp.square(batch["x"] @ w["w"] - batch["y"] - noise)
        metrics = {"recon": fit_loop.weighted_mean(err, batch["weight"])}
        metrics = dict(metrics, kl=0.0 * metrics["recon"], loss=metrics["recon"])
        return metrics["loss"], metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), metrics


def _fit(config, data, key, options=fit_loop.Options()):
    state = fit_loop.new_state(None, {"w": jnp.zeros(2)}, config)
    return fit_loop.run(_train_step, state, data, key, options)


def test_resumed_run_equals_uninterrupted_and_other_runs_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 2)).astype(np.float32)
    data = {"x": x, "y": (x @ np.array([1.0, -2.0])).astype(np.float32)}
    config, key, workdir = _Linear(), jax.random.key(0), str(tmp_path)
    straight = _fit(config, data, key)
    assert [r.step for r in straight[1]] == [3, 6, 9, 12]
    faster = training.Schedule(epochs=4, batch_size=3, learning_rate=0.2)
    check_resume(_fit, config, data, key, workdir, straight, {"train": faster})
    # Resuming a finished run trains nothing more.
    again = _fit(config, data, key, fit_loop.Options(workdir, resume=True))
    np.testing.assert_array_equal(again[0].params["w"], straight[0].params["w"])
    with pytest.raises(ValueError, match="another key"):
        _fit(config, data, jax.random.key(1), fit_loop.Options(workdir, resume=True))
    # Without resume the checkpoint is overwritten by a fresh run of the other config.
    other = dataclasses.replace(config, train=faster)
    fresh = _fit(other, data, key, fit_loop.Options(workdir))
    assert not np.array_equal(fresh[0].params["w"], straight[0].params["w"])


def test_a_checkpoint_of_the_older_flat_config_is_refused_in_one_line(tmp_path):
    """Generators once held epochs / batch_size / learning_rate themselves; their checkpoints
    name what differs instead of resuming with a misread schedule."""

    @dataclasses.dataclass(frozen=True)
    class _Flat:
        epochs: int = 4
        batch_size: int = 3
        learning_rate: float = 0.1

    key, workdir = jax.random.key(0), str(tmp_path)
    data = {"x": np.zeros((4, 2), np.float32), "y": np.zeros(4, np.float32)}
    state = fit_loop.new_state(None, {"w": jnp.zeros(2)}, _Linear())
    path = os.path.join(workdir, fit_loop.CHECKPOINT)
    checkpoints.save_checkpoint(path, state, _Flat(), 2, jax.random.split(key)[0], [])
    names = "'batch_size', 'learning_rate', 'train.batch_size', 'train.learning_rate'"
    with pytest.raises(ValueError, match=rf"differs in \[{names}\]; cannot resume$") as e:
        _fit(_Linear(), data, key, fit_loop.Options(workdir, resume=True))
    assert "\n" not in str(e.value)
