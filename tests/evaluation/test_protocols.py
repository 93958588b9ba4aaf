"""Tests for drill_jax.evaluation.protocols: no held-out sound (or anything made from it)
reaches training."""

import dataclasses

import jax
import numpy as np
import pytest

from drill_jax import features
from drill_jax.evaluation import examples, protocols
from tests.toys import toy_dataset as _toy_dataset
from tests.vae.conftest import TINY_NOISE

# Tiny fits: compiling is most of the time. (The noise generator's step is also compiled by
# tests/vae/test_generators.py; the compilation cache shares it only between modules marked alike.)
pytestmark = pytest.mark.quick_compile


class Spy:
    """A fit_predict that records what it was trained and tested on, and predicts by loudness."""

    def __init__(self):
        self.calls = []

    def __call__(self, train_fs, test_fs, seed):
        self.calls.append(
            (
                train_fs.origin.copy(),
                test_fs.origin.copy(),
                train_fs.synthetic.copy(),
                test_fs.synthetic.copy(),
            )
        )
        level = test_fs.log_mel[:, 0].mean(axis=1)  # first frame: always real
        thr = np.median(train_fs.log_mel[:, 0].mean(axis=1))
        p0 = (level > thr).astype(float)
        return np.stack([p0, 1 - p0], axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["none", "mixup", "specaugment"])
def test_honest_protocol_never_leaks(seed, method):
    ds = _toy_dataset(seed=seed)
    spy = Spy()
    cfg = protocols.ProtocolConfig(
        protocol="honest", n_splits=3, n_repeats=2, augment=method, n_add_per_class=4, seed=seed
    )
    result = protocols.evaluate(ds, cfg, spy)
    assert len(spy.calls) == 6 and result["summary"]["n_folds"] == 6
    tested = []
    for train_origin, test_origin, train_syn, test_syn in spy.calls:
        assert not np.isin(test_origin, train_origin).any()
        assert not test_syn.any()  # scored on real sounds only
        assert train_syn.sum() == (0 if method == "none" else 8)
        tested.append(test_origin)
    # every real sound is scored exactly once per repeat
    for r in range(2):
        np.testing.assert_array_equal(
            np.sort(np.concatenate(tested[3 * r : 3 * r + 3])), np.arange(24)
        )
    assert all(f["leak_check"] == "passed" for f in result["folds"])
    assert result["label"] == protocols.HONEST_LABEL
    # the loudness rule separates the toy classes
    assert result["summary"]["metrics"]["accuracy"]["mean"] > 0.9
    assert set(result["baselines"]) == set(protocols.BASELINES)


def test_assert_no_leak_catches_both_kinds():
    examples.assert_no_leak([1, 2, 3], [4, 5], fitted_on_origin=[1, 2, 3])
    with pytest.raises(examples.LeakError, match="reach training"):
        examples.assert_no_leak([1, 2, 5], [4, 5])
    with pytest.raises(examples.LeakError, match="fitted on"):
        examples.assert_no_leak([1, 2], [4, 5], fitted_on_origin=[1, 2, 4])


def test_paper_protocol_labels_itself_and_counts_shared_origins():
    ds = _toy_dataset()
    cfg = protocols.ProtocolConfig(
        protocol="paper", dataset="augmented", augment="mixup", n_add_per_class=10, paper_splits=3
    )
    spy = Spy()
    result = protocols.evaluate(ds, cfg, spy)
    assert result["label"] == protocols.PAPER_LABEL
    assert len(result["folds"]) == 3
    # synthetic sounds land in validation, and some share a source with training items
    assert any(test_syn.any() for _, _, _, test_syn in spy.calls)
    assert sum(f["test_items_sharing_origin_with_training"] for f in result["folds"]) > 0
    n_total = 24 + 20
    assert all(f["n_train"] + f["n_test"] == n_total for f in result["folds"])


def test_crop_removes_the_length_cue():
    ds = _toy_dataset()
    spy = Spy()
    cfg = protocols.ProtocolConfig(n_splits=3, n_repeats=1, crop=2000)
    result = protocols.evaluate(ds, cfg, spy)
    clip_len = result["baselines"]["clip_length"]["metrics"]["accuracy"]["mean"]
    majority = result["baselines"]["majority"]["metrics"]["accuracy"]["mean"]
    assert clip_len == pytest.approx(majority)  # one length left: the rule is the majority rule


