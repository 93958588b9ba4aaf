"""When does synthesis help? Learning curves of the honest protocol from 4 sounds per class.

The honest folds (repeated stratified k-fold over the real sounds; with ``folds='grouped'``
near-duplicate recordings stay on one side, ``similarity.duplicates``) are made once. In each
fold the training side is subsampled to N sounds per class (``CurveConfig.sizes``; 0 = all of
them), ``draws`` times with different seeds. On each subsample every generator is fitted on
those N sounds only (``protocols.vae_synthesize``), its sounds are added to the training side,
and every detector is fitted with and without them and scored on the same held-out real
sounds. ``examples.assert_no_leak`` checks every unit, and the generator must have been fitted
on a subset of the subsample's sounds.

A unit = (fold, draw); at each N the with-minus-without differences of the held-out balanced
accuracy over the units are paired (``paired.paired_comparison``: mean, Student-t 95 %
interval (optimistic: units share sounds), Wilcoxon signed-rank p, and that p Holm-adjusted
over the detector's comparisons). Synthesis *helps* at N when the interval lies above 0 and
the adjusted p < 0.05.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Optional

import jax
import numpy as np
import threadpoolctl
from absl import logging
from matplotlib.figure import Figure

from drill_jax import data as data_lib
from drill_jax import features, files
from drill_jax.classify import registry
from drill_jax.evaluation import examples, metrics, paired, protocols
from drill_jax.similarity import duplicates, two_sample
from drill_jax.vae import configs

NONE = "none"  # the generator name of "no synthesis"


@dataclasses.dataclass(frozen=True)
class CurveConfig:
    """A learning-curve run.

    Attributes:
      sizes: training sounds per class kept in each fold (0 = all of them).
      draws: random subsamples per fold and size.
      n_splits, n_repeats: the honest folds.
      folds: 'random' (stratified, recordings' own groups) or 'grouped' (near-duplicates
        together too): ``duplicates.fold_groups``.
      detectors: ``classify.registry`` backbone names ('auto' = the default classical
        detector, 'jax_cnn').
      generators: generators fitted per unit, by name (``run`` resolves each to its
        ``VAEConfig``).
      n_add_per_class: synthesized sounds added per class.
      crop: real clips cut to their first ``crop`` samples (2000 removes the clip-length cue
        that would tell real 4000-sample clips from 1999-sample synthesized ones).
      epochs: JAX CNN epochs (None = its default).
      seed: folds, subsamples, generators and detectors.
    """

    sizes: tuple = (4, 8, 16, 0)
    draws: int = 3
    n_splits: int = 5
    n_repeats: int = 1
    folds: str = "random"
    detectors: tuple = ("auto", "jax_cnn")
    generators: tuple = ("interp",)
    n_add_per_class: int = 48
    crop: Optional[int] = 2000
    epochs: Optional[int] = None
    seed: int = 0

    def __post_init__(self):
        duplicates.check_folds(self.folds)
        if not self.sizes or any(n < 0 or n == 1 for n in self.sizes):
            raise ValueError(f"sizes must be 0 (all) or >= 2 sounds per class, got {self.sizes}")
        if self.draws < 1:
            raise ValueError(f"draws must be >= 1, got {self.draws}")


def subsample(labels: np.ndarray, n_per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices [<= C * n] of ``n_per_class`` items drawn per class without replacement
    (all of a class when it has fewer; 0 = everything)."""
    labels = np.asarray(labels)
    if n_per_class == 0:
        return np.arange(labels.size)
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picks.append(rng.choice(idx, min(n_per_class, idx.size), replace=False))
    return np.sort(np.concatenate(picks))


def check_fitted_on(fitted_on, train: examples.Examples) -> None:
    """Raises LeakError unless the generator was fitted on the unit's training sounds only."""
    extra = set(np.asarray(fitted_on).tolist()) - set(np.asarray(train.origin).tolist())
    if extra:
        raise examples.LeakError(
            f"generator fitted on {len(extra)} sound(s) outside the subsample: {sorted(extra)[:5]}"
        )


