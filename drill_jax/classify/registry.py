"""The supervised backbones by name: the only place a backbone name becomes a module.

Every backbone module (``classify.backbones.*``) exports:

* ``Config``: a frozen dataclass of its settings;
* ``READS``: the ``DetectorConfig`` fields it takes (the others must keep their defaults);
* ``configure(config, detector) -> Config``: its config with the detector's fields applied;
* ``seconds_per_fit(config) -> float``: rough seconds of one fit on a 2-core CPU;
* ``make_fit_predict(config)`` -> ``fit_predict(train_fs, test_fs, seed)`` -> probabilities
  [N_test, C] (or (probabilities, what it chose)), on ``evaluation.examples.FeatureSet``s;
* optionally ``make_fit_predict_folds(config)`` -> a function fitting every fold at once
  ([(train_fs, test_fs, seed), ...] -> [probabilities, ...]) or None.

A new backbone is one such module plus one line in ``BACKBONES``: its name, its module and
its default ``Config``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

from drill_jax.classify import bridge
from drill_jax.classify.backbones import clip, cnn_svm, jax_cnn, logreg, torchvision_cnn


class Entry(NamedTuple):
    """A registered backbone: its module and default config."""

    module: object
    config: object


BACKBONES = {
    "jax_cnn": Entry(jax_cnn, jax_cnn.Config()),
    "logreg": Entry(logreg, logreg.Config()),
    "clip_lr": Entry(clip, clip.LR),
    "clip_svm": Entry(clip, clip.SVM),
    "clip_ensemble": Entry(clip, clip.ENSEMBLE),
    "auto": Entry(clip, clip.Config()),
    "cnn_svm": Entry(cnn_svm, cnn_svm.Config()),
    **{net: Entry(torchvision_cnn, torchvision_cnn.Config(net)) for net in bridge.NETS},
}
TORCH_BACKBONES = bridge.NETS
# Fitted in this process without torch.
JAX_BACKBONES = tuple(name for name in BACKBONES if name not in TORCH_BACKBONES)


def get(name: str) -> Entry:
    """The registered backbone ``name``; a ValueError listing the names for any other."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; one of {sorted(BACKBONES)}") from None


@dataclasses.dataclass(frozen=True)
class DetectorConfig(torchvision_cnn.TorchSettings):
    """Which backbone, and the settings a user may change (each backbone takes those in its
    module's ``READS``; the others must stay at their defaults): the torchvision nets'
    ``TorchSettings`` (keyword only) and

    Attributes:
      backbone: which backbone (a name in ``classify.registry.BACKBONES``).
      epochs: training epochs (None = the backbone's default).
      batch_folds: jax_cnn: fit every fold of an evaluation together, vmapped over folds
        (None = on accelerators only).
    """

    backbone: str = "jax_cnn"
    epochs: Optional[int] = None
    batch_folds: Optional[bool] = None

    def __post_init__(self):
        super().__post_init__()
        reads = get(self.backbone).module.READS
        ignored = [
            f.name
            for f in dataclasses.fields(self)
            if f.name != "backbone" and f.name not in reads and getattr(self, f.name) != f.default
        ]
        if ignored:
            raise ValueError(f"backbone {self.backbone!r} takes no {', '.join(ignored)}")


def backbone_config(detector: DetectorConfig):
    """The typed config of the detector's backbone (its entry's, with the detector's fields)."""
    entry = get(detector.backbone)
    return entry.module.configure(entry.config, detector)


def make_fit_predict(detector: DetectorConfig):
    """fit_predict(train_fs, test_fs, seed) -> probabilities [N_test, C] for ``detector``."""
    return get(detector.backbone).module.make_fit_predict(backbone_config(detector))


def make_fit_predict_folds(detector: DetectorConfig):
    """A function fitting every fold at once, or None where the backbone has none (or it is
    switched off)."""
    batched = getattr(get(detector.backbone).module, "make_fit_predict_folds", None)
    return None if batched is None else batched(backbone_config(detector))


def seconds_per_fit(detector: DetectorConfig) -> float:
    """Rough seconds of one fit of ``detector`` on a 2-core CPU."""
    return get(detector.backbone).module.seconds_per_fit(backbone_config(detector))