def test_config_validation():
    with pytest.raises(ValueError, match="protocol"):
        protocols.ProtocolConfig(protocol="cheat")
    with pytest.raises(ValueError, match="augmentation method"):
        protocols.ProtocolConfig(dataset="augmented", augment="none")
    with pytest.raises(ValueError, match="crop"):
        protocols.ProtocolConfig(crop=0)


def test_vae_synthesis_is_shared_between_identical_folds(monkeypatch):
    """Two detectors evaluated on the same fold reuse one VAE synthesis (trained once)."""
    from drill_jax.vae.models import paper_vae

    calls = []

    def fake_train(x, x_test, config, key, *args):
        calls.append(x.shape)
        return "state", []

    def fake_synth(state, config, key, num, mode, sources, source_split, train_sounds):
        return np.zeros((num, 1999), np.float32), {"source_index": np.arange(num) % len(sources)}

    monkeypatch.setattr(paper_vae, "fit", fake_train)  # the registry entry's fit
    monkeypatch.setattr(paper_vae, "sample", fake_synth)
    protocols._vae_synthesize.cache_clear()
    train = examples.Examples.real(_toy_dataset())
    key = jax.random.key(3)
    a, fitted = protocols.vae_synthesize(train, 4, key)
    b, _ = protocols.vae_synthesize(train, 4, key)
    assert a is b and len(calls) == 2  # one VAE per class, trained once
    assert len(a) == 8 and a.synthetic.all() and np.isin(a.origin, train.origin).all()
    np.testing.assert_array_equal(fitted, train.origin)
    protocols.vae_synthesize(train, 4, jax.random.key(4))
    assert len(calls) == 4  # another key is another synthesis
    protocols._vae_synthesize.cache_clear()


@pytest.mark.parametrize("arch", ["noise", "interp", "phase_copy", "shaped_noise"])
def test_honest_protocol_fits_new_generators_on_training_folds_only(arch, monkeypatch):
    """assert_no_leak covers the new generators: each is fitted on its fold's training
    sounds only, and what it makes carries training origins (or -1) only."""
    from drill_jax.vae import generators

    fitted = []
    real_fit = generators.fit

    def spy_fit(x, x_test, config, key, *args):
        fitted.append(np.asarray(x).copy())
        return real_fit(x, x_test, config, key, *args)

    monkeypatch.setattr(generators, "fit", spy_fit)
    protocols._vae_synthesize.cache_clear()
    ds = _toy_dataset(seed=0)
    # 256-sample clips (the first 256 of each sound): the tiny generator of the VAE tests
    network = dataclasses.replace(TINY_NOISE.network, arch=arch)
    vcfg = dataclasses.replace(TINY_NOISE, network=network, epochs=1)
    spy = Spy()
    # a 256-sample Mel window, so the 256-sample synthesized clips have features
    mel = dataclasses.replace(
        features.FeatureSettings(sample_rate=96000),
        window_samples=256,
        overlap_samples=128,
        n_fft=256,
    )
    cfg = protocols.ProtocolConfig(
        protocol="honest",
        n_splits=3,
        n_repeats=1,
        augment="vae",
        n_add_per_class=4,
        seed=0,
        features=mel,
    )
    result = protocols.evaluate(ds, cfg, spy, vae_config=vcfg)
    assert all(f["leak_check"] == "passed" for f in result["folds"])
    assert len(fitted) == 6  # one generator per class and fold
    real = examples.Examples.real(ds)
    held_out_clips = []
    for train_origin, test_origin, train_syn, _ in spy.calls:
        assert train_syn.sum() == 8
        synth_origin = train_origin[train_syn]
        assert np.isin(synth_origin[synth_origin >= 0], train_origin[~train_syn]).all()
        assert not np.isin(synth_origin, test_origin).any()
        held_out_clips.append(test_origin)
    # no generator saw a held-out clip of its fold
    for k, test_origin in enumerate(held_out_clips):
        for x in fitted[2 * k : 2 * k + 2]:
            for i in test_origin:
                t = real.waveforms[i][: x.shape[1]]
                assert not any(np.array_equal(row[: len(t)], t) for row in x)
    protocols._vae_synthesize.cache_clear()
