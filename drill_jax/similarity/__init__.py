"""drill_jax.similarity."""
