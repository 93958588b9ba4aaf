"""Honest evaluation of saved-detector recipes: every model trained as it is deployed, scored
on sounds it never saw.

Repeated stratified k-fold over the real sounds (grouped by recording). Per fold every model
of ``HonestConfig.models`` is trained by ``build.train`` on the training folds only (label-free
models on their NORMAL sounds only, thresholds from normal training recordings they were not
fitted on), and the held-out normal + held-out anomaly sounds (first clip of each) are scored.
ROC-AUC and pAUC (FPR <= 0.1; sklearn ``roc_auc_score(max_fpr=0.1)``, McClish-standardised:
0.5 = chance), TPR / FPR at the detector's own window threshold, per fold and as mean +- 95 %
CI.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional

from absl import logging

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.detection import build, registry, scoring
from drill_jax.evaluation import examples, metrics

METRICS = ("roc_auc", "pauc", "tpr", "fpr", "accuracy")


@dataclasses.dataclass(frozen=True)
class HonestConfig:
    """The folds and the models compared on them.

    Attributes:
      n_splits, n_repeats: repeated stratified k-fold (grouped by recording).
      seed: fold assignment (each fold trains with TrainConfig.seed plus its number).
      models: registry names evaluated on the same folds.
    """

    n_splits: int = 5
    n_repeats: int = 2
    seed: int = 0
    models: tuple[str, ...] = tuple(registry.MODELS)

    def __post_init__(self):
        for name in self.models:
            registry.get(name)


def _fold(ds, tr, te, clips, settings, configs, train, k) -> dict:
    """Every model trained on ``ds.subset(tr)`` and scored on the first clips of ``te``."""
    is_anom = build.anomaly_mask(ds)
    tr_normal = tr[~is_anom[tr]]
    examples.assert_no_leak(ds.groups[tr], ds.groups[te])
    fold = {"fold": k, "n_train_normal": int(tr_normal.size), "n_test": int(te.size)}
    fold.update(n_test_anomaly=int(is_anom[te].sum()), leak_check="passed")
    train = dataclasses.replace(train, seed=train.seed + k)
    for name, config in configs.items():
        t0 = time.perf_counter()
        det = build.train(ds.subset(tr), name, config, settings, train)
        m = metrics.detection_metrics(
            is_anom[te], scoring.score_clips(det, clips[te]), det.threshold
        )
        fold[name] = dict(m, threshold=det.threshold, seconds=time.perf_counter() - t0)
    return fold


_TRAIN, _HONEST = build.TrainConfig(), HonestConfig()


def evaluate_honest(
    ds: data_lib.Dataset,
    settings: features.FeatureSettings,
    configs: Optional[dict] = None,
    train: build.TrainConfig = _TRAIN,
    honest: HonestConfig = _HONEST,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Repeated stratified k-fold evaluation of every model of ``honest.models`` (see the
    module docstring). ``configs``: {model name: its Config} (default: each model's
    defaults); ``train``: clips, hold-out and thresholds of every model (each sound is cut
    to ``train.clip_samples``, default the shortest sound: the clip-length confound cannot
    help). Returns {'label', 'pauc_definition', 'detectors', 'config', 'folds', 'summary':
    {model: {metric: mean_ci}}}."""
    say = progress or (lambda msg: logging.info("%s", msg))
    if len(ds.class_names) != 2 or not build.anomaly_mask(ds).any():
        raise ValueError("the honest evaluation needs two classes, one of them the anomaly class")
    train = dataclasses.replace(train, clip_samples=int(train.clip_samples or ds.lengths.min()))
    configs = {n: (configs or {}).get(n) or registry.get(n).Config() for n in honest.models}
    clips = data_lib.crop_sounds(ds.waveforms, train.clip_samples, ds.paths)
    settings = dataclasses.replace(settings, clip_samples=train.clip_samples)
    splits = data_lib.repeated_stratified_kfold(
        ds.labels, honest.n_splits, honest.n_repeats, honest.seed, ds.groups
    )
    folds = []
    for k, (tr, te) in enumerate(splits):
        folds.append(_fold(ds, tr, te, clips, settings, configs, train, k))
        aucs = ", ".join(f"{n} {folds[-1][n].get('roc_auc', float('nan')):.3f}" for n in configs)
        say(f"fold {k + 1}/{len(splits)} ROC-AUC: {aucs}")
    summary = {
        name: {m: metrics.mean_ci([f[name].get(m, float("nan")) for f in folds]) for m in METRICS}
        for name in configs
    }
    return {
        "label": "honest protocol: repeated stratified k-fold over real sounds (grouped by "
        "recording); each model trained on the training folds only (label-free models on their "
        "NORMAL sounds only); held-out normal + held-out anomaly sounds scored",
        "pauc_definition": metrics.PAUC_DEFINITION,
        "detectors": {
            n: f"{registry.get(n).KIND} {n}: {registry.get(n).SCORE_MEANING}" for n in configs
        },
        "config": {
            "train": dataclasses.asdict(train),
            "honest": dataclasses.asdict(honest),
            "models": {n: registry.config_to_json(c) for n, c in configs.items()},
        },
        "folds": folds,
        "summary": summary,
    }


def summary_text(result: dict) -> str:
    """One line per model: ROC-AUC [95 % CI], pAUC, TPR and FPR at its own threshold."""
    lines = []
    for name, s in result["summary"].items():
        auc = s["roc_auc"]
        lines.append(
            f"{name:16s} ROC-AUC {auc['mean']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]  "
            f"pAUC {s['pauc']['mean']:.3f}  TPR {s['tpr']['mean']:.3f} FPR {s['fpr']['mean']:.3f}"
        )
    return "\n".join(lines + ["pAUC: " + result["pauc_definition"]])
