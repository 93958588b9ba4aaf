"""Multi-process data parallelism: 2 local CPU processes (``jax.distributed``, coordinator on
127.0.0.1, 2 host devices each) run one data-parallel VAE step over a 4-device mesh that
spans both; the result equals the single-process, single-device step on the same global
batch. Each run is a fresh subprocess (JAX fixes its devices and processes at start-up)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from drill_jax import parallel

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The step's inputs: a tiny VAE (Adam eps 1e-2, as in test_parallel, so that summation-order
# noise in near-zero gradients is not amplified to +-lr), a batch with 2 padding rows, a key.
_SETUP = r"""
import jax, numpy as np
from drill_jax.vae import trainer
cfg = trainer.VAEConfig(batch_size=8, input_length=64, enc_features=(4,),
                        dec_features=(4,), strides=(4,), kernel_size=4, eps=1e-2)
state = trainer.create_state(cfg, jax.random.key(0))
rng = np.random.default_rng(0)
batch = {"x": rng.uniform(-0.5, 0.5, (8, 64)).astype(np.float32),
         "weight": np.array([1, 1, 1, 1, 1, 1, 0, 0], np.float32)}
key = jax.random.key(1)
"""

# argv: process_id num_processes port out.json: the data-parallel step over every process's
# devices, after jax.distributed joined the processes.
_CHILD = (
    r"""
import json, sys
from drill_jax import parallel
pid, n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
parallel.initialize_distributed(parallel.DistributedConfig(f"127.0.0.1:{port}", n, pid))
"""
    + _SETUP
    + r"""
mesh = parallel.make_mesh()
sb = parallel.shard_batch(batch, mesh)
step = parallel.data_parallel(trainer.train_step, mesh)
new, metrics = step(parallel.replicate(state, mesh), sb, parallel.replicate(key, mesh))
params = [np.asarray(p).ravel().tolist() for p in jax.tree.leaves(parallel.fetch(new.params))]
with open(out, "w") as f:
    json.dump({"process_count": jax.process_count(), "devices": jax.device_count(),
               "local_devices": jax.local_device_count(),
               "local_shards": len(sb["x"].addressable_shards),
               "spans": parallel.spans_processes(mesh),
               "params": params, "step": int(parallel.fetch(new.step)),
               "metrics": {k: float(v) for k, v in parallel.fetch(metrics).items()}}, f)
"""
)


def _single_process_step() -> dict:
    """The reference: the plain jitted step on one device, in this (test) process."""
    scope: dict = {}
    exec(_SETUP, scope)
    jax, np_ = scope["jax"], scope["np"]
    new, metrics = scope["trainer"].train_step(scope["state"], scope["batch"], scope["key"])
    return {
        "params": [np_.asarray(p).ravel().tolist() for p in jax.tree.leaves(new.params)],
        "start": [np_.asarray(p).ravel().tolist() for p in jax.tree.leaves(scope["state"].params)],
        "step": int(new.step),
        "metrics": {k: float(v) for k, v in metrics.items()},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multihost")
    port = str(_free_port())
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    jobs = {}
    for name, pid, n, devices in [("p0", 0, 2, 2), ("p1", 1, 2, 2)]:
        flags = f"--xla_force_host_platform_device_count={devices}"
        jobs[name] = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(pid), str(n), port, str(tmp / f"{name}.json")],
            cwd=_REPO,
            env=dict(env, XLA_FLAGS=flags),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    out = {"single": _single_process_step()}  # meanwhile, here
    for name, job in jobs.items():
        log, _ = job.communicate(timeout=240)
        assert job.returncode == 0, f"{name}: {log[-3000:]}"
        out[name] = json.loads((tmp / f"{name}.json").read_text())
    return out


def test_two_processes_form_one_four_device_mesh(runs):
    for name in ("p0", "p1"):
        r = runs[name]
        assert (r["process_count"], r["devices"], r["local_devices"]) == (2, 4, 2)
        assert r["local_shards"] == 2 and r["spans"]  # each process holds half the batch


def test_two_process_step_equals_one_process_step(runs):
    single = [np.asarray(p) for p in runs["single"]["params"]]
    start = [np.asarray(p) for p in runs["single"]["start"]]
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, start))
    assert moved > 1e-4  # the step changed the params, so equality below says something
    scale = max(float(np.max(np.abs(a))) for a in single)
    for name in ("p0", "p1"):
        r = runs[name]
        got = [np.asarray(p) for p in r["params"]]
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, got))
        assert diff <= 1e-5 * max(1.0, scale) + 2e-5, (name, diff)  # summation order only
        assert r["step"] == runs["single"]["step"] == 1
        for k, v in runs["single"]["metrics"].items():
            np.testing.assert_allclose(r["metrics"][k], v, rtol=1e-5, atol=1e-5, err_msg=k)
    assert runs["p0"]["params"] == runs["p1"]["params"]  # both hosts hold the same state


def test_distributed_config_rejects_bad_values():
    with pytest.raises(ValueError, match="process_id"):
        parallel.DistributedConfig("127.0.0.1:1234", 2, 2)
    with pytest.raises(ValueError, match="coordinator_address"):
        parallel.DistributedConfig("127.0.0.1", 2, 0)
    parallel.initialize_distributed(parallel.DistributedConfig())  # 1 process: no-op
