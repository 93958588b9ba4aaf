"""drill_jax.classify."""
