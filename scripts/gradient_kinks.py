"""Why the mesh and the single device give different gradients for the paper-sized VAE.

  python scripts/gradient_kinks.py

Computes the gradient of the paper-sized VAE's loss (the batch and key of
``experiments.multihost_check``) on one device and data-parallel on a 4-device mesh of this
process's CPU, with the networks' leaky ReLU as it is and with a smooth stand-in
(slope * x + (1 - slope) * softplus(8 x) / 8), and prints ||g_mesh - g_one|| / ||g_one||
for each. A large first figure and a float32-sized second one mean the difference comes
from pre-activations that sit within a rounding error of the kink and take the other
slope in the other program, not from the mesh.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402

from drill_jax import parallel  # noqa: E402
from drill_jax.vae import multihost, trainer  # noqa: E402


def smooth_leaky_relu(x, negative_slope=0.01):
    return negative_slope * x + (1 - negative_slope) * jax.nn.softplus(8 * x) / 8


def mesh_vs_one() -> float:
    """||g_mesh - g_one|| / ||g_one|| of the paper-sized VAE's first gradient."""
    config = trainer.VAEConfig()
    state = trainer.create_state(config, jax.random.key(0))
    batch, key = multihost.seeded_batch(config, 1), jax.random.key(2)
    mesh = parallel.make_mesh()
    one = jax.jit(trainer.gradients)(state, batch, key)[0]
    four = parallel.data_parallel(trainer.gradients, mesh)(
        parallel.replicate(state, mesh), parallel.shard_batch(batch, mesh),
        parallel.replicate(key, mesh))[0]  # fmt: skip
    return multihost.relative_distance(parallel.fetch(four), jax.device_get(one))


if __name__ == "__main__":
    print(f"devices {jax.device_count()}; leaky ReLU: {mesh_vs_one():.2e}")
    nn.leaky_relu = smooth_leaky_relu  # the networks look it up when they are traced
    jax.clear_caches()  # so trace them again
    print(f"smooth stand-in: {mesh_vs_one():.2e}")
