"""Saved-detector models, one module each (listed in ``drill_jax.detection.registry``)."""
