"""The backbone registry: every JAX/classical backbone fits and predicts valid, repeatable
probabilities; names, configs and unknown names behave."""

import dataclasses

import numpy as np
import pytest

from drill_jax.classify import classical, registry
from tests.classify.clips import feature_set

pytestmark = pytest.mark.quick_compile  # tiny fits: compiling is most of the time

# Tiny training where a backbone trains for epochs.
_EPOCHS = {"jax_cnn": 3, "cnn_svm": 3}


@pytest.fixture(scope="module")
def sides():
    return feature_set(24, 0), feature_set(8, 1)


@pytest.fixture(scope="module")
def fitted(sides):
    """fitted(name) -> (first, second): two fresh fits of the backbone with seed 0, each
    its probabilities on the held-out side (or (probabilities, what it chose)); computed
    once per module."""
    done = {}

    def get(name):
        if name not in done:
            detector = registry.DetectorConfig(name, epochs=_EPOCHS.get(name))
            done[name] = [registry.make_fit_predict(detector)(*sides, 0) for _ in range(2)]
        return done[name]

    return get


def _proba(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", registry.JAX_BACKBONES)
def test_every_backbone_fits_and_predicts_valid_repeatable_probabilities(name, sides, fitted):
    first, second = fitted(name)
    proba = _proba(first)
    assert proba.shape == (len(sides[1].labels), 2)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(_proba(second), proba)
    assert registry.seconds_per_fit(registry.DetectorConfig(name)) > 0


def test_auto_chooses_on_the_training_side_and_reports_it(sides, fitted):
    proba, info = fitted("auto")[0]
    assert np.mean(proba.argmax(axis=1) == sides[1].labels) == 1.0
    assert len(info["recipes"]) == 3 and set(info["recipes"]) <= set(info["inner"])
    assert len(info["inner"]) == len(classical.CANDIDATES)
    ranked = sorted(info["inner"].values(), key=lambda s: -s["roc_auc"])
    assert info["inner"][info["recipes"][0]]["roc_auc"] == ranked[0]["roc_auc"]


def test_cnn_svm_is_the_mean_of_the_svm_and_a_valid_cnn_probability(fitted):
    cnn_part = 2 * fitted("cnn_svm")[0] - fitted("clip_svm")[0]
    np.testing.assert_allclose(cnn_part.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(cnn_part > -1e-6) and np.all(cnn_part < 1 + 1e-6)


def test_every_name_has_a_module_with_the_family_functions_and_its_config():
    for name, entry in registry.BACKBONES.items():
        for attr in ("Config", "READS", "configure", "seconds_per_fit", "make_fit_predict"):
            assert hasattr(entry.module, attr), (name, attr)
        assert isinstance(entry.config, entry.module.Config)
        assert set(entry.module.READS) <= {f.name for f in dataclasses.fields(registry.DetectorConfig)}
    assert set(registry.TORCH_BACKBONES) | set(registry.JAX_BACKBONES) == set(registry.BACKBONES)


def test_an_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(ValueError, match="unknown backbone 'resnet'") as err:
        registry.DetectorConfig("resnet")
    assert "\n" not in str(err.value) and all(n in str(err.value) for n in registry.BACKBONES)


def test_a_setting_the_backbone_does_not_take_is_refused():
    with pytest.raises(ValueError, match="'clip_svm' takes no epochs"):
        registry.DetectorConfig("clip_svm", epochs=5)
    with pytest.raises(ValueError, match="'jax_cnn' takes no weights, freeze"):
        registry.DetectorConfig("jax_cnn", weights="imagenet", freeze=2)


def test_the_detector_settings_reach_the_backbone_config():
    cnn = registry.backbone_config(registry.DetectorConfig("jax_cnn", epochs=7, batch_folds=True))
    assert cnn.network.epochs == 7 and cnn.batch_folds is True
    net = registry.backbone_config(registry.DetectorConfig("vgg16", epochs=2, weights="imagenet"))
    assert (net.net, net.epochs, net.weights) == ("vgg16", 2, "imagenet")
    svm = registry.backbone_config(registry.DetectorConfig("clip_svm"))
    assert svm.recipes == (classical.Recipe("all", "svm", svm_c=10.0),)


def test_batched_folds_only_where_the_backbone_has_them():
    assert registry.make_fit_predict_folds(registry.DetectorConfig("logreg")) is None
    off = registry.DetectorConfig("jax_cnn", batch_folds=False)
    assert registry.make_fit_predict_folds(off) is None
    on = registry.DetectorConfig("jax_cnn", batch_folds=True)
    assert callable(registry.make_fit_predict_folds(on))