def unit_scores(
    train: examples.Examples,
    test: examples.Examples,
    settings: features.FeatureSettings,
    config: CurveConfig,
    generators: dict,
    key: jax.Array,
    seed: int,
    names: tuple,
) -> list:
    """Every (generator or 'none', detector) of one unit: [{'generator', 'detector',
    'balanced_accuracy', 'roc_auc', 'n_train', 'n_train_synthetic', 'n_test'}].

    generators: name -> ``VAEConfig``; key: the generators' key; seed: the detectors' (the
    same with and without synthesis); names: (class names, positive index).
    """
    test_fs = examples.make_features(test, settings)
    rows = []
    for g, gen in enumerate((NONE,) + tuple(generators)):
        train_all, fitted_on = train, np.unique(train.origin)
        if gen != NONE:
            added, fitted_on = protocols.vae_synthesize(
                train, config.n_add_per_class, jax.random.fold_in(key, g), generators[gen]
            )
            check_fitted_on(fitted_on, train)
            train_all = train.concat(added)
        train_fs = examples.make_features(train_all, settings)
        examples.assert_no_leak(train_fs.origin, test_fs.origin, fitted_on)
        for det in config.detectors:
            d = registry.DetectorConfig(backbone=det, epochs=config.epochs)
            rep = protocols.score_fold(
                registry.make_fit_predict(d), train_fs, test_fs, seed, names[0], names[1]
            )
            rows.append(
                {
                    "generator": gen,
                    "detector": det,
                    "balanced_accuracy": rep["balanced_accuracy"],
                    "roc_auc": rep["roc_auc"],
                    "n_train": rep["n_train"],
                    "n_train_synthetic": rep["n_train_synthetic"],
                    "n_test": rep["n_test"],
                }
            )
    return rows


# Each unit compiles its own shapes (a learned generator: about 2000 memory maps a unit);
# a 40-unit run would exceed Linux's default 65530 maps per process, and XLA's compiler then
# fails to allocate. Past this many maps the compiled code is dropped (recompiled on use).
_MAX_MAPS = 30000


def _release_compiled_code(maps_file: str = "/proc/self/maps") -> bool:
    """Clears JAX's compilation caches when this process holds more than ``_MAX_MAPS``
    memory maps (Linux; elsewhere nothing). Returns whether it cleared them."""
    try:
        with open(maps_file) as f:
            crowded = sum(1 for _ in f) > _MAX_MAPS
    except OSError:
        return False
    if crowded:
        jax.clear_caches()
    return crowded


def paper_generator(name: str) -> configs.VAEConfig:
    """A generator config by arch name with the paper's training (``configs.VAEConfig``
    defaults): enough for the paper's VAE and the reference generators; named recipes
    ('realistic', ...) come from ``drill_jax.recipes.vae``."""
    return configs.VAEConfig(network=configs.NetworkConfig(arch=name))


