"""Tests for drill_jax.parallel: sharded (4 forced CPU devices) steps equal single-device steps.

JAX fixes its device count when it starts, and pytest's process has already started it,
so the multi-device check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` and ``JAX_PLATFORMS=cpu``.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from drill_jax import parallel

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs one VAE step and one classifier step on the same state, batch and key, once with the
# single-device jitted step and once data-parallel over 4 devices; prints the differences.
_CHILD = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from drill_jax import parallel
from drill_jax.classify import cnn
from drill_jax.vae import trainer

def max_diff(a, b):
    d = jax.tree.map(lambda u, v: float(np.max(np.abs(np.asarray(u) - np.asarray(v)))), a, b)
    return max(jax.tree.leaves(d))

def max_abs(a):
    return max(float(np.max(np.abs(np.asarray(u)))) for u in jax.tree.leaves(a))

out = {"device_count": jax.device_count()}
mesh = parallel.make_mesh()
rng = np.random.default_rng(0)
key = jax.random.key(1)

# VAE: Adam eps 1e-2 so that near-zero gradients (whose sign Adam's first step would
# amplify to +-lr) do not turn summation-order noise into parameter differences.
cfg = trainer.VAEConfig(
    network=trainer.NetworkConfig(input_length=64, enc_features=(4,), dec_features=(4,),
                                  strides=(4,), kernel_size=4),
    optim=trainer.OptimConfig(eps=1e-2), batch_size=8)
state = trainer.create_state(cfg, jax.random.key(0))
batch = {"x": rng.uniform(-0.5, 0.5, (8, 64)).astype(np.float32),
         "weight": np.array([1, 1, 1, 1, 1, 1, 0, 0], np.float32)}  # 2 padding rows
s1, m1 = trainer.train_step(state, batch, key)
step = parallel.data_parallel(trainer.train_step, mesh)
sb = parallel.shard_batch(batch, mesh)
out["vae_batch_shards"] = len(sb["x"].addressable_shards)
s4, m4 = step(parallel.replicate(state, mesh), sb, parallel.replicate(key, mesh))
out["vae_param_sharding_replicated"] = all(
    leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(s4.params))
out["vae_params"] = max_diff(s1.params, s4.params)
out["vae_params_scale"] = max_abs(s1.params)
out["vae_update"] = max_diff(s1.params, state.params)
out["vae_batch_stats"] = max_diff(s1.batch_stats, s4.batch_stats)
out["vae_opt_state"] = max_diff(s1.opt_state, s4.opt_state)
out["vae_metrics"] = {k: [float(m1[k]), float(m4[k])] for k in m1}
out["vae_step"] = [int(s1.step), int(s4.step)]

# Classifier: masked AdamW step with dropout.
ccfg = cnn.ClassifierConfig(conv_features=(4,), hidden=8, batch_size=8)
x = rng.normal(size=(8, 2, 32)).astype(np.float32)
cstate = cnn.create_state(ccfg, x, jax.random.key(2))
cbatch = {"x": x, "y": np.array([0, 1] * 4, np.int32),
          "mask": np.array([1, 1, 1, 1, 1, 0, 1, 1], np.float32)}
c1, n1 = cnn.train_step(cstate, cbatch, key)
cstep = parallel.data_parallel(cnn.train_step, mesh)
c4, n4 = cstep(parallel.replicate(cstate, mesh), parallel.shard_batch(cbatch, mesh),
               parallel.replicate(key, mesh))
out["cls_params"] = max_diff(c1.params, c4.params)
out["cls_update"] = max_diff(c1.params, cstate.params)
out["cls_metrics"] = {k: [float(n1[k]), float(n4[k])] for k in n1}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def four_device_result():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=_REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def test_child_saw_four_devices_and_split_the_batch(four_device_result):
    r = four_device_result
    assert r["device_count"] == 4
    assert r["vae_batch_shards"] == 4
    assert r["vae_param_sharding_replicated"]


def test_sharded_vae_step_equals_single_device(four_device_result):
    r = four_device_result
    # The step really moved the params (so equality below is not trivial) ...
    assert r["vae_update"] > 1e-4
    # ... and both paths moved them to the same place (float32 summation-order noise).
    assert r["vae_params"] <= 1e-5 * max(1.0, r["vae_params_scale"]) + 2e-5
    assert r["vae_batch_stats"] < 1e-4
    assert r["vae_opt_state"] < 1e-4
    assert r["vae_step"] == [1, 1]
    for name, (single, sharded) in r["vae_metrics"].items():
        np.testing.assert_allclose(sharded, single, rtol=1e-5, atol=1e-5, err_msg=name)


def test_sharded_classifier_step_equals_single_device(four_device_result):
    r = four_device_result
    assert r["cls_update"] > 1e-4
    assert r["cls_params"] < 2e-5
    for name, (single, sharded) in r["cls_metrics"].items():
        np.testing.assert_allclose(sharded, single, rtol=1e-5, atol=1e-6, err_msg=name)
    assert r["cls_metrics"]["count"][1] == 7.0  # the masked row is not counted


def test_shard_batch_rejects_indivisible_batch():
    mesh = parallel.make_mesh(jax.devices()[:1])
    assert parallel.check_batch_divisible({"x": np.zeros((6, 3)), "w": np.zeros(6)}, 3) == 6
    with pytest.raises(ValueError, match="not a multiple"):
        parallel.check_batch_divisible({"x": np.zeros((7, 3))}, 2)
    with pytest.raises(ValueError, match="one leading size"):
        parallel.shard_batch({"x": np.zeros((4, 3)), "w": np.zeros(5)}, mesh)


def test_single_device_mesh_step_matches_plain_step():
    """In this process (1 device) the wrapped step is the plain step."""
    from drill_jax.classify import cnn

    mesh = parallel.make_mesh(jax.devices()[:1])
    assert mesh.shape == {"batch": 1}
    cfg = cnn.ClassifierConfig(conv_features=(4,), hidden=4, batch_size=4)
    x = np.random.default_rng(1).normal(size=(4, 1, 8)).astype(np.float32)
    state = cnn.create_state(cfg, x, jax.random.key(0))
    batch = {"x": x, "y": np.array([0, 1, 1, 0], np.int32), "mask": np.ones(4, np.float32)}
    a, ma = cnn.train_step(state, batch, jax.random.key(3))
    b, mb = parallel.data_parallel(cnn.train_step, mesh)(
        parallel.replicate(state, mesh), parallel.shard_batch(batch, mesh), jax.random.key(3)
    )
    np.testing.assert_allclose(float(mb["loss"]), float(ma["loss"]), rtol=1e-6)
    jax.tree.map(
        lambda u, v: np.testing.assert_allclose(np.asarray(v), np.asarray(u), atol=1e-6),
        a.params,
        b.params,
    )
