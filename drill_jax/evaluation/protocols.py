"""Evaluation protocols: the paper's 70/30 split of the augmented set, and the honest one.

``honest`` (default everywhere): repeated stratified k-fold over the ORIGINAL sounds. In
each fold every augmentation (the VAEs included) is fitted on that fold's training sounds
only, what it makes is added to the training side only, and scores come from real
held-out sounds only. ``examples.assert_no_leak`` checks it for every fold.

``paper``: what the paper did. Synthetic sounds are made once (VAE per class trained on the
paper's train list, decoded from posterior samples around TEST-list sounds, as the authors'
code did), mixed with the originals, and the mixture is split 70/30 at random: near-copies
of one sound can sit on both sides. Results carry the label
"paper protocol (synthetic sounds can appear in validation)".

Every item carries an ``origin``: the group id of the real sound it is or was made from
(-1 for a sound made from a whole training side, e.g. VAE prior samples).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from typing import Callable, Optional

import jax
import numpy as np
from absl import logging

from drill_jax import data as data_lib
from drill_jax import features
from drill_jax.classify import baselines
from drill_jax.evaluation import augment, examples, metrics
from drill_jax.similarity import duplicates
from drill_jax.vae import generators, trainer

PROTOCOLS = ("honest", "paper")
PAPER_LABEL = "paper protocol (synthetic sounds can appear in validation)"
HONEST_LABEL = "honest protocol (k-fold over real sounds; augmentation fitted on training folds)"
BASELINES = ("chance", "majority", "clip_length")


@dataclasses.dataclass(frozen=True)
class ProtocolConfig:
    """How a classifier is evaluated.

    Attributes:
      protocol: 'honest' or 'paper'.
      n_splits, n_repeats: honest protocol folds (default 5 x 4).
      paper_splits: number of random 70/30 splits scored under the paper protocol (the
        paper used one; more give a confidence interval).
      test_fraction: held-out fraction of the paper protocol.
      dataset: 'original' (real sounds only) or 'augmented' (paper protocol: originals +
        synthesized; honest protocol: synthesized added to training folds).
      augment: 'none', 'vae', 'classic', 'specaugment', 'mixup'.
      n_add_per_class: examples added per class by the augmentation (paper: 48).
      crop: if set, every real clip is cut to its first ``crop`` samples first (removes
        the clip-length confound at crop=2000).
      features: how clips become log-Mel features (band, Mel settings, dB clipping);
        None = the paper's at the dataset's sample rate. ``clip_samples`` None = the
        longest clip (at least the VAE's 1999 samples, the synthesized sounds' length).
      synth_mode: VAE sampling, 'posterior' (around training sounds) or 'prior'.
      folds: the honest protocol's folds: 'random' or 'grouped' (near-duplicate recordings
        on one side, ``duplicates.fold_groups``); the paper protocol keeps its random splits.
      seed: root seed for splits, augmentation, VAEs and classifiers.
    """

    protocol: str = "honest"
    n_splits: int = 5
    n_repeats: int = 4
    paper_splits: int = 5
    test_fraction: float = 0.3
    dataset: str = "original"
    augment: str = "none"
    n_add_per_class: int = 48
    crop: Optional[int] = None
    features: Optional[features.FeatureSettings] = None
    synth_mode: str = "posterior"
    folds: str = "random"
    seed: int = 0

    def __post_init__(self):
        duplicates.check_folds(self.folds)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.dataset not in ("original", "augmented"):
            raise ValueError(f"dataset must be 'original' or 'augmented', got {self.dataset!r}")
        if self.augment not in augment.METHODS:
            raise ValueError(
                f"augment must be one of {tuple(augment.METHODS)}, got {self.augment!r}"
            )
        if self.dataset == "augmented" and self.augment == "none":
            raise ValueError("dataset='augmented' needs an augmentation method (e.g. 'vae')")
        if self.protocol == "paper" and self.augment == "specaugment":
            raise ValueError(
                "the paper protocol mixes synthetic SOUNDS into the pool; "
                "use specaugment with the honest protocol"
            )
        if self.crop is not None and self.crop <= 0:
            raise ValueError(f"crop must be positive, got {self.crop}")


# ---------------------------------------------------------------- augmentation per fold


class _ByContent:
    """A value that hashes and compares by the SHA-256 of its content: the key of a bounded
    cache for unhashable arguments (Examples, PRNG keys)."""

    def __init__(self, value, digest: str):
        self.value, self.digest = value, digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, _ByContent) and other.digest == self.digest

    @classmethod
    def examples(cls, ex: Optional[examples.Examples]) -> "_ByContent":
        digest = hashlib.sha256(b"none" if ex is None else b"examples")
        if ex is not None:
            digest.update(np.asarray(ex.origin).tobytes() + np.asarray(ex.labels).tobytes())
            for w in ex.waveforms:
                digest.update(np.ascontiguousarray(w).tobytes())
        return cls(ex, digest.hexdigest())

    @classmethod
    def key(cls, key: jax.Array) -> "_ByContent":
        data = np.asarray(jax.random.key_data(key)).tobytes()
        return cls(key, hashlib.sha256(data).hexdigest())


def vae_synthesize(
    train: examples.Examples,
    n_per_class: int,
    key: jax.Array,
    vae_config=None,
    mode: str = "posterior",
    sources: Optional[examples.Examples] = None,
) -> tuple[examples.Examples, np.ndarray]:
    """Trains one generator per class on ``train`` and draws ``n_per_class`` sounds per class.

    Posterior sampling draws around ``sources`` (default: the training sounds themselves;
    other sources, such as the paper's test list, are passed as 'test' sources, which are
    refused unless ``vae_config.synthesis.synth_from_test``). Evaluations of several
    detectors on the same folds share one synthesis per fold (a bounded cache keyed by the
    sounds, key, config and mode).
    Returns (synthetic examples, origins of every sound a generator was fitted on).
    """
    return _vae_synthesize(
        _ByContent.examples(train),
        n_per_class,
        _ByContent.key(key),
        vae_config or trainer.VAEConfig(),
        mode,
        _ByContent.examples(sources),
    )


@functools.lru_cache(maxsize=64)
def _vae_synthesize(train_c, n_per_class, key_c, config, mode, sources_c):
    train, key, sources = train_c.value, key_c.value, sources_c.value
    source_split = "train" if sources is None else "test"
    sources = train if sources is None else sources
    made = []
    for c in np.unique(train.labels):
        key, k_train, k_synth = jax.random.split(key, 3)
        in_class = np.flatnonzero(train.labels == c)
        t = config.network.input_length
        x = data_lib.stack_fixed([train.waveforms[i] for i in in_class], t)
        state, _ = generators.fit(x, None, config, k_train)
        src_idx = np.flatnonzero(sources.labels == c)
        src = data_lib.stack_fixed([sources.waveforms[i] for i in src_idx], t)
        sounds, info = generators.sample(
            state,
            config,
            k_synth,
            n_per_class,
            mode=mode,
            sources=src if mode == "posterior" else None,
            source_split=source_split,
            train_sounds=x,
        )
        s_idx = np.asarray(info["source_index"])
        origin = np.where(s_idx >= 0, sources.origin[src_idx][np.maximum(s_idx, 0)], -1)
        made.append(
            examples.Examples(
                tuple(np.asarray(s, np.float32) for s in sounds),
                np.full(n_per_class, c, np.int64),
                origin.astype(np.int64),
                np.ones(n_per_class, bool),
            )
        )
    out = made[0]
    for m in made[1:]:
        out = out.concat(m)
    return out, np.unique(train.origin)


def augment_waveform_side(
    method: str,
    train: examples.Examples,
    n_per_class: int,
    rng: np.random.Generator,
    sample_rate: int,
) -> examples.Examples:
    """'classic' or 'mixup' examples made from ``train`` (n_per_class per class)."""
    n_classes = len(np.unique(train.labels))
    waves, labels, src = augment.augment_waveforms(
        method, list(train.waveforms), train.labels, n_per_class * n_classes, rng, sample_rate
    )
    return examples.Examples(
        tuple(np.asarray(w, np.float32) for w in waves),
        np.asarray(labels, np.int64),
        train.origin[np.asarray(src)],
        np.ones(len(waves), bool),
    )


def augment_feature_side(
    method: str, fs: examples.FeatureSet, n_per_class: int, rng: np.random.Generator
) -> examples.FeatureSet:
    """``fs`` plus 'specaugment' examples made from it (n_per_class per class)."""
    n_classes = len(np.unique(fs.labels))
    x_new, y_new, src = augment.augment_features(
        method, fs.log_mel, fs.labels, n_per_class * n_classes, rng, n_frames=fs.frames
    )
    src = np.asarray(src)
    return examples.FeatureSet(
        np.concatenate([fs.log_mel, np.asarray(x_new, np.float32)]),
        np.concatenate([fs.frames, fs.frames[src]]),
        np.concatenate([fs.labels, np.asarray(y_new, np.int64)]),
        np.concatenate([fs.lengths, fs.lengths[src]]),
        np.concatenate([fs.origin, fs.origin[src]]),
        np.concatenate([fs.synthetic, np.ones(len(src), bool)]),
        settings=fs.settings,
    )


# ---------------------------------------------------------------- one evaluation


FitPredict = Callable[[examples.FeatureSet, examples.FeatureSet, int], np.ndarray]
# Every fold at once: [(train_fs, test_fs, seed), ...] -> [proba [N_test, C], ...].
FitPredictFolds = Callable[[list], list]


def score_fold(
    fit_predict: FitPredict,
    train_fs: examples.FeatureSet,
    test_fs: examples.FeatureSet,
    seed: int,
    class_names,
    positive_index: int = 0,
) -> dict:
    """Fits on train_fs, scores test_fs; also the trivial baselines on the same fold."""
    t0 = time.perf_counter()
    proba = fit_predict(train_fs, test_fs, seed)
    info = None
    if isinstance(proba, tuple):  # (proba, what the detector chose on this fold)
        proba, info = proba
    report = fold_report(
        proba, time.perf_counter() - t0, train_fs, test_fs, seed, class_names, positive_index
    )
    if info is not None:
        report["chosen"] = info
    return report


def fold_report(
    proba: np.ndarray,
    fit_s: float,
    train_fs: examples.FeatureSet,
    test_fs: examples.FeatureSet,
    seed: int,
    class_names,
    positive_index: int = 0,
) -> dict:
    """The report of one fold from its held-out probabilities [N_test, C]: metrics, sizes,
    fit seconds, and the trivial baselines fitted on the same fold."""
    report = metrics.classification_report(test_fs.labels, proba, class_names, positive_index)
    report["fit_seconds"] = fit_s
    report["n_train"] = int(len(train_fs.labels))
    report["n_train_synthetic"] = int(train_fs.synthetic.sum())
    report["n_test"] = int(len(test_fs.labels))
    report["n_test_synthetic"] = int(test_fs.synthetic.sum())
    # Out-of-fold predictions of every scored sound, for the error audit.
    report["test_origin"] = np.asarray(test_fs.origin).tolist()
    report["test_label"] = np.asarray(test_fs.labels).tolist()
    report["test_p_positive"] = np.asarray(proba)[:, positive_index].astype(float).tolist()
    base = {}
    real = ~train_fs.synthetic
    for name in BASELINES:
        fitted = baselines.fit_baseline(
            name, None, train_fs.labels[real], train_fs.lengths[real], seed, len(class_names)
        )
        p = baselines.baseline_proba(fitted, None, test_fs.lengths)
        base[name] = metrics.classification_report(test_fs.labels, p, class_names, positive_index)
    report["baselines"] = base
    return report


def evaluate(
    ds: data_lib.Dataset,
    config: ProtocolConfig,
    fit_predict: FitPredict,
    vae_config=None,
    progress: Optional[Callable[[str], None]] = None,
    fit_predict_folds: Optional[FitPredictFolds] = None,
) -> dict:
    """Runs one protocol and returns {'label', 'config', 'folds': [...], 'summary', 'baselines'};
    ``ds.positive_class`` is the class scored as positive.

    With ``fit_predict_folds`` every fold's model is fitted in one call once all folds'
    features are made (the JAX CNN vmaps over folds); each fold's ``fit_seconds`` is then
    that call's wall time divided by the number of folds.
    """
    say = progress or (lambda msg: logging.info("%s", msg))
    positive_index = ds.positive_index
    label, unit, settings, prepared = prepare_folds(ds, config, vae_config)
    folds = []
    batched = None
    if fit_predict_folds is not None:
        t0 = time.perf_counter()
        batched = fit_predict_folds([(tr, te, seed) for tr, te, seed, _ in prepared])
        per_fold_s = (time.perf_counter() - t0) / len(prepared)
    for k, (train_fs, test_fs, seed, extra) in enumerate(prepared):
        if batched is None:
            rep = score_fold(fit_predict, train_fs, test_fs, seed, ds.class_names, positive_index)
        else:
            rep = fold_report(
                batched[k], per_fold_s, train_fs, test_fs, seed, ds.class_names, positive_index
            )
        rep.update(extra)
        folds.append(rep)
        say(f"{unit} {k + 1}/{len(prepared)}: accuracy {rep['accuracy']:.3f}")
    return assemble(config, settings, label, folds)


def n_folds(config: ProtocolConfig) -> int:
    """Folds (honest) or random splits (paper) that ``config`` evaluates."""
    if config.protocol == "honest":
        return config.n_splits * config.n_repeats
    return config.paper_splits


def prepare_folds(
    ds: data_lib.Dataset, config: ProtocolConfig, vae_config=None, only: Optional[int] = None
) -> tuple[str, str, features.FeatureSettings, list]:
    """Every fold's (train_fs, test_fs, fit seed, extra report fields), augmentation fitted
    and leak-checked per fold; with ``only=k`` just fold k (the same fold as in the full
    list: splits and keys depend on k only). Returns (label, unit, settings, folds)."""
    real = examples.crop_examples(examples.Examples.real(ds), config.crop)
    settings = examples.fold_feature_settings(config.features, ds.sample_rate, real.lengths)
    root = jax.random.key(config.seed)
    wanted = range(n_folds(config)) if only is None else [only]
    prepared = []  # (train_fs, test_fs, seed, extra report fields)
    if config.protocol == "honest":
        splits = examples.honest_splits(ds, config)
        for k in wanted:
            tr, te = splits[k]
            fold_key = jax.random.fold_in(root, k)
            rng = np.random.default_rng([config.seed, k])
            train, test = real.take(tr), real.take(te)
            added, fitted_on = _augment_train(
                train, config, fold_key, rng, ds.sample_rate, vae_config
            )
            train_all = train if added is None else train.concat(added)
            train_fs = examples.make_features(train_all, settings)
            if config.augment == "specaugment":
                train_fs = augment_feature_side(
                    "specaugment", train_fs, config.n_add_per_class, rng
                )
                fitted_on = np.unique(train.origin)
            test_fs = examples.make_features(test, settings)
            examples.assert_no_leak(train_fs.origin, test_fs.origin, fitted_on)
            prepared.append((train_fs, test_fs, config.seed * 1000 + k, {"leak_check": "passed"}))
        return HONEST_LABEL, "fold", settings, prepared
    pool = real
    if config.dataset == "augmented":
        pool = real.concat(_paper_synthetic(real, config, root, ds.sample_rate, vae_config))
    pool_fs = examples.make_features(pool, settings)
    for k in wanted:
        tr, te = data_lib.stratified_holdout(pool.labels, config.test_fraction, config.seed + k)
        train_fs, test_fs = (
            examples.take_features(pool_fs, tr),
            examples.take_features(pool_fs, te),
        )
        shared = np.isin(test_fs.origin, train_fs.origin) & (test_fs.origin >= 0)
        extra = {"test_items_sharing_origin_with_training": int(shared.sum())}
        prepared.append((train_fs, test_fs, config.seed * 1000 + k, extra))
    return PAPER_LABEL, "split", settings, prepared


def assemble(
    config: ProtocolConfig, settings: features.FeatureSettings, label: str, folds: list
) -> dict:
    """The result of one evaluation from its folds' reports (summary, baselines, config)."""
    summary = metrics.summarize_folds(folds)
    base = {
        name: metrics.summarize_folds([f["baselines"][name] for f in folds]) for name in BASELINES
    }
    return {
        "label": label,
        "config": dict(dataclasses.asdict(config), bandpass=settings.bandpass),
        "features": settings.to_json(),
        "folds": folds,
        "summary": summary,
        "baselines": base,
    }


