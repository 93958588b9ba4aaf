"""Supervised backbones, one module each; ``classify.registry`` names them."""
