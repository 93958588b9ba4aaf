"""drill_jax.detection."""
