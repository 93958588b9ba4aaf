"""Multi-process data parallelism: ``python -m experiments.multihost_check`` in 2 local CPU
processes (``jax.distributed``, coordinator on 127.0.0.1, 2 host devices each) runs a
data-parallel VAE step over a 4-device mesh that spans both; each process also runs the
plain single-device step on the same global batch, and the two agree. Each process is a
fresh subprocess: JAX fixes its devices and processes at start-up."""

import json
import os
import socket
import subprocess
import sys

import pytest

from drill_jax import parallel

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A tiny VAE; Adam eps 1e-2 (as in test_parallel) so that summation-order noise in
# near-zero gradients is not amplified to +-lr by Adam's first step.
_TINY = dict(
    batch_size=8, input_length=64, enc_features=(4,), dec_features=(4,), strides=(4,),
    kernel_size=4, eps=1e-2,
)  # fmt: skip


def _flags(config: dict) -> list:
    return [
        f"--{k}=" + (",".join(map(str, v)) if isinstance(v, tuple) else str(v))
        for k, v in config.items()
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multihost")
    port = _free_port()
    # Most XLA optimisations off, as in the quick_compile test modules (tests/conftest.py):
    # one step of a tiny VAE, whose compiling is most of each process's time.
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        JAX_DISABLE_MOST_OPTIMIZATIONS="1",
    )
    jobs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "experiments.multihost_check",
                f"--coordinator_address=127.0.0.1:{port}",
                "--num_processes=2",
                f"--process_id={pid}",
                f"--out={tmp / f'p{pid}.json'}",
                *_flags(_TINY),
            ],
            cwd=_REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for pid in (0, 1)
    ]
    out = {}
    for pid, job in enumerate(jobs):
        log, _ = job.communicate(timeout=240)
        assert job.returncode == 0, f"process {pid}: {log[-3000:]}"
        out[pid] = json.loads((tmp / f"p{pid}.json").read_text())
    return out


def test_two_processes_form_one_four_device_mesh(runs):
    for pid in (0, 1):
        r = runs[pid]
        assert r["process_id"] == pid
        assert (r["process_count"], r["devices"], r["local_devices"]) == (2, 4, 2)
        assert r["local_batch_rows"] == 4  # each process holds half of the global batch


def test_two_process_step_equals_one_process_step(runs):
    for pid in (0, 1):
        r = runs[pid]
        assert r["param_change"] > 1e-4  # the step moved the params: equality says something
        assert r["max_diff_params"] <= 1e-5 * max(1.0, r["param_scale"]) + 2e-5 and r["equal"]
        assert r["max_diff_batch_stats"] < 1e-4 and r["max_diff_metrics"] < 1e-5
        assert r["grad_rel_diff"] < 1e-4  # the tiny VAE: no leaky-ReLU kink is hit
    assert runs[0]["loss"] == runs[1]["loss"]  # one SPMD program, one result


def test_distributed_config_rejects_bad_values():
    with pytest.raises(ValueError, match="process_id"):
        parallel.DistributedConfig("127.0.0.1:1234", 2, 2)
    with pytest.raises(ValueError, match="coordinator_address"):
        parallel.DistributedConfig("127.0.0.1", 2, 0)
    parallel.initialize_distributed(parallel.DistributedConfig())  # 1 process: no-op
