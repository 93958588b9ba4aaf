"""Generator modules, one per family; ``drill_jax.vae.generators`` picks one by name."""
