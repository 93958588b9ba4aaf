"""Tests for drill_jax.evaluation.paired: the paired difference, its interval and p-value."""

import numpy as np
import pytest
import scipy.stats

from drill_jax.evaluation import paired


def _result(values, n_test=10, crop=None):
    return {
        "config": {"protocol": "honest", "n_splits": 5, "n_repeats": 1, "seed": 0, "crop": crop},
        "folds": [{"balanced_accuracy": v, "n_test": n_test} for v in values],
    }


def test_paired_difference_interval_and_wilcoxon():
    a = [0.80, 0.75, 0.90, 0.70, 0.85, 0.95, 0.60, 0.88]
    b = [0.70, 0.70, 0.85, 0.72, 0.80, 0.80, 0.55, 0.80]
    out = paired.paired_comparison(_result(a), _result(b))
    d = np.array(a) - np.array(b)
    assert out["n_folds"] == 8 and out["wins"] == 7 and out["losses"] == 1 and out["ties"] == 0
    np.testing.assert_allclose(out["difference"]["mean"], d.mean())
    half = scipy.stats.t.ppf(0.975, 7) * d.std(ddof=1) / np.sqrt(8)
    np.testing.assert_allclose(out["difference"]["ci_high"], d.mean() + half)
    np.testing.assert_allclose(out["wilcoxon_p"], scipy.stats.wilcoxon(d).pvalue)
    assert out["wilcoxon_p"] < 0.05


def test_identical_results_give_zero_and_p_one():
    out = paired.paired_comparison(_result([0.7, 0.8, 0.9]), _result([0.7, 0.8, 0.9]))
    assert out["difference"]["mean"] == 0.0 and out["wilcoxon_p"] == 1.0 and out["ties"] == 3


def test_unpaired_folds_are_refused():
    with pytest.raises(ValueError, match="fold counts"):
        paired.paired_comparison(_result([0.7, 0.8]), _result([0.7, 0.8, 0.9]))
    with pytest.raises(ValueError, match="held-out"):
        paired.paired_comparison(_result([0.7, 0.8], n_test=9), _result([0.7, 0.8]))
    with pytest.raises(ValueError, match="crop"):
        paired.paired_comparison(_result([0.7, 0.8], crop=2000), _result([0.7, 0.8]))


def test_comparison_row_and_markdown():
    a, b = [0.9, 0.8, 0.7, 0.95], [0.8, 0.8, 0.6, 0.85]
    row = paired.comparison_row("vae - none", _result(a), _result(b))
    np.testing.assert_allclose([row["treated"], row["control"]], [np.mean(a), np.mean(b)])
    np.testing.assert_allclose(row["difference"], np.mean(np.subtract(a, b)))
    assert row["ci_low"] < row["difference"] < row["ci_high"]
    assert (row["wins"], row["losses"], row["ties"], row["n_folds"]) == (3, 0, 1, 4)
    table = paired.markdown([row])
    assert "| vae - none | 4 | 0.763 | 0.838 | +0.075 (" in table
