"""Tests for drill_jax.train_vae: loss goes down, one compile, determinism, resume, synthesis."""

import json
import os

import jax
import numpy as np
import pytest

from drill_jax import data

from drill_jax.vae import trainer

T = 256
TINY = trainer.VAEConfig(
    input_length=T,
    enc_features=(4, 4, 4, 8),
    dec_features=(8, 4, 4, 4),
    strides=(2, 2, 2, 2),
    kernel_size=4,
    block_kernel_size=3,
    batch_size=4,
    epochs=2,
    learning_rate=3e-3,
    num_synth=3,
)


def _sounds(n, seed):
    """Noisy decaying tones in [-1, 1], [n, T] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 96000.0
    f = rng.uniform(2000.0, 8000.0, size=(n, 1))
    x = 0.5 * np.exp(-t * 4000.0) * np.sin(2 * np.pi * f * t) + 0.02 * rng.normal(size=(n, T))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def trained():
    """Two identical runs (same key) of 6 train sounds (a padded last batch) x 2 epochs."""
    x_train, x_test = _sounds(6, 0), _sounds(3, 1)
    runs = [trainer.train_class_vae(x_train, x_test, TINY, jax.random.key(7)) for _ in range(2)]
    return x_train, x_test, runs


def test_batch_indices_pad_last_batch_with_zero_weight():
    idx, w = trainer.batch_indices(6, 4, np.array([5, 3, 1, 0, 2, 4]))
    np.testing.assert_array_equal(idx, [[5, 3, 1, 0], [2, 4, 5, 3]])
    np.testing.assert_array_equal(w, [[1, 1, 1, 1], [1, 1, 0, 0]])
    idx, w = trainer.batch_indices(2, 4, np.array([1, 0]))
    np.testing.assert_array_equal(idx, [[1, 0, 1, 0]])
    np.testing.assert_array_equal(w, [[1, 1, 0, 0]])


def test_epoch_order_is_a_keyed_permutation():
    key = jax.random.key(0)
    a, b = trainer.epoch_order(key, 0, 10), trainer.epoch_order(key, 1, 10)
    np.testing.assert_array_equal(np.sort(a), np.arange(10))
    np.testing.assert_array_equal(a, trainer.epoch_order(key, 0, 10))
    assert not np.array_equal(a, b)


def test_config_validates():
    with pytest.raises(ValueError, match="arch"):
        trainer.VAEConfig(arch="dense")
    with pytest.raises(ValueError, match="kl"):
        trainer.VAEConfig(kl="none")
    with pytest.raises(ValueError, match="batch_size"):
        trainer.VAEConfig(batch_size=0)


def test_few_steps_on_a_tiny_batch_decrease_the_loss():
    state = trainer.create_state(TINY, jax.random.key(0))
    x = _sounds(4, 2)
    batch = {"x": x, "weight": np.ones(4, np.float32)}
    # Soft Bernoulli targets: the reconstruction cannot go below their entropy.
    p = (x.astype(np.float64) + 1.0) / 2.0
    floor = -np.mean(np.sum(p * np.log(p) + (1 - p) * np.log(1 - p), axis=1))
    loop_key = jax.random.key(1)
    excess = []
    for _ in range(30):
        state, metrics = trainer.train_step(state, batch, loop_key)
        excess.append(float(metrics["loss"]) - floor)
        assert np.isfinite(metrics["grad_norm"])
    assert int(state.step) == 30
    assert excess[-1] < 0.5 * excess[0], excess


def test_train_step_compiles_once(trained):
    x_train, x_test, _ = trained
    before = dict(trainer.TRACE_COUNTS)
    # A new state with an equal config, odd train/test sizes (padded batches): no retrace.
    trainer.train_class_vae(x_train[:5], x_test[:2], TINY, jax.random.key(3))
    assert trainer.TRACE_COUNTS["train_step"] == before["train_step"]
    assert trainer.TRACE_COUNTS["eval_step"] == before["eval_step"]


def test_history_has_test_elbo_per_epoch(trained):
    _, _, runs = trained
    _, history = runs[0]
    assert [r["epoch"] for r in history] == [1, 2]
    assert [r["step"] for r in history] == [2, 4]  # ceil(6 / 4) steps per epoch
    for r in history:
        assert np.isfinite(r["eval_elbo"]) and r["eval_elbo"] < 0
        np.testing.assert_allclose(-r["eval_elbo"], r["eval_recon"] + r["eval_kl"], rtol=1e-6)


def test_same_key_gives_identical_params_and_wav_bytes(trained, tmp_path):
    x_train, _, runs = trained
    (s1, _), (s2, _) = runs
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(s1.batch_stats), jax.tree.leaves(s2.batch_stats)):
        np.testing.assert_array_equal(a, b)
    blobs = []
    for i, state in enumerate((s1, s2)):
        sounds, _ = trainer.synthesize(state, TINY, jax.random.key(5), 2, "posterior", x_train)
        path = tmp_path / f"{i}.wav"
        data.write_wav(str(path), sounds[0], 96000)
        blobs.append(path.read_bytes())
    assert blobs[0] == blobs[1]


def test_synthesis_modes_shapes_and_range(trained):
    x_train, _, runs = trained
    state, _ = runs[0]
    sounds, info = trainer.synthesize(state, TINY, jax.random.key(0), 5, "prior")
    assert sounds.shape == (5, T) and sounds.dtype == np.float32
    assert np.all(np.abs(sounds) <= 1.0)
    np.testing.assert_array_equal(info["source_index"], -1)
    assert info["z"].shape == (5, TINY.latent_dim)
    # Decoding the reported z reproduces the sounds.
    np.testing.assert_allclose(trainer.decode(state, info["z"]), sounds, atol=1e-6)
    sounds, info = trainer.synthesize(state, TINY, jax.random.key(0), 8, "posterior", x_train)
    assert sounds.shape == (8, T)
    # Cycles through all 6 sources before repeating.
    assert sorted(info["source_index"][:6]) == list(range(6))
    with pytest.raises(ValueError, match="source"):
        trainer.synthesize(state, TINY, jax.random.key(0), 2, "posterior")


def test_synthesis_from_test_sounds_needs_the_flag(trained):
    _, x_test, runs = trained
    state, _ = runs[0]
    with pytest.raises(ValueError, match="synth_from_test"):
        trainer.synthesize(state, TINY, jax.random.key(0), 2, "posterior", x_test, "test")
    allowed = trainer.VAEConfig(**{**TINY.__dict__, "synth_from_test": True})
    _, info = trainer.synthesize(
        state, allowed, jax.random.key(0), 2, "posterior", x_test, "test"
    )
    assert info["source_split"] == "test"


def test_resume_equals_uninterrupted(trained, tmp_path):
    x_train, x_test, _ = trained
    four = trainer.VAEConfig(**{**TINY.__dict__, "epochs": 4})
    key = jax.random.key(11)
    straight, straight_hist = trainer.train_class_vae(x_train, x_test, four, key)
    workdir = str(tmp_path / "run")
    trainer.train_class_vae(x_train, x_test, TINY, key, workdir=workdir)  # "stops" at 2
    assert os.path.exists(os.path.join(workdir, trainer.CHECKPOINT))
    resumed, hist = trainer.train_class_vae(
        x_train, x_test, four, key, workdir=workdir, resume=True
    )
    assert int(resumed.step) == int(straight.step) == 8
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(straight.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(resumed.opt_state), jax.tree.leaves(straight.opt_state)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4]
    np.testing.assert_allclose(hist[-1]["eval_elbo"], straight_hist[-1]["eval_elbo"], rtol=1e-6)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        assert [json.loads(line)["epoch"] for line in f] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="another key"):
        trainer.train_class_vae(
            x_train, x_test, four, jax.random.key(12), workdir=workdir, resume=True
        )


def test_non_finite_loss_raises_at_once(monkeypatch):
    calls = []

    def nan_step(state, batch, key):
        calls.append(1)
        return state.replace(step=state.step + 1), {"loss": np.float32(np.nan)}

    monkeypatch.setattr(trainer, "train_step", nan_step)
    with pytest.raises(FloatingPointError, match="step 1 "):
        trainer.train_class_vae(_sounds(9, 0), None, TINY, jax.random.key(0))
    assert len(calls) == 1


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
    config = trainer.VAEConfig(**{**TINY.__dict__, "epochs": 1})
    outs = []
    for run in ("a", "b"):
        out = str(tmp_path / run)
        summary = trainer.train_and_synthesize(ds, config, out, figures=False)
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
    assert lines[0] == "class,file,mode,source_split,source_file,seed,z"
    assert len(lines) == 7
    # Sources come from the training list (even positions) only.
    train_paths = {ds.paths[i] for i in data.paper_vae_split(ds.labels)[0]}
    assert all(line.split(",")[4] in train_paths for line in lines[1:])
    with open(os.path.join(outs[0], "metrics.jsonl")) as f:
        assert [json.loads(line)["class"] for line in f] == ["anomaly", "normal"]
