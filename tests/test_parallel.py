"""Tests for drill_jax.parallel: sharded steps over 4 CPU devices equal single-device steps.

JAX fixes its device count when it starts; tests/conftest.py starts the test process with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``, so the 4-device mesh is built here,
in this process. The same steps over a mesh that spans 2 processes (which only separate
processes can show) are in test_parallel_multihost.py.
"""

import jax
import numpy as np
import pytest

from drill_jax import parallel
from drill_jax.classify import cnn
from drill_jax.vae import multihost, trainer

pytestmark = pytest.mark.quick_compile  # tiny steps: compiling is most of the time


def _max_diff(a, b) -> float:
    d = jax.tree.map(lambda u, v: float(np.max(np.abs(np.asarray(u) - np.asarray(v)))), a, b)
    return max(jax.tree.leaves(d))


def _max_abs(a) -> float:
    return max(float(np.max(np.abs(np.asarray(u)))) for u in jax.tree.leaves(a))


@pytest.fixture(scope="module")
def mesh():
    assert jax.device_count() >= 4, "tests/conftest.py sets 4 CPU devices before JAX starts"
    return parallel.make_mesh(jax.devices()[:4])


@pytest.fixture(scope="module")
def vae_steps(mesh):
    """One VAE step on the same state, batch and key: single-device jitted step vs
    data-parallel over 4 devices. Adam eps 1e-2 so that near-zero gradients (whose sign
    Adam's first step would amplify to +-lr) do not turn summation-order noise into
    parameter differences."""
    network = trainer.NetworkConfig(
        input_length=64, enc_features=(4,), dec_features=(4,), strides=(4,), kernel_size=4
    )
    cfg = trainer.VAEConfig(network=network, optim=trainer.OptimConfig(eps=1e-2), batch_size=8)
    state = trainer.create_state(cfg, jax.random.key(0))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (8, 64)).astype(np.float32)
    batch = {"x": x, "weight": np.array([1, 1, 1, 1, 1, 1, 0, 0], np.float32)}  # 2 padding rows
    key = jax.random.key(1)
    single = trainer.train_step(state, batch, key)
    sharded_batch = parallel.shard_batch(batch, mesh)
    step = parallel.data_parallel(trainer.train_step, mesh)
    sharded = step(parallel.replicate(state, mesh), sharded_batch, parallel.replicate(key, mesh))
    return state, sharded_batch, single, sharded


def _classifier_inputs() -> tuple:
    """(state, batch) of a tiny CNN classifier: x [8, 2, 32], labels 0/1, one masked row."""
    cfg = cnn.ClassifierConfig(conv_features=(4,), hidden=8, batch_size=8)
    x = np.random.default_rng(1).normal(size=(8, 2, 32)).astype(np.float32)
    state = cnn.create_state(cfg, x, jax.random.key(2))
    y = np.array([0, 1] * 4, np.int32)
    return state, {"x": x, "y": y, "mask": np.array([1, 1, 1, 1, 1, 0, 1, 1], np.float32)}


def test_four_devices_split_the_batch_and_replicate_the_state(mesh, vae_steps):
    _, sharded_batch, _, (s4, _) = vae_steps
    assert mesh.shape == {"batch": 4}
    assert len(sharded_batch["x"].addressable_shards) == 4
    assert {shard.data.shape for shard in sharded_batch["x"].addressable_shards} == {(2, 64)}
    assert all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(s4.params))


def test_sharded_vae_step_equals_single_device(vae_steps):
    state, _, (s1, m1), (s4, m4) = vae_steps
    # The step really moved the params (so equality below is not trivial) ...
    assert _max_diff(s1.params, state.params) > 1e-4
    # ... and both paths moved them to the same place (float32 summation-order noise).
    assert _max_diff(s1.params, s4.params) <= 1e-5 * max(1.0, _max_abs(s1.params)) + 2e-5
    assert _max_diff(s1.batch_stats, s4.batch_stats) < 1e-4
    assert _max_diff(s1.opt_state, s4.opt_state) < 1e-4
    assert (int(s1.step), int(s4.step)) == (1, 1)
    for name in m1:
        np.testing.assert_allclose(float(m4[name]), float(m1[name]), 1e-5, 1e-5, err_msg=name)


# Largest parameter difference and metric tolerance (rtol, atol): over 4 devices float32
# summation order differs; over a 1-device mesh the wrapped step is the plain step.
_CLASSIFIER_TOLERANCE = {4: (2e-5, 1e-5, 1e-6), 1: (1e-6, 1e-6, 0.0)}


@pytest.mark.parametrize("n_devices", [4, 1])
def test_sharded_classifier_step_equals_single_device(mesh, n_devices):
    """Masked AdamW step with dropout, data-parallel over 4 devices and over 1."""
    mesh = mesh if n_devices == 4 else parallel.make_mesh(jax.devices()[:1])
    assert mesh.shape == {"batch": n_devices}
    params_tol, rtol, atol = _CLASSIFIER_TOLERANCE[n_devices]
    state, batch = _classifier_inputs()
    key = jax.random.key(3)
    c1, n1 = cnn.train_step(state, batch, key)
    step = parallel.data_parallel(cnn.train_step, mesh)
    c4, n4 = step(parallel.replicate(state, mesh), parallel.shard_batch(batch, mesh), key)
    assert _max_diff(c1.params, state.params) > 1e-4
    assert _max_diff(c1.params, c4.params) <= params_tol
    for name in n1:
        np.testing.assert_allclose(float(n4[name]), float(n1[name]), rtol, atol, err_msg=name)
    assert float(n4["count"]) == 7.0  # the masked row is not counted


def test_shard_batch_rejects_indivisible_batch():
    mesh = parallel.make_mesh(jax.devices()[:1])
    assert parallel.check_batch_divisible({"x": np.zeros((6, 3)), "w": np.zeros(6)}, 3) == 6
    with pytest.raises(ValueError, match="not a multiple"):
        parallel.check_batch_divisible({"x": np.zeros((7, 3))}, 2)
    with pytest.raises(ValueError, match="one leading size"):
        parallel.shard_batch({"x": np.zeros((4, 3)), "w": np.zeros(5)}, mesh)


def test_relative_distance_known_value():
    a = {"w": np.array([3.0, 0.0]), "b": np.array([0.0])}
    b = {"w": np.array([0.0, 0.0]), "b": np.array([4.0])}
    assert multihost.relative_distance(a, b) == pytest.approx(5.0 / 4.0)
    assert multihost.relative_distance(b, b) == 0.0


def test_gradient_criterion_passes_the_mesh_and_fails_a_lost_shard(mesh, vae_steps):
    """The multi-host check's criterion: the 4-device gradient is within GRAD_RTOL of the
    single-device one, and a gradient that lost a quarter of the batch (one shard) is not."""
    state, sharded_batch, _, _ = vae_steps
    batch = jax.device_get(sharded_batch)
    key = jax.random.key(1)
    one = jax.jit(trainer.gradients)(state, batch, key)[0]
    rep = parallel.replicate
    four = parallel.data_parallel(trainer.gradients, mesh)(rep(state, mesh), sharded_batch,
                                                           rep(key, mesh))[0]  # fmt: skip
    lost = dict(batch, weight=batch["weight"] * np.array([0, 0, 1, 1, 1, 1, 1, 1], np.float32))
    lost_grads = jax.jit(trainer.gradients)(state, lost, key)[0]
    assert multihost.relative_distance(parallel.fetch(four), one) < 1e-4
    assert multihost.relative_distance(lost_grads, one) > multihost.GRAD_RTOL
