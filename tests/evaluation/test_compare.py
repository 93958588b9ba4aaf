"""The detector comparison: same folds for every row, candidates scored on those folds."""

import pytest

from drill_jax import data
from drill_jax.classify import classical, registry
from drill_jax.evaluation import compare, protocols


@pytest.fixture(scope="module")
def bundled():
    return data.load_dataset()


def test_candidates_are_scored_on_the_same_folds_as_the_backbones(bundled, monkeypatch):
    monkeypatch.setattr(classical, "CANDIDATES", registry.get("clip_svm").config.recipes)
    config = protocols.ProtocolConfig(n_splits=2, n_repeats=1, crop=2000)
    out = compare.compare_detectors(bundled, config, ("clip_svm", "logreg"))
    assert [r["backbone"] for r in out["rows"]] == ["clip_svm", "logreg"]
    assert out["rows"][0]["chance"] == out["rows"][1]["chance"]  # same folds, same baselines
    (cand,) = out["candidates"]
    row = out["results"]["clip_svm"]["summary"]["metrics"]
    assert cand["balanced_accuracy"] == pytest.approx(row["balanced_accuracy"]["mean"])
    assert cand["roc_auc"] == pytest.approx(row["roc_auc"]["mean"])
    assert 0.5 < cand["roc_auc"] <= 1.0
    assert "chosen on the test folds" in compare.candidates_markdown(out["candidates"])


def test_candidate_rows_refuse_augmented_or_paper_protocols(bundled):
    with pytest.raises(ValueError, match="honest protocol without augmentation"):
        compare.candidate_rows(bundled, protocols.ProtocolConfig(protocol="paper"))
