"""Saved DCASE detector configs: what the code writes now loads back (nested schedules, input
and loss parts); configs written before those parts existed fail with one line."""

import json

import pytest

from drill_jax import training
from drill_jax.asd import outlier
from drill_jax.detection import registry
from drill_jax.detection.models import dcase_ae, dcase_oe


def test_dcase_configs_round_trip_through_json():
    for name, config in (
        ("dcase_oe", dcase_oe.Config(outlier.OEConfig(
            outlier.InputConfig(window_frames=16), train=training.Schedule(epochs=3),
            loss=outlier.LossConfig(margin=0.1), fusion="none"))),
        ("dcase_oe", dcase_oe.Config(outlier.OEConfig(fusion="stats", components=4))),
        ("dcase_ae", dcase_ae.Config(score="mahalanobis")),
    ):
        text = json.dumps(registry.config_to_json(config))
        assert registry.config_from_json(name, json.loads(text)) == config


def test_a_config_of_the_older_flat_layout_is_a_one_line_error():
    old = registry.config_to_json(dcase_oe.Config())
    for part in ("inputs", "train", "loss", "fusion"):
        del old["oe"][part]
    old["oe"].update(steps=1000, batch_size=64, learning_rate=1e-3, window_frames=64)
    with pytest.raises(ValueError) as err:
        registry.config_from_json("dcase_oe", old)
    assert "\n" not in str(err.value) and "steps" in str(err.value)
