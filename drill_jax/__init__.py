"""drill_jax: detect machine failures from tiny sets of short sounds (JAX-first)."""

__version__ = "0.1.0"
