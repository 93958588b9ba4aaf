"""Thresholds: the gamma rule, its fallback, file scores, and decisions that mean something."""

import numpy as np
import pytest
import scipy.stats

from drill_jax import data, features
from drill_jax.detection import build, registry, scoring, thresholds

SR = 16000


def test_gamma_threshold_recovers_known_quantile():
    rng = np.random.default_rng(0)
    s = scipy.stats.gamma.rvs(4.0, loc=10.0, scale=2.0, size=4000, random_state=rng)
    thr, info = thresholds.gamma_threshold(s, 0.9)
    want = scipy.stats.gamma.ppf(0.9, 4.0, loc=10.0, scale=2.0)
    assert thr == pytest.approx(want, rel=0.02)
    assert info["rule"] == "gamma" and info["shape"] > 0
    thr_p, _ = thresholds.percentile_threshold(s, 0.9)
    assert thr_p == pytest.approx(np.quantile(s, 0.9))
    assert abs(np.mean(s >= thr) - 0.1) < 0.02  # ~10 % of normal scores above it


def test_normal_threshold_and_the_gamma_fit_that_has_no_maximum():
    s = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    thr, info = thresholds.normal_threshold(s, 0.9)
    assert thr == pytest.approx(0.0 + scipy.stats.norm.ppf(0.9) * np.std(s, ddof=1))
    assert info == {"rule": "normal", "quantile": 0.9, "mean": 0.0, "std": np.std(s, ddof=1)}
    # sums of standardised scores, right-skewed, no lower bound: a gamma fit runs its loc to
    # the smallest score (shape < 1), and its 0.9 point moves with the scores' last digits
    z = np.array([-2.77, -3.1, 6.88, 1.06, 1.96, -1.27, -3.52, 2.01, 0.43])
    shape, loc, _ = scipy.stats.gamma.fit(z)
    assert shape < 1 and loc == pytest.approx(z.min())
    with pytest.raises(ValueError, match="unbounded boundary"):
        thresholds.gamma_threshold(z, 0.9)
    thr, info = thresholds.choose_threshold(z, "gamma", 0.9)  # the empirical quantile instead
    assert thr == pytest.approx(np.quantile(z, 0.9)) and info["fallback_from"] == "gamma"
    normal = [thresholds.normal_threshold(z + d, 0.9)[0] - d for d in (0.0, 1e-3, -1e-3)]
    assert np.ptp(normal) < 1e-9
    assert thresholds.choose_threshold(z, "normal", 0.9)[0] == pytest.approx(normal[0])
    thr, info = thresholds.choose_threshold(np.full(4, 1.0), "normal", 0.9)
    assert thr == 1.0 and info["fallback_from"] == "normal"


def test_threshold_fallback_aggregates_and_validation():
    thr, info = thresholds.choose_threshold(np.full(10, 3.0), "gamma", 0.9)
    assert thr == 3.0 and info["fallback_from"] == "gamma"
    with pytest.raises(ValueError, match="finite"):
        thresholds.gamma_threshold(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="quantile"):
        build.TrainConfig(quantile=1.5)
    assert thresholds.aggregate([1.0, 2.0, 6.0]) == 3.0
    assert thresholds.aggregate([1.0, 2.0, 6.0], "max") == 6.0
    with pytest.raises(ValueError, match="one of"):
        thresholds.aggregate([1.0], "sum")
    with pytest.raises(ValueError, match=r"unknown aggregate 'sum'; one of \['mean', 'max'"):
        build.TrainConfig(aggregate="sum")
    with pytest.raises(ValueError, match=r"unknown threshold_rule 'x'; one of \['gamma'"):
        build.TrainConfig(threshold_rule="x")


def test_hold_out_is_by_whole_recording():
    groups = np.repeat(np.arange(10), 4)  # 10 recordings of 4 clips each
    fit, held = build.split_recordings(groups, 0.3, seed=0)
    assert len(set(groups[fit]) & set(groups[held])) == 0
    assert len(set(groups[held])) == 3 and fit.size + held.size == 40
    with pytest.raises(ValueError, match="too few"):
        build.split_recordings(np.arange(2), 0.5, 0)


def _recordings(rng, n):
    """n normal recordings of 0.5 s: a hum at a recording's own level in noise. [8000] each."""
    t = np.arange(8000) / SR
    level = rng.uniform(0.05, 0.3, n)
    return [
        (a * np.sin(2 * np.pi * 400 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
        for a in level
    ]


def test_file_thresholds_flag_about_ten_percent_of_new_normal_files():
    """Normal recordings, each cut into 4 clips (one group per recording): the thresholds come
    from held-out whole recordings, so new normal FILES are flagged about 10 % of the time,
    not all of them (a file's mean window score against the file threshold)."""
    rng = np.random.default_rng(0)
    recs = _recordings(rng, 80)
    clips = [r[k * 2000 : (k + 1) * 2000] for r in recs for k in range(4)]
    groups = np.repeat(np.arange(80), 4)
    ds = data.Dataset.from_arrays(clips, np.zeros(320, int), ("normal",), SR, groups=groups)
    settings = features.FeatureSettings(sample_rate=SR, band_hz=(100.0, 7000.0))
    config = build.TrainConfig(holdout=0.5)
    det = build.train(ds, "zscore", registry.get("zscore").Config(), settings, config)
    assert det.info["thresholds"]["n_threshold_files"] == 40
    new = _recordings(np.random.default_rng(1), 400)
    file_s, window_s, _, _ = scoring.file_scores(det, new)
    flagged = np.mean(file_s >= det.file_threshold)
    assert 0.03 <= flagged <= 0.2, flagged
    assert 0.03 <= np.mean(window_s >= det.threshold) <= 0.2
