"""Tests for the realism test (drill_jax.similarity.realism, summary_features, two_sample):
copies of training sounds fail it through the memorisation ratio, a held-out real half passes
it, shaped noise fails its two-sample parts; known answers for the summary features and MMD."""

import numpy as np
import pytest

from drill_jax import data
from drill_jax.similarity import realism, summary_features, two_sample

SR = 96000
SMALL = realism.RealismConfig(cv_repeats=1, n_permutations=199)  # min p x 5 sets < 0.05


@pytest.fixture(scope="module")
def normal_sets():
    """The bundled normal sounds: the paper's train list, and its test list cut in two halves
    (alternate positions): one plays the generator's output, the other the held-out sounds."""
    ds = data.load_dataset(classes=["normal"])
    train, test = realism.paper_split_sets(ds)
    return train["normal"], test["normal"][0::2], test["normal"][1::2]


def _shaped_noise(sounds, n, rng):
    x = np.stack([w[:1999] for w in sounds]).astype(np.float64)
    power = np.mean(np.abs(np.fft.rfft(x)) ** 2, axis=0)
    spectrum = np.fft.rfft(rng.standard_normal((n, 1999))) * np.sqrt(power / 1999)
    return list(np.fft.irfft(spectrum, n=1999))


def test_heldout_real_half_passes(normal_sets):
    train, unseen, heldout = normal_sets
    rep = realism.class_realism(unseen, train, heldout, SR, SMALL)
    assert rep["passes_all"], rep["passes"]
    assert all(rep["reference_passes"].values()), rep["reference_passes"]
    assert rep["length"] == 1999 and rep["num_train"] == 34


def test_copies_of_training_sounds_fail_through_memorisation(normal_sets):
    train, _, heldout = normal_sets
    copies = [w[:1999] for w in train] + [w[:1999] for w in train[:10]]
    rep = realism.class_realism(copies, train, heldout, SR, SMALL)
    assert not rep["passes"]["memorisation"] and not rep["passes_all"]
    memo = rep["synth"]["memorisation"]
    assert memo["log_mel"]["ratio"]["max"] < 1e-6 and memo["xcorr"]["ratio"]["max"] < 1e-6
    assert rep["real_reference"]["memorisation"]["log_mel"]["ratio"]["median"] >= 1.0


def test_shaped_noise_fails_the_two_sample_parts(normal_sets):
    train, _, heldout = normal_sets
    noise = _shaped_noise(train, 40, np.random.default_rng(0))
    res = realism.realism_test({"normal": noise}, {"normal": train}, {"normal": heldout}, SR, SMALL)
    rep = res["classes"]["normal"]
    for part in ("one_frame", "multi_frame", "summary", "mmd"):
        assert not rep["passes"][part], part
    differs = rep["synth"]["summary_differences"]["differs"]
    assert "kurtosis" in differs and "transients" in differs
    text = realism.markdown(res)
    assert "| normal | synthesized |" in text and "fails: one_frame" in text


def test_realism_rejects_bad_input(normal_sets):
    train, unseen, heldout = normal_sets
    with pytest.raises(ValueError, match="no training or held-out"):
        realism.realism_test({"anomaly": unseen}, {"normal": train}, {"normal": heldout}, SR)
    with pytest.raises(ValueError, match=">= 5"):
        realism.class_realism(unseen[:3], train, heldout, SR, SMALL)
    with pytest.raises(ValueError, match="shorter than"):
        realism.class_realism([w[:300] for w in unseen], train, heldout, SR, SMALL)


def test_summary_features_of_a_damped_sine_at_a_known_onset():
    t0, f, tau, n = 900, 3000.0, 1e-3, 1999
    t = np.arange(n - t0) / SR
    x = np.zeros(n)
    x[t0:] = np.sin(2 * np.pi * f * t) * np.exp(-t / tau)
    x += 1e-4 * np.random.default_rng(0).standard_normal(n)
    got = dict(zip(summary_features.NAMES, summary_features.clip_summary(x, SR)))
    assert abs(got["onset_ms"] - t0 * 1e3 / SR) < 0.1
    assert got["onset_contrast_db"] > 30
    assert abs(got["decay_ms"] - tau * np.log(10) * 1e3) < 0.25  # -20 dB at tau ln 10
    assert abs(got["dominant_khz"] - f / 1e3) < 0.1
    assert got["share_2_4k"] > 0.7 and abs(sum(got[k] for k in got if "share" in k) - 1) < 1e-9
    assert abs(got["level_db"] - 10 * np.log10(np.mean(x**2))) < 1e-9
    assert got["transients"] >= 1


def test_mmd_and_feature_differences_known_answers():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 5)), rng.standard_normal((40, 5))
    same = two_sample.mmd_test(a, b, 199, seed=0)
    shifted = b.copy()
    shifted[:, 2] += 2.0
    far = two_sample.mmd_test(a, shifted, 199, seed=0)
    assert same["p_value"] > 0.05 and far["p_value"] == 1 / 200 and far["mmd2"] > same["mmd2"]
    diff = two_sample.feature_differences(a, shifted, list("vwxyz"))
    assert diff["differs"] == ["x"] and diff["features"][0]["name"] == "x"
    assert diff["features"][0]["cohens_d"] > 1.5
    np.testing.assert_allclose(two_sample.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_score_realism_of_a_folder_against_the_paper_test_list(tmp_path):
    from drill_jax.similarity import report

    ds = data.load_dataset(classes=["normal"])
    train, _ = realism.paper_split_sets(ds)
    for k, w in enumerate(train["normal"][:12]):  # copies of training sounds
        data.write_wav(str(tmp_path / "synth" / "normal" / f"{k:03d}.wav"), w[:1999], SR)
    result = report.score_realism(str(tmp_path / "synth"), ds, str(tmp_path / "out"), SMALL)
    rep = result["classes"]["normal"]
    assert (rep["num_synth"], rep["num_train"], rep["num_heldout"]) == (12, 34, 33)
    assert not rep["passes"]["memorisation"]
    assert "| normal | synthesized |" in (tmp_path / "out" / "realism.md").read_text()
    assert (tmp_path / "out" / "realism.json").exists()


def _part(one, multi, summary, mmd, memo, level):
    two = {"one_frame": one, "summary": summary}
    two.update({f"multi_frame_{w}": m for w, m in zip((128, 256), multi)})
    return {
        "two_sample": {k: {"balanced_accuracy": {"mean": v}} for k, v in two.items()},
        "mmd_p_combined": mmd,
        "memorisation": {"log_mel": {"ratio": {"median": memo}}},
        "level_difference_db": level,
    }


def test_verdict_checks_each_measure_against_its_bound():
    good = realism.verdict(_part(0.6, (0.5, 0.7), 0.65, 0.05, 1.0, -2.0), realism.Targets())
    assert good == dict.fromkeys(realism.CRITERIA, True)
    bad = realism.verdict(_part(0.66, (0.5, 0.71), 0.6, 0.049, 0.99, -2.1), realism.Targets())
    assert bad == {**dict.fromkeys(realism.CRITERIA, False), "summary": True}
    assert not realism.verdict(_part(0.5, (), 0.5, 1.0, 2.0, 0.0), realism.Targets())["multi_frame"]
    with pytest.raises(ValueError, match="unknown or repeated criteria"):
        realism.Targets(at_most=(("one_frame", 0.6), ("speed", 1.0)))
