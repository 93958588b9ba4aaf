"""Classical detectors on clip features, the nested choice, and their input checks."""

import numpy as np
import pytest
import sklearn.metrics

from drill_jax.classify import classical, registry
from drill_jax.evaluation import examples
from drill_jax.features import clipstats
from tests.classify.clips import feature_set


def _blobs(n=60, d=8, shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, d))
    x[:, 0] += shift * y
    return x, y


@pytest.mark.parametrize("model", classical.MODELS)
def test_each_model_separates_separable_classes(model):
    x, y = _blobs()
    xt, yt = _blobs(seed=1)
    fitted = classical.fit(classical.Recipe("all", model), x, y)
    p = classical.predict_positive(fitted, xt)
    assert p.shape == (60,) and np.all((p > 0) & (p < 1))
    assert sklearn.metrics.roc_auc_score(yt, p) > 0.9


def test_ensemble_is_the_mean_of_its_two_models():
    x, y = _blobs()
    r = classical.Recipe("all", "ensemble", lr_c=0.1, svm_c=3.0)
    both = classical.predict_positive(classical.fit(r, x, y), x)
    lr = classical.predict_positive(classical.fit(classical.Recipe("all", "lr", lr_c=0.1), x, y), x)
    svm = classical.predict_positive(
        classical.fit(classical.Recipe("all", "svm", svm_c=3.0), x, y), x
    )
    np.testing.assert_allclose(both, (lr + svm) / 2, rtol=1e-12)


def test_choose_recipe_prefers_the_informative_features():
    x, y = _blobs(n=80, shift=3.0)
    noise = np.random.default_rng(5).normal(size=x.shape)
    groups = np.arange(80)
    candidates = (classical.Recipe("logmel", "lr"), classical.Recipe("all", "lr"))
    best, table = classical.choose_recipes(
        {"all": x, "logmel": noise}, y, groups, candidates, top=1
    )
    assert best == [candidates[1]]
    assert [name for name, _ in table] == [c.name for c in candidates]
    assert table[1][1]["balanced_accuracy"] > table[0][1]["balanced_accuracy"] + 0.2


def test_fit_rejects_one_class_and_non_finite_features():
    x, y = _blobs()
    with pytest.raises(ValueError, match="both classes"):
        classical.fit(classical.Recipe(), x, np.zeros_like(y))
    x[0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        classical.fit(classical.Recipe(), x, y)


def test_classical_backbones_refuse_features_without_their_sounds():
    train, test = feature_set(20, 0), feature_set(6, 1)
    no_sounds = examples.take_features(train, np.arange(20))
    no_sounds = examples.FeatureSet(
        no_sounds.log_mel,
        no_sounds.frames,
        no_sounds.labels,
        no_sounds.lengths,
        no_sounds.origin,
        no_sounds.synthetic,
    )
    fit_predict = registry.make_fit_predict(registry.DetectorConfig(backbone="clip_svm"))
    with pytest.raises(ValueError, match="need the training sounds"):
        fit_predict(no_sounds, test, 0)


def test_variant_columns_of_the_full_features_equal_each_variant_computed_alone():
    clips = np.random.default_rng(4).normal(size=(3, 4000))
    got = classical.variant_features(clips, 96000, (1000.0, 22000.0), classical.FEATURE_VARIANTS)
    for v in classical.FEATURE_VARIANTS:
        alone = clipstats.clip_stats(classical.stats_settings(v, 96000, (1000.0, 22000.0)), clips)
        np.testing.assert_allclose(got[v], alone, rtol=1e-12)
        np.testing.assert_allclose(
            classical.clip_features(v, list(clips), 96000, (1000.0, 22000.0)), alone, rtol=1e-12
        )


def test_a_memo_computes_each_clip_once_and_changes_nothing():
    clips = list(np.random.default_rng(5).normal(size=(4, 2000)))
    memo = {}
    with_memo = classical.variant_features(clips[:3], 16000, None, ("shape",), memo)
    assert len(memo) == 3
    again = classical.variant_features(clips, 16000, None, ("shape", "all"), memo)
    assert len(memo) == 4  # only the new clip was computed
    plain = classical.variant_features(clips, 16000, None, ("shape", "all"))
    np.testing.assert_allclose(with_memo["shape"], plain["shape"][:3], rtol=1e-9)
    np.testing.assert_allclose(again["all"], plain["all"], rtol=1e-9, atol=1e-12)


def test_recipe_models_name_what_it_fits():
    assert classical.Recipe(model="ensemble").models == ("lr", "svm")
    assert classical.Recipe(model="lr").models == ("lr",)
