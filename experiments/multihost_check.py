"""Check a multi-host JAX set-up: `python -m experiments.multihost_check` on every host.

  # host 0 (coordinator) and host 1, same command but --process_id:
  python -m experiments.multihost_check --coordinator_address=10.0.0.1:1234 \
      --num_processes=2 --process_id=0
  # two processes on this machine, 2 CPU devices each:
  XLA_FLAGS=--xla_force_host_platform_device_count=2 JAX_PLATFORMS=cpu \
      python -m experiments.multihost_check --num_processes=2 --process_id=0 &   # and 1

Runs data-parallel VAE train steps over every device of every process and the plain
single-device step in each process; prints (and writes to --out) the largest difference.
"""

from __future__ import annotations

import json

from absl import app, flags

from drill_jax import files, parallel
from drill_jax.vae import multihost, trainer
from experiments import config_flags

_DIST = config_flags.define(parallel.DistributedConfig)
# Adam eps 1e-2: with the default 1e-8, Adam's first step turns the summation-order noise of
# near-zero gradients into +-learning_rate, which would hide what the check looks for.
_BASE = trainer.VAEConfig(optim=trainer.OptimConfig(eps=1e-2))
_VAE = config_flags.define(
    trainer.VAEConfig,
    (
        "arch",
        "batch_size",
        "input_length",
        "enc_features",
        "dec_features",
        "strides",
        "kernel_size",
        "eps",
    ),
    rename={"arch": "network_arch"},
    defaults=_BASE,
)
_STEPS = flags.DEFINE_integer("steps", 1, "Train steps.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the state, batch and key.")
_OUT = flags.DEFINE_string("out", None, "Write this process's figures here (JSON).")


def main(argv):
    del argv
    result = multihost.run_check(_DIST.build(), _VAE.build(_BASE), _STEPS.value, _SEED.value)
    if _OUT.value:
        files.atomic_write_json(_OUT.value, result)
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
