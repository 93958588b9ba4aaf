"""Tests for drill_jax.similarity.duplicates: near-duplicate recordings share a group, and
grouped folds of the bundled sounds never split one."""

import numpy as np
import pytest

from drill_jax import data
from drill_jax.similarity import duplicates, pairwise


@pytest.fixture(scope="module")
def bundled():
    return data.load_dataset()


def test_copies_and_shifted_copies_join_one_group():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 600))
    waves = list(base) + [np.roll(base[1], 3), -base[2], rng.standard_normal(600)]
    ds = data.Dataset.from_arrays(waves, [0, 0, 0, 0, 0, 0, 1], ["a", "b"], 96000)
    g = duplicates.near_duplicate_groups(ds, duplicates.DuplicateConfig(threshold=0.9))
    assert g[4] == g[1] and g[5] == g[2] and g[0] != g[1] and g[3] != g[2]
    assert len(set(g.tolist())) == 5
    assert duplicates.group_sizes(g) == {"groups": 5, "largest": 2, "singletons": 3}
    with pytest.raises(ValueError, match="threshold"):
        duplicates.DuplicateConfig(threshold=1.5)


def test_bundled_near_duplicates_stay_on_one_side_of_every_fold(bundled):
    config = duplicates.DuplicateConfig(threshold=0.8, neighbour_threshold=0.6)
    g = duplicates.near_duplicate_groups(bundled, config)
    sim = duplicates.best_match_matrix(bundled, config.length)
    i, j = np.nonzero(sim > config.threshold)
    assert i.size > 0 and np.all(g[i] == g[j])
    # the matrix is the peak |xcorr| of the pair
    a, b = int(i[0]), int(j[0])
    peak = pairwise.xcorr_coeff(bundled.waveforms[a][:1999], bundled.waveforms[b][:1999], 1).peak
    assert sim[a, b] == pytest.approx(abs(peak), abs=1e-9)
    for tr, te in data.repeated_stratified_kfold(bundled.labels, 5, 2, 0, groups=g):
        assert np.intersect1d(g[tr], g[te]).size == 0
        assert min(np.bincount(bundled.labels[te], minlength=2)) >= 5


def test_fold_groups_random_keeps_recordings_grouped_keeps_near_duplicates(bundled):
    np.testing.assert_array_equal(duplicates.fold_groups(bundled, "random"), bundled.groups)
    grouped = duplicates.fold_groups(bundled, "grouped")
    np.testing.assert_array_equal(grouped, duplicates.near_duplicate_groups(bundled))
    assert duplicates.group_sizes(grouped)["groups"] < len(bundled)
    with pytest.raises(ValueError, match="folds must be one of"):
        duplicates.fold_groups(bundled, "nearby")


def test_honest_protocol_grouped_folds_keep_near_duplicates_together():
    from drill_jax.evaluation import protocols

    ds = data.load_dataset()
    keep = np.concatenate([np.flatnonzero(ds.labels == c)[:20] for c in (0, 1)])
    ds = ds.subset(keep)
    groups = duplicates.near_duplicate_groups(ds)
    assert duplicates.group_sizes(groups)["largest"] > 1
    config = protocols.ProtocolConfig(folds="grouped", n_splits=3, n_repeats=1, augment="mixup")
    _, _, _, folds = protocols.prepare_folds(ds, config)
    for train_fs, test_fs, _, extra in folds:
        tr = np.flatnonzero(np.isin(ds.groups, train_fs.origin))
        te = np.flatnonzero(np.isin(ds.groups, test_fs.origin))
        assert np.intersect1d(groups[tr], groups[te]).size == 0
        assert extra["leak_check"] == "passed" and train_fs.synthetic.any()
    with pytest.raises(ValueError, match="folds must be one of"):
        protocols.ProtocolConfig(folds="nearby")
