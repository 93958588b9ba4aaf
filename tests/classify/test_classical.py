"""Classical detectors on clip features, the nested choice, and the backbone wrapper."""

import numpy as np
import pytest
import sklearn.metrics

from drill_jax.classify import backbones, classical
from drill_jax.evaluation import examples
from drill_jax.features import FeatureSettings, clipstats


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


def _feature_set(n, seed, sr=16000):
    """Two classes of 2000-sample clips: class 0 a noisy 2 kHz tone, class 1 white noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    t = np.arange(2000) / sr
    waves = tuple(
        (np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.3 * rng.normal(size=2000)).astype(np.float32)
        for y in labels
    )
    ex = examples.Examples(waves, labels, np.arange(n) + 1000 * seed, np.zeros(n, bool))
    return examples.make_features(ex, FeatureSettings(sample_rate=sr, band_hz=None))


def test_auto_backbone_chooses_on_the_training_side_and_reports_it():
    train, test = _feature_set(30, 0), _feature_set(10, 1)
    fit_predict = backbones.make_fit_predict(backbones.DetectorConfig(backbone="auto"))
    proba, info = fit_predict(train, test, 0)
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(proba.argmax(axis=1) == test.labels) == 1.0
    assert len(info["recipes"]) == 3 and set(info["recipes"]) <= set(info["inner"])
    assert len(info["inner"]) == len(classical.CANDIDATES)
    ranked = sorted(info["inner"].values(), key=lambda s: -s["roc_auc"])
    assert info["inner"][info["recipes"][0]]["roc_auc"] == ranked[0]["roc_auc"]
    # Same seed, same result.
    np.testing.assert_array_equal(fit_predict(train, test, 0)[0], proba)


def test_classical_backbones_refuse_features_without_their_sounds():
    train, test = _feature_set(20, 0), _feature_set(6, 1)
    no_sounds = examples.take_features(train, np.arange(20))
    no_sounds = examples.FeatureSet(
        no_sounds.log_mel,
        no_sounds.frames,
        no_sounds.labels,
        no_sounds.lengths,
        no_sounds.origin,
        no_sounds.synthetic,
    )
    fit_predict = backbones.make_fit_predict(backbones.DetectorConfig(backbone="clip_svm"))
    with pytest.raises(ValueError, match="needs the training sounds"):
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


def test_cnn_svm_is_the_mean_of_the_svm_and_a_valid_cnn_probability():
    train, test = _feature_set(30, 0), _feature_set(10, 1)
    both = backbones.make_fit_predict(backbones.DetectorConfig(backbone="cnn_svm", epochs=2))
    svm = backbones.make_fit_predict(backbones.DetectorConfig(backbone="clip_svm"))
    p = both(train, test, 0)
    cnn_part = 2 * p - svm(train, test, 0)
    assert p.shape == (10, 2)
    np.testing.assert_allclose(cnn_part.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(cnn_part > -1e-6) and np.all(cnn_part < 1 + 1e-6)