def _augment_train(train, config, key, rng, sample_rate, vae_config):
    """Examples added to a training side, and the origins the augmentation was fitted on."""
    if config.augment in ("none", "specaugment"):
        return None, np.unique(train.origin)
    if config.augment == "vae":
        return vae_synthesize(
            train, config.n_add_per_class, key, vae_config, mode=config.synth_mode
        )
    added = augment_waveform_side(config.augment, train, config.n_add_per_class, rng, sample_rate)
    return added, np.unique(train.origin)


def _paper_synthetic(real, config, key, sample_rate, vae_config):
    """The authors' augmentation: VAEs on the paper's train list, decoded around test sounds."""
    if config.augment != "vae":
        rng = np.random.default_rng(config.seed)
        return augment_waveform_side(config.augment, real, config.n_add_per_class, rng, sample_rate)
    tr, te = data_lib.paper_vae_split(real.labels)
    vae_config = vae_config or trainer.VAEConfig()
    synth = dataclasses.replace(vae_config.synthesis, synth_from_test=True)
    vae_config = dataclasses.replace(vae_config, synthesis=synth)
    synth, _ = vae_synthesize(
        real.take(tr),
        config.n_add_per_class,
        key,
        vae_config,
        mode="posterior",
        sources=real.take(te),
    )
    return synth
