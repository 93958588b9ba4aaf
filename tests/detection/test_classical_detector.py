"""The clip_classical detector: array export parity, save/load, scoring, label-free scorers."""

import numpy as np
import pytest
import sklearn.covariance
import sklearn.metrics
import sklearn.mixture

from drill_jax import data
from drill_jax.classify import classical
from drill_jax.detection import build, labelfree, registry, scoring
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.models import clip_classical, gmm, knn, mahalanobis, zscore
from drill_jax.features import FeatureSettings

SR = 16000


def _sounds(n, seed):
    """Class 0 'anomaly': a 2 kHz tone in noise; class 1 'normal': noise. 4000 samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(4000) / SR
    labels = np.arange(n) % 2
    waves = [
        (0.4 * np.sin(2 * np.pi * 2000 * t) * (1 - y) + 0.2 * rng.normal(size=4000)).astype(
            np.float32
        )
        for y in labels
    ]
    return waves, labels


def _dataset(n, seed):
    waves, labels = _sounds(n, seed)
    return data.Dataset.from_arrays(waves, labels, ("anomaly", "normal"), SR)


@pytest.mark.parametrize("model", classical.MODELS)
def test_exported_arrays_give_scikit_learns_probabilities(model):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)), np.arange(50) % 2
    x[:, 1] += y
    recipe = classical.Recipe("all", model)
    fitted = classical.fit_many([recipe], {"all": x}, y)
    xt = rng.normal(size=(20, 6))
    want = classical.predict_many(fitted, {"all": xt})
    got = classical.predict_arrays(classical.export_arrays(fitted), [recipe], {"all": xt})
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_classical_detector_trains_saves_loads_and_scores_the_same(tmp_path):
    ds = _dataset(24, 0)
    settings = FeatureSettings(sample_rate=SR, band_hz=None)
    train = build.TrainConfig(clip_samples=2000, train_hop=1000)
    det = build.train(ds, "clip_classical", clip_classical.Config(), settings, train)
    assert det.model == "clip_classical" and len(det.model_config.recipes) == 3
    assert det.info["n_train_clips"] == 24 * 3  # windows at 0, 1000, 2000 of 4000 samples
    assert set(det.info["recipe"]["recipes"]) <= set(det.info["recipe"]["inner"])
    test_waves, test_labels = _sounds(10, 1)
    clips = np.stack([w[:2000] for w in test_waves])
    scores = scoring.score_clips(det, clips)
    assert sklearn.metrics.roc_auc_score(test_labels == 0, scores) == 1.0
    detector_lib.save_detector(str(tmp_path / "det"), det)
    loaded = detector_lib.load_detector(str(tmp_path / "det"))
    assert loaded.model_config == det.model_config
    np.testing.assert_array_equal(scoring.score_clips(loaded, clips), scores)


def test_loading_rejects_arrays_that_do_not_match_the_recipes(tmp_path):
    settings = FeatureSettings(sample_rate=SR, band_hz=None)
    config = clip_classical.Config(recipes=(classical.Recipe("shape", "lr"),))
    det = build.train(_dataset(16, 0), "clip_classical", config, settings)
    wrong = detector_lib.Detector(**{**det.__dict__, "variables": {"r0": {"svm": {}}}})
    detector_lib.save_detector(str(tmp_path / "bad"), wrong)
    with pytest.raises(ValueError, match=r"recipe 0 \(lr"):
        detector_lib.load_detector(str(tmp_path / "bad"))


@pytest.mark.parametrize("name", sorted(registry.label_free()))
def test_label_free_scorers_rank_outliers_above_normals(name):
    # Normal sounds vary in the first half of the features, outliers in the second half.
    rng = np.random.default_rng(0)

    def draw(n, d, outlier):
        scale = np.where((np.arange(d) < d // 2) != outlier, 1.0, 0.1)
        return rng.normal(size=(n, d)) * scale * (3.0 if outlier else 1.0)

    normal = {"logmel64": draw(40, 12, False), "shape": draw(40, 6, False)}
    test = {
        k: np.concatenate([draw(10, d, False), draw(10, d, True)])
        for k, d in (("logmel64", 12), ("shape", 6))
    }
    module = registry.get(name)
    config = module.Config()
    state = module.fit_features(config, normal[config.features])
    assert all(isinstance(v, np.ndarray) for v in state.values())  # arrays only: saveable
    scores = module.score_features(state, test[config.features])
    assert scores.shape == (20,)
    assert sklearn.metrics.roc_auc_score(np.arange(20) >= 10, scores) > 0.95


def test_zscore_scorer_known_value():
    state = zscore.fit_features(zscore.Config(), np.array([[0.0, 1.0], [2.0, 3.0]]))  # mean (1, 2)
    np.testing.assert_allclose(zscore.score_features(state, np.array([[3.0, 2.0]])), [2.0])


def test_knn_scorer_known_value():
    # centred on the mean (1, 1): refs (-1, -1)/sqrt2 and (1, 1)/sqrt2; query (2, 1) -> (1, 0)
    state = knn.fit_features(knn.Config(k=1), np.array([[0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(knn.score_features(state, np.array([[2.0, 1.0]])), [1 - 0.5**0.5])


def test_label_free_scorers_reject_bad_features():
    with pytest.raises(ValueError, match="non-finite"):
        knn.fit_features(knn.Config(), np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match=">= 2 normal"):
        zscore.fit_features(zscore.Config(), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"expected \[N >= 1, D\]"):
        gmm.score_features({}, np.ones(3))
    with pytest.raises(ValueError) as err:
        labelfree.clip_features("mfcc", np.zeros((2, 4000)), FeatureSettings(SR, band_hz=None))
    assert "\n" not in str(err.value) and "['logmel64', 'shape']" in str(err.value)
    with pytest.raises(ValueError, match="unknown label-free feature set 'mfcc'"):
        knn.Config(features="mfcc")


def test_stored_gmm_and_mahalanobis_agree_with_scikit_learn():
    rng = np.random.default_rng(2)
    x, xt = rng.normal(size=(60, 5)), rng.normal(size=(10, 5)) * 2
    state = mahalanobis.fit_features(mahalanobis.Config(), x)
    z = (x - state["mean"]) / state["std"]
    lw = sklearn.covariance.LedoitWolf().fit(z)
    want = lw.mahalanobis((xt - state["mean"]) / state["std"])
    np.testing.assert_allclose(mahalanobis.score_features(state, xt), want, rtol=1e-9)
    state = gmm.fit_features(gmm.Config(), x)
    zt = ((xt - state["mean"]) / state["std"] - state["pca_mean"]) @ state["pca_components"].T
    mixture = sklearn.mixture.GaussianMixture(2, covariance_type="diag", random_state=0)
    pca_z = (z - state["pca_mean"]) @ state["pca_components"].T
    mixture.fit(pca_z)
    np.testing.assert_allclose(
        gmm.score_features(state, xt), -mixture.score_samples(zt), rtol=1e-9
    )
