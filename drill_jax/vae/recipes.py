"""Named recipes of ``trainer.VAEConfig``: what ``--arch=realistic`` stands for.

``VAEConfig(arch='realistic')`` takes this recipe: the arch, and every other field of the
recipe that is still at the class default (so to vary one of them, name the arch itself).
The designs compared for it, with their figures, are in README's realistic-generator notes.
"""

# The realistic generator's recipe (module docstring).
REALISTIC = {
    "arch": "noise_hop32",
    "recon": "stft_band",
    "latent_dim": 8,
    "epochs": 150,
    "batch_size": 16,
    "learning_rate": 2e-3,
    "sc_weight": 0.0,
    "stft_sizes": (128, 256, 512, 1024, 2048),
    "kl_weight": 0.01,
    "kl_warmup_steps": 200,
    "free_bits": 0.1,
    "prior": "aggregate",
    "calibrate_level": True,
}
