"""drill_jax.vae."""
