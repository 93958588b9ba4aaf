"""drill_jax.bench."""
