"""Tests for drill_jax.data.splits: disjoint, covering, stratified, grouped, reproducible."""

import numpy as np
import pytest

from drill_jax import data


def _labels():
    return np.repeat([0, 1], 67)


def test_paper_vae_split_counts_and_positions():
    tr, te = data.paper_vae_split(_labels())
    assert len(tr) == 68 and len(te) == 66
    assert np.bincount(_labels()[tr]).tolist() == [34, 34]
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(134))
    assert tr[:3].tolist() == [0, 2, 4] and te[:2].tolist() == [1, 3]
    assert 67 in tr  # first normal sound sits at position 0 of its class


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_holdout_disjoint_stratified_reproducible(seed):
    y = _labels()
    tr, te = data.stratified_holdout(y, 0.3, seed)
    assert np.intersect1d(tr, te).size == 0 and len(tr) + len(te) == y.size
    assert np.bincount(y[te]).tolist() == [20, 20]
    tr2, te2 = data.stratified_holdout(y, 0.3, seed)
    np.testing.assert_array_equal(te, te2)
    _, te3 = data.stratified_holdout(y, 0.3, seed + 100)
    assert not np.array_equal(te, te3)


def test_holdout_keeps_groups_together():
    y = np.repeat([0, 1], 30)
    groups = np.arange(60) // 3  # 3 clips per recording
    tr, te = data.stratified_holdout(y, 0.3, 3, groups)
    assert np.intersect1d(groups[tr], groups[te]).size == 0
    assert np.bincount(y[te]).tolist() == [9, 9]


@pytest.mark.parametrize("seed", [0, 5])
def test_kfold_covers_each_item_once_per_repeat(seed):
    y = _labels()
    folds = data.repeated_stratified_kfold(y, 5, 2, seed)
    assert len(folds) == 10
    for r in range(2):
        tested = np.concatenate([te for _, te in folds[r * 5 : (r + 1) * 5]])
        np.testing.assert_array_equal(np.sort(tested), np.arange(134))
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and len(tr) + len(te) == 134
        counts = np.bincount(y[te], minlength=2)
        assert abs(counts[0] - counts[1]) <= 1
    again = data.repeated_stratified_kfold(y, 5, 2, seed)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not np.array_equal(folds[0][1], folds[5][1])  # repeats reshuffle


def test_kfold_groups_never_straddle():
    y = np.repeat([0, 1], 40)
    groups = np.arange(80) // 4
    for tr, te in data.repeated_stratified_kfold(y, 4, 2, 0, groups):
        assert np.intersect1d(groups[tr], groups[te]).size == 0


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="mixes classes"):
        data.stratified_holdout([0, 1], 0.5, 0, groups=[0, 0])
    with pytest.raises(ValueError, match="fewer than"):
        data.repeated_stratified_kfold([0, 0, 1, 1], 3)
    with pytest.raises(ValueError, match="test_fraction"):
        data.stratified_holdout([0, 1, 0, 1], 1.5)


def test_linked_groups_are_connected_components_within_a_class():
    y = np.array([0, 0, 0, 1, 1, 0])
    links = np.zeros((6, 6), bool)
    links[0, 2] = links[2, 5] = True  # 0-2-5 chain (one direction is enough)
    g = data.splits.linked_groups(links, y)
    np.testing.assert_array_equal(g, [0, 1, 0, 2, 3, 0])
    # existing groups (clips of one recording) merge with the links
    g2 = data.splits.linked_groups(links, y, groups=[7, 7, 8, 9, 9, 10])
    np.testing.assert_array_equal(g2, [0, 0, 0, 1, 1, 0])
    links[0, 3] = True
    with pytest.raises(ValueError, match="different classes"):
        data.splits.linked_groups(links, y)
    with pytest.raises(ValueError, match="links must be"):
        data.splits.linked_groups(np.zeros((2, 2), bool), y)


def test_file_numbers_and_neighbour_links():
    paths = ["/d/normal/normal_39.wav", "/d/normal/normal_41.wav", "/d/anomaly/fault_41.wav"]
    nums = data.splits.file_numbers(paths)
    np.testing.assert_array_equal(nums, [39, 41, 41])
    near = data.splits.neighbour_links(nums, [1, 1, 0])
    assert near[0, 1] and near[1, 0] and not near[1, 2] and not near.diagonal().any()
    with pytest.raises(ValueError, match="no number"):
        data.splits.file_numbers(["/d/normal/a.wav"])


def test_grouped_kfold_never_splits_a_linked_group():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    links = (rng.random((80, 80)) < 0.02) & (y[:, None] == y[None, :])
    g = data.splits.linked_groups(links, y)
    assert np.bincount(g).max() > 2  # some groups are larger than a pair
    for tr, te in data.repeated_stratified_kfold(y, 5, 2, 0, groups=g):
        assert np.intersect1d(g[tr], g[te]).size == 0
