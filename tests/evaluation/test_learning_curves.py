"""Tests for drill_jax.evaluation.learning_curves: subsamples inside the training fold, a
generator fitted on the subsample only (leak check), paired comparisons, sentences, figure."""

import jax
import numpy as np
import pytest

from drill_jax import data
from drill_jax.evaluation import examples
from drill_jax.evaluation import learning_curves as lc

TINY = lc.CurveConfig(
    sizes=(3, 0),
    draws=2,
    n_splits=2,
    folds="grouped",
    detectors=("logreg",),
    generators=("interp",),
    n_add_per_class=6,
)


@pytest.fixture(scope="module")
def small():
    ds = data.load_dataset()
    keep = np.concatenate([np.flatnonzero(ds.labels == c)[:12] for c in (0, 1)])
    return ds.subset(keep)


@pytest.fixture(scope="module")
def tiny_result(small):
    return lc.run(small, TINY)


def test_subsample_draws_n_per_class_without_replacement():
    y = np.repeat([0, 1], [7, 5])
    idx = lc.subsample(y, 4, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [4, 4] and np.unique(idx).size == 8
    again = lc.subsample(y, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(idx, again)
    assert np.bincount(y[lc.subsample(y, 6, np.random.default_rng(1))]).tolist() == [6, 5]
    np.testing.assert_array_equal(lc.subsample(y, 0, np.random.default_rng(0)), np.arange(12))
    with pytest.raises(ValueError, match="sizes"):
        lc.CurveConfig(sizes=(1,))
    with pytest.raises(ValueError, match="folds"):
        lc.CurveConfig(folds="paper")


def test_run_scores_every_unit_with_and_without_synthesis(tiny_result, small):
    recs = tiny_result["records"]
    assert len(recs) == 2 * 2 * 2 * 2  # folds x sizes x draws x (none, interp)
    for r in recs:
        synth = 2 * TINY.n_add_per_class if r["generator"] == "interp" else 0
        assert r["n_train_synthetic"] == synth
        real = r["n_train"] - synth
        assert real == 6 if r["size"] == 3 else real > 6
        assert 0.0 <= r["balanced_accuracy"] <= 1.0
    # grouped folds: near-duplicate normals share groups
    assert tiny_result["groups"]["groups"] < len(small)
    rows = tiny_result["comparisons"]
    assert [(r["size"], r["n_folds"]) for r in rows] == [(3, 4), (0, 4)]
    for r in rows:
        assert r["ci_low"] <= r["difference"] <= r["ci_high"] and 0 < r["wilcoxon_p"] <= 1
        assert r["wilcoxon_p"] <= r["p_holm"] <= 1
    assert len(tiny_result["sentences"]) == 1 and tiny_result["sentences"][0].startswith("logreg")


def test_same_seed_same_curves(tiny_result, small):
    again = lc.run(small, TINY)
    assert [r["balanced_accuracy"] for r in again["records"]] == [
        r["balanced_accuracy"] for r in tiny_result["records"]
    ]


def test_generator_fitted_outside_the_subsample_is_a_leak():
    train = examples.Examples(
        (np.zeros(4),) * 2, np.array([0, 1]), np.array([5, 9]), np.zeros(2, bool)
    )
    lc.check_fitted_on([5, 9], train)
    with pytest.raises(examples.LeakError, match="outside the subsample"):
        lc.check_fitted_on([5, 9, 11], train)


def test_sentences_say_where_synthesis_helps_or_hurts():
    def row(size, d, lo, hi, p, p_holm):
        return dict(
            detector="auto", generator="g", size=size, difference=d, ci_low=lo, ci_high=hi,
            wilcoxon_p=p, p_holm=p_holm,
        )

    rows = [
        row(4, 0.08, 0.02, 0.14, 0.01, 0.03),
        row(8, 0.02, -0.01, 0.05, 0.2, 0.4),
        row(0, -0.05, -0.08, -0.02, 0.01, 0.03),
        row(16, 0.04, 0.01, 0.07, 0.04, 0.08),
    ]
    (text,) = lc.sentences(rows, ["auto"])
    assert "helps with g at N = 4 (+0.080" in text and "N = 8" not in text
    assert "hurts with g at N = all (-0.050)" in text
    assert "only before the multiple-comparison adjustment: g at N = 16" in text
    (none,) = lc.sentences(rows[1:2], ["auto"])
    assert none == "auto: synthesis does not measurably help at any N tried."


def test_figure_and_markdown(tiny_result, tmp_path):
    path = lc.plot_curves(tiny_result, str(tmp_path / "curves.png"))
    assert open(path, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    md = lc.markdown(tiny_result)
    assert "| logreg + interp, N = 3 | 4 |" in md and "grouped" in md


def test_compiled_code_is_released_only_when_maps_are_crowded(tmp_path):
    few, many = tmp_path / "few", tmp_path / "many"
    few.write_text("m\n" * 10)
    many.write_text("m\n" * (lc._MAX_MAPS + 1))
    double = jax.jit(lambda x: 2 * x)
    double(1.0)
    assert not lc._release_compiled_code(str(few))
    assert double._cache_size() == 1
    assert lc._release_compiled_code(str(many))
    assert double._cache_size() == 0  # compiled code dropped
    assert not lc._release_compiled_code(str(tmp_path / "absent"))
