"""Tests for drill_jax.vae.experiment: the paper's VAE run writes WAVs and a manifest,
deterministically."""

import dataclasses
import json
import os

import numpy as np
import pytest

from drill_jax import data
from drill_jax.vae import experiment
from tests.vae.conftest import TINY, T, _sounds  # noqa: F401

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time


def test_train_and_synthesize_writes_wavs_manifest_and_is_deterministic(tmp_path):
    sounds = np.concatenate([_sounds(5, 3), _sounds(5, 4)])
    ds = data.Dataset(
        waveforms=tuple(sounds),
        sample_rate=96000,
        labels=np.repeat([0, 1], 5),
        class_names=("anomaly", "normal"),
        paths=tuple(f"/src/{c}_{i}.wav" for c in ("a", "n") for i in range(5)),
        groups=np.arange(10),
        starts=np.zeros(10, np.int64),
    )
    config = dataclasses.replace(TINY, epochs=1)
    outs = []
    for run in ("a", "b"):
        out = str(tmp_path / run)
        summary = experiment.train_and_synthesize(ds, config, out, figures=False)
        assert summary["num_wavs"] == 6
        outs.append(out)
    for cls in ("anomaly", "normal"):
        for k in range(3):
            rel = os.path.join("synth", cls, f"{k:03d}.wav")
            with (
                open(os.path.join(outs[0], rel), "rb") as f0,
                open(os.path.join(outs[1], rel), "rb") as f1,
            ):
                assert f0.read() == f1.read()
            x, rate = data.read_wav(os.path.join(outs[0], rel))
            assert rate == 96000 and x.shape == (T,)
    with open(os.path.join(outs[0], "synth", "manifest.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "class,file,mode,source_split,source_file,seed,z,arch,loss"
    assert len(lines) == 7
    # Sources come from the training list (even positions) only.
    train_paths = {ds.paths[i] for i in data.paper_vae_split(ds.labels)[0]}
    assert all(line.split(",")[4] in train_paths for line in lines[1:])
    with open(os.path.join(outs[0], "metrics.jsonl")) as f:
        assert [json.loads(line)["class"] for line in f] == ["anomaly", "normal"]
