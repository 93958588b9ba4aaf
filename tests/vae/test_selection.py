"""Tests for drill_jax.vae.selection: the inner split stays inside the paper's train list and
keeps groups whole, every run is scored against validation sounds only, and the stated
rule picks the candidate."""

import dataclasses

import numpy as np
import pytest

from drill_jax import data, recipes
from drill_jax.detection import family
from drill_jax.vae import configs, griffin_lim, selection

T = 400


def _dataset(n_per_class=12):
    """Two classes of damped tones (clips 2i and 2i + 1 of a class share a group)."""
    rng = np.random.default_rng(0)
    t = np.arange(T)
    waves, labels, groups = [], [], []
    for c in range(2):
        for i in range(n_per_class):
            f = 0.02 + 0.01 * c + 0.002 * rng.random()
            tone = 0.3 * np.exp(-t / 80.0) * np.sin(2 * np.pi * f * t)
            waves.append(tone + 1e-3 * rng.normal(size=T))
            labels.append(c)
            groups.append(100 * c + i // 2)
    return data.Dataset.from_arrays(waves, labels, ("a", "b"), 96000, groups=groups)


def test_inner_split_is_inside_the_train_list_disjoint_and_keeps_groups_whole():
    ds = _dataset()
    train, test = data.paper_vae_split(ds.labels)
    for seed in range(3):
        fit, val = selection.inner_split(ds.labels, ds.groups, 1 / 3, seed)
        assert not set(fit) & set(val)
        assert set(fit) | set(val) == set(train) and not (set(val) & set(test))
        assert not set(ds.groups[fit]) & set(ds.groups[val])
        for c in range(2):
            assert np.sum(ds.labels[val] == c) >= 1 and np.sum(ds.labels[fit] == c) >= 2


def test_run_scores_each_candidate_class_and_mode_against_validation_sounds_only():
    ds = _dataset()
    spec = griffin_lim.Spectrogram(n_fft=64, hop=16, gl_iterations=4)
    base = recipes.vae_pca(3, spec)
    config = dataclasses.replace(
        base,
        network=dataclasses.replace(base.network, input_length=T),
        synthesis=dataclasses.replace(base.synthesis, num_synth=5),
    )
    seen = []

    def score(name, synth, fit, val):
        seen.append((name, synth.shape, len(fit), len(val)))
        return {"validation": [w.tobytes() for w in val]}

    rows = selection.run(ds, ds.groups, {"tiny": config}, [0], 1 / 3, score)
    assert [(r["class"], r["mode"]) for r in rows] == [
        (c, m) for c in ("a", "b") for m in selection.MODES
    ]
    _, val = selection.inner_split(ds.labels, ds.groups, 1 / 3, 0)
    held = {ds.waveforms[i].tobytes() for i in val}
    assert all(set(r["validation"]) <= held for r in rows)
    assert all(shape == (5, T) for _, shape, _, _ in seen)


def test_run_scores_the_draws_of_a_given_sampling_rule():
    ds = _dataset()
    config = configs.VAEConfig(synthesis=configs.SynthesisConfig(num_synth=5))
    fitted = []

    def constant(config, clips, key):
        fitted.append(clips.shape)
        modes = enumerate(selection.MODES)
        return {m: np.full((5, T), 0.1 * (i + 1), np.float32) for i, m in modes}

    def score(name, synth, fit, val):
        return {"value": float(synth[0, 0])}

    rows = selection.run(ds, ds.groups, {"rule": config}, [0], 1 / 3, score, constant)
    assert [r["value"] for r in rows] == pytest.approx([0.1, 0.2, 0.1, 0.2])
    fit, _ = selection.inner_split(ds.labels, ds.groups, 1 / 3, 0)
    assert sorted(n for n, _ in fitted) == sorted(np.bincount(ds.labels[fit]))


def _rows(name, scores, memorisation=(1.5, 2.0), reference=1.2, level=(0.5, 0.5)):
    """One candidate's runs (inner seeds 0, 1 x classes a, b): run scores ``scores`` [4],
    memorisation ratios and level differences to the validation sounds per class (the fit
    sounds' is 0.2 dB)."""
    out = []
    for i, (seed, cls) in enumerate([(0, "a"), (0, "b"), (1, "a"), (1, "b")]):
        out.append(
            {
                "candidate": name,
                "seed": seed,
                "class": cls,
                "mode": "prior",
                **dict.fromkeys(selection.TWO_SAMPLE, scores[i]),
                "mmd_p": 0.5,
                "memorisation": memorisation[cls == "b"],
                "reference_memorisation": reference,
                "level_difference_db": level[cls == "b"],
                "reference_level_difference_db": 0.2,
                "passes": {"one_frame": scores[i] <= 0.65},
            }
        )
    return out


def test_rule_keeps_the_earlier_candidate_within_one_standard_error_of_the_best():
    noisy = [0.63, 0.60, 0.63, 0.60]  # 0.01 worse than 'better' on average, SE 0.01
    rows = (
        _rows("copies", [0.5] * 4, memorisation=(0.5, 2.0))  # most alike, but it copies
        + _rows("current", noisy)
        + _rows("better", [0.60, 0.61, 0.60, 0.61])
        # Novel relative to validation sounds that sit nearer the fit sounds than 1.
        + _rows("fair", [0.64] * 4, memorisation=(0.85, 2.0), reference=0.8)
        # Best of all and novel, but 1.3 dB quieter than its fit sounds in class b.
        + _rows("quiet", [0.55] * 4, level=(0.5, -1.1))
    )
    summary = selection.summarize(rows)
    assert [r["eligible"] for r in summary] == [False, True, True, True, False]
    np.testing.assert_allclose(summary[4]["level_vs_fit_db"], 1.3)
    np.testing.assert_allclose(summary[1]["level_vs_fit_db"], 0.3)
    np.testing.assert_allclose(summary[1]["two_sample"], 0.615)
    np.testing.assert_allclose(summary[1]["diff_vs_best"], 0.01)
    assert selection.choose(summary) == "current"
    assert "**current** (chosen)" in selection.markdown(summary, "current")
    # A steady 0.02 is more than its standard error: the better one is chosen.
    steady = selection.summarize(rows[:4] + _rows("current", [0.62, 0.63] * 2) + rows[8:16])
    assert selection.choose(steady) == "better"
    with pytest.raises(ValueError, match="novel"):
        selection.choose(summary[:1])


def test_realistic_recipe_is_a_candidate_and_configs_round_trip_through_json():
    candidates = recipes.realism_candidates()
    assert recipes.vae_realistic() in candidates.values()
    for config in candidates.values():
        again = family.config_from_json(configs.VAEConfig, family.config_to_json(config))
        assert again == config


def test_pca_refuses_two_level_rules():
    with pytest.raises(ValueError, match="one level rule"):
        configs.VAEConfig(
            network=configs.NetworkConfig(arch="pca"),
            synthesis=configs.SynthesisConfig(calibrate_level=True, match_level=True),
        )


def test_configs_saved_before_the_transient_settings_load_with_their_defaults():
    saved = family.config_to_json(recipes.vae_pca(64))
    del saved["network"]["domain"]
    del saved["synthesis"]["contrast"], saved["synthesis"]["perturbed_components"]
    assert family.config_from_json(configs.VAEConfig, saved) == recipes.vae_pca(64)


def test_pca_config_refuses_a_contrast_in_the_waveform_domain():
    with pytest.raises(ValueError, match="waveform"):
        recipes.vae_pca(64, domain="waveform", contrast=None)
