"""drill_jax.evaluation."""