def run(
    ds: data_lib.Dataset,
    config: CurveConfig,
    resolve: Callable[[str], configs.VAEConfig] = paper_generator,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Every unit of the learning curves; ``resolve`` turns each of ``config.generators``
    into its config. Returns {'config', 'generator_configs', 'groups' (fold group sizes),
    'records': [unit row + fold, size, draw], 'comparisons', 'curves', 'sentences'}."""
    say = progress or (lambda msg: logging.info("%s", msg))
    generators = {name: resolve(name) for name in config.generators}
    real = examples.crop_examples(examples.Examples.real(ds), config.crop)
    settings = examples.fold_feature_settings(None, ds.sample_rate, real.lengths)
    groups = duplicates.fold_groups(ds, config.folds)
    splits = data_lib.repeated_stratified_kfold(
        real.labels, config.n_splits, config.n_repeats, config.seed, groups=groups
    )
    names = (ds.class_names, ds.positive_index)
    root = jax.random.key(config.seed)
    records = []
    for k, size, d in itertools.product(range(len(splits)), config.sizes, range(config.draws)):
        tr, te = splits[k]
        sub = tr[subsample(real.labels[tr], size, np.random.default_rng([config.seed, k, size, d]))]
        key = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(root, k), size), d)
        seed = config.seed * 1000 + k  # the protocols' fold seed
        # One BLAS thread for the many small scikit-learn fits (more only contend).
        with threadpoolctl.threadpool_limits(1):
            rows = unit_scores(
                real.take(sub), real.take(te), settings, config, generators, key, seed, names
            )
        records += [dict(r, fold=k, size=size, draw=d) for r in rows]
        _release_compiled_code()
        say(f"fold {k + 1}/{len(splits)}, N = {size or 'all'}, draw {d + 1}: done")
    return summarize(
        {
            "config": dataclasses.asdict(config),
            "generator_configs": {k: dataclasses.asdict(v) for k, v in generators.items()},
            "groups": duplicates.group_sizes(groups),
            "records": records,
        }
    )


def _as_result(rows: list) -> dict:
    """Rows of one (detector, generator, size) as a result ``paired`` can pair, in unit order."""
    rows = sorted(rows, key=lambda r: (r["fold"], r["draw"]))
    return {"folds": [dict(r) for r in rows], "config": {}}


def summarize(result: dict) -> dict:
    """Adds 'curves' (mean held-out balanced accuracy per detector, generator and size),
    'comparisons' (each generator minus none, paired per size) and 'sentences'."""
    cfg = result["config"]
    by = {}
    for r in result["records"]:
        by.setdefault((r["detector"], r["size"], r["generator"]), []).append(r)
    curves, comparisons = [], []
    for det in cfg["detectors"]:
        for size in cfg["sizes"]:
            base = _as_result(by[(det, size, NONE)])
            for gen in (NONE,) + tuple(cfg["generators"]):
                rows = by[(det, size, gen)]
                ci = metrics.mean_ci([r["balanced_accuracy"] for r in rows])
                curves.append({"detector": det, "generator": gen, "size": size, **ci})
                if gen != NONE:
                    name = f"{det} + {gen}, N = {size or 'all'}"
                    cmp = paired.comparison_row(name, _as_result(rows), base)
                    comparisons.append(dict(cmp, detector=det, generator=gen, size=size))
    for det in cfg["detectors"]:
        rows = [r for r in comparisons if r["detector"] == det]
        for r, p in zip(rows, two_sample.holm([r["wilcoxon_p"] for r in rows])):
            r["p_holm"] = float(p)
    result["curves"], result["comparisons"] = curves, comparisons
    result["sentences"] = sentences(comparisons, cfg["detectors"])
    return result


def helps(row: dict) -> bool:
    """Synthesis helps: the 95 % interval of the paired difference lies above 0 and the
    Wilcoxon p, Holm-adjusted over the detector's comparisons (every N and generator), is
    below 0.05."""
    return row["ci_low"] > 0 and row["p_holm"] < 0.05


def sentences(comparisons: list, detectors) -> list:
    """One plain sentence per detector: at which N, if any, synthesis helps."""
    out = []
    for det in detectors:
        rows = [r for r in comparisons if r["detector"] == det]
        good = [r for r in rows if helps(r)]
        hurt = [r for r in rows if r["ci_high"] < 0 and r["p_holm"] < 0.05]
        hints = [r for r in rows if r["ci_low"] > 0 and r["wilcoxon_p"] < 0.05 and not helps(r)]
        if good:
            where = "; ".join(
                f"{r['generator']} at N = {r['size'] or 'all'} ({r['difference']:+.3f}, "
                f"95 % CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}, Holm p = {r['p_holm']:.3g})"
                for r in good
            )
            text = f"{det}: synthesis helps with {where}."
        else:
            text = f"{det}: synthesis does not measurably help at any N tried."
        if hints:
            gains = ", ".join(
                f"{r['generator']} at N = {r['size'] or 'all'} ({r['difference']:+.3f}, "
                f"p = {r['wilcoxon_p']:.3g}, Holm p = {r['p_holm']:.3g})"
                for r in hints
            )
            text += f" Gains significant only before the multiple-comparison adjustment: {gains}."
        if hurt:
            worse = ", ".join(
                f"{r['generator']} at N = {r['size'] or 'all'} ({r['difference']:+.3f})"
                for r in hurt
            )
            text += f" It hurts with {worse}."
        out.append(text)
    return out


def plot_curves(result: dict, path: str) -> str:
    """Held-out balanced accuracy against training sounds per class, one panel per detector,
    one line per generator ('none' = real sounds only), 95 % intervals as bars. Writes
    ``path`` (PNG) atomically."""
    cfg = result["config"]
    dets = list(cfg["detectors"])
    fig = Figure(figsize=(4.2 * len(dets), 3.4), layout="constrained")
    axes = fig.subplots(1, len(dets), squeeze=False)[0]
    sizes = list(cfg["sizes"])
    x = np.arange(len(sizes))
    curve = {(c["detector"], c["generator"], c["size"]): c for c in result["curves"]}
    for ax, det in zip(axes, dets):
        for j, gen in enumerate((NONE,) + tuple(cfg["generators"])):
            pts = [curve[(det, gen, n)] for n in sizes]
            mean = np.array([p["mean"] for p in pts])
            err = [[p["mean"] - p["ci_low"] for p in pts], [p["ci_high"] - p["mean"] for p in pts]]
            ax.errorbar(
                x + 0.06 * j, mean, yerr=np.nan_to_num(err), marker="o", capsize=3, label=gen
            )
        ax.set_xticks(x, [str(n or "all") for n in sizes])
        ax.set(xlabel="training sounds per class", ylabel="held-out balanced accuracy", title=det)
        ax.legend(fontsize=7, title="synthesis", title_fontsize=7)
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return path


def markdown(result: dict) -> str:
    """The paired comparisons as a Markdown table, then the sentences."""
    cfg = result["config"]
    head = (
        f"Learning curves: {cfg['n_splits']} x {cfg['n_repeats']} honest folds "
        f"({cfg['folds']}; fold groups: {result['groups']['groups']}, largest "
        f"{result['groups']['largest']}), {cfg['draws']} subsamples per fold and N, "
        f"{cfg['n_add_per_class']} synthesized sounds per class added, crop {cfg['crop']}.\n\n"
    )
    return head + paired.markdown(result["comparisons"]) + "\n" + "\n".join(
        f"- {s}" for s in result["sentences"]
    ) + "\n"
