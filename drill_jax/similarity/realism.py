"""A realism test that copies cannot pass: synthesized sounds against the real sounds the
generator did NOT train on, with the same test of the training half against the held-out half
of the real sounds beside it (what "indistinguishable" looks like with these set sizes).

Call it on plain arrays (class name -> sounds, each sound [T_i] float at ``sample_rate`` Hz)::

    from drill_jax.similarity import realism
    train, heldout = realism.paper_split_sets(dataset)  # the paper's train / test lists
    result = realism.realism_test(synth, train, heldout, dataset.sample_rate)
    result["classes"]["normal"]["passes"]  # {criterion: bool}; see ``Targets``
    print(realism.markdown(result))

or on a folder of WAVs: ``python -m experiments.similarity --synth_dir=D/synth --realism_only``.

Every sound is cut to its first ``RealismConfig.length`` samples (1999, the VAE's output; the
shortest sound if shorter). Feature sets, all over the whole band the microphone heard
(0 .. sample_rate / 2, no band-pass) and with no dB floor clipping:

* ``one_frame``: one log-Mel frame of the whole clip (window = FFT = clip length);
* ``multi_frame_<W>``: log-Mel images at windows W = 128, 256, 512 samples, hop W / 2,
  flattened (time structure shows: onsets, decays, clicks);
* ``summary``: the interpretable features of ``summary_features`` (onset, decay, crest factor,
  kurtosis, level, dominant frequency, transients, band shares).

On each set: the cross-validated logistic-regression two-sample test of
``two_sample.classifier_test`` (statistic: balanced accuracy, 0.5 = indistinguishable, 1 =
separable; ROC-AUC beside it) and the kernel MMD with a permutation p-value of
``two_sample.mmd_test``; their combined MMD p-value is the Bonferroni bound
``min(1, K * min_k p_k)`` over the K sets. The summary set also reports which features differ
and by how much (``two_sample.feature_differences``). Memorisation (``setwise.nn_distance_ratio``):
each sound's distance to its nearest TRAINING sound over the typical nearest-neighbour
distance among training sounds, on one-frame log-Mel vectors and on ``1 - |xcorr|``: ~0 for
copies, ~1 for a sound as novel as a real one. Copies of training sounds are therefore as
close to the held-out sounds as real sounds are, and pass the two-sample parts, but fail the
memorisation ratio.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from drill_jax import data, features
from drill_jax.similarity import setwise, summary_features, two_sample

STATISTIC = "balanced accuracy of a cross-validated logistic regression (0.5 = indistinguishable)"


CRITERIA = ("one_frame", "multi_frame", "summary", "mmd", "memorisation", "level")

@dataclasses.dataclass(frozen=True)
class Targets:
    """What a realistic generator must reach (issue targets): (criterion, bound) pairs over
    the measures of ``measures``.

    Attributes:
      at_most: upper bounds: two-sample balanced accuracies 'one_frame', 'multi_frame' (its
        worst window) and 'summary'; 'level', the |median level difference| in dB.
      at_least: lower bounds: 'mmd', the combined MMD p-value; 'memorisation', the median
        log-Mel memorisation ratio.
    """

    at_most: tuple = (("one_frame", 0.65), ("multi_frame", 0.70), ("summary", 0.65), ("level", 2.0))
    at_least: tuple = (("mmd", 0.05), ("memorisation", 1.0))

    def __post_init__(self):
        names = [name for name, _ in self.at_most + self.at_least]
        unknown = sorted(set(names) - set(CRITERIA))
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"targets: unknown or repeated criteria {names}; one of {CRITERIA}")


@dataclasses.dataclass(frozen=True)
class RealismConfig:
    """length: samples compared (first ``length`` of every sound); windows: multi-frame
    log-Mel windows (samples, hop = half); n_mels: Mel bands of every log-Mel set;
    cv_repeats: repeats of the 5-fold classifier test; n_permutations: of each MMD test;
    seed: CV folds and permutations; targets: the pass marks."""

    length: int = data.PAPER_CLIP_SAMPLES
    windows: tuple = (128, 256, 512)
    n_mels: int = 32
    cv_repeats: int = 4
    n_permutations: int = 500
    seed: int = 0
    targets: Targets = Targets()


def whole_band_settings(
    sample_rate: int, window: int, length: int, n_mels: int
) -> features.FeatureSettings:
    """Log-Mel settings over 0 .. sample_rate / 2 with no band-pass and no floor clipping:
    periodic Hann ``window`` samples, hop window // 2, FFT = window, ``length``-sample clips."""
    return features.FeatureSettings(
        sample_rate=int(sample_rate),
        band_hz=None,
        window_samples=int(window),
        overlap_samples=int(window) - max(int(window) // 2, 1),
        n_fft=int(window),
        n_mels=int(n_mels),
        top_db=None,
        clip_samples=int(length),
    )


def feature_sets(clips: np.ndarray, sample_rate: int, config: RealismConfig) -> dict:
    """Every feature set of the module docstring for clips [N, L]: name -> [N, D] float64."""
    length = clips.shape[1]
    windows = [("one_frame", length)] + [(f"multi_frame_{w}", w) for w in config.windows]
    out = {}
    for name, window in windows:
        s = whole_band_settings(sample_rate, window, length, config.n_mels)
        out[name] = np.asarray(features.extract(s, clips.astype(np.float32)), np.float64)
        out[name] = out[name].reshape(len(clips), -1)
    out["summary"] = summary_features.summary_features(clips, sample_rate)
    return out


def memorisation(
    query: np.ndarray, train: np.ndarray, query_mel: np.ndarray, train_mel: np.ndarray
) -> dict:
    """Nearest-training-sound ratios of query clips [M, L] against training clips [N, L] by
    ``1 - |xcorr|`` and by one-frame log-Mel [., D] distance: {'xcorr' | 'log_mel':
    ``setwise.memorisation_summary``}."""
    return {
        "xcorr": setwise.memorisation_summary(
            setwise.xcorr_distances(query, train), setwise.xcorr_distances(train, train)
        ),
        "log_mel": setwise.memorisation_summary(
            setwise.euclidean_distances(query_mel, train_mel),
            setwise.euclidean_distances(train_mel, train_mel),
        ),
    }


def compare_sets(candidate: dict, heldout: dict, config: RealismConfig) -> dict:
    """Every two-sample part of candidate vs held-out feature sets (``feature_sets`` dicts):
    {'two_sample': {set: classifier test}, 'mmd': {set: MMD test}, 'mmd_p_combined',
    'summary_differences', 'level_difference_db'}."""
    tests, mmd = {}, {}
    for k, name in enumerate(candidate):
        tests[name] = two_sample.classifier_test(
            heldout[name], candidate[name], n_repeats=config.cv_repeats, seed=config.seed
        )
        mmd[name] = two_sample.mmd_test(
            heldout[name], candidate[name], config.n_permutations, config.seed + k
        )
    level = summary_features.NAMES.index("level_db")
    return {
        "two_sample": tests,
        "mmd": mmd,
        "mmd_p_combined": min(1.0, len(mmd) * min(m["p_value"] for m in mmd.values())),
        "summary_differences": two_sample.feature_differences(
            heldout["summary"], candidate["summary"], summary_features.NAMES
        ),
        "level_difference_db": float(
            np.median(candidate["summary"][:, level]) - np.median(heldout["summary"][:, level])
        ),
    }


def measures(part: dict) -> dict:
    """{criterion: value} of one ``compare_sets`` result with its 'memorisation' added
    (``CRITERIA``; a missing multi-frame set counts as inf, which no bound passes)."""
    ba = {k: v["balanced_accuracy"]["mean"] for k, v in part["two_sample"].items()}
    multi = [v for k, v in ba.items() if k.startswith("multi_frame")]
    return {
        "one_frame": ba["one_frame"],
        "multi_frame": max(multi, default=np.inf),
        "summary": ba["summary"],
        "mmd": part["mmd_p_combined"],
        "memorisation": part["memorisation"]["log_mel"]["ratio"]["median"],
        "level": abs(part["level_difference_db"]),
    }


def verdict(part: dict, targets: Targets) -> dict:
    """{criterion: bool}: each measure against its bound in ``targets``."""
    value = measures(part)
    out = {name: bool(value[name] <= bound) for name, bound in targets.at_most}
    out.update({name: bool(value[name] >= bound) for name, bound in targets.at_least})
    return out


def class_realism(
    synth: Sequence[np.ndarray],
    train: Sequence[np.ndarray],
    heldout: Sequence[np.ndarray],
    sample_rate: int,
    config: RealismConfig = RealismConfig(),
) -> dict:
    """The realism test of one class: synthesized sounds vs held-out real sounds, and the real
    reference (training sounds vs held-out sounds) beside it. Each set: sounds [T_i] float.

    Returns {'length', 'num_synth', 'num_train', 'num_heldout', 'synth': part,
    'real_reference': part, 'passes': {criterion: bool}, 'reference_passes', 'passes_all'}; a
    part is ``compare_sets``' dict plus 'memorisation' (synthesized vs training sounds; for the
    reference, held-out vs training sounds).
    """
    if len(synth) < 5 or len(heldout) < 5 or len(train) < 5:
        raise ValueError(
            f"need >= 5 synthesized, training and held-out sounds, got {len(synth)}, "
            f"{len(train)}, {len(heldout)}"
        )
    lengths = [len(w) for group in (synth, train, heldout) for w in group]
    length = min(int(config.length), min(lengths))
    if length < max(config.windows):
        raise ValueError(
            f"sounds of {length} samples are shorter than a {max(config.windows)}-sample window"
        )
    sets = (("s", synth), ("t", train), ("h", heldout))
    clips = {k: setwise.crop_set(v, length) for k, v in sets}
    feats = {k: feature_sets(v, sample_rate, config) for k, v in clips.items()}
    parts = {}
    for name, cand, query in (("synth", "s", "s"), ("real_reference", "t", "h")):
        part = compare_sets(feats[cand], feats["h"], config)
        part["memorisation"] = memorisation(
            clips[query], clips["t"], feats[query]["one_frame"], feats["t"]["one_frame"]
        )
        parts[name] = part
    passes = verdict(parts["synth"], config.targets)
    return {
        "length": int(length),
        "num_synth": len(synth),
        "num_train": len(train),
        "num_heldout": len(heldout),
        **parts,
        "passes": passes,
        "reference_passes": verdict(parts["real_reference"], config.targets),
        "passes_all": all(passes.values()),
    }


def realism_test(
    synth: Mapping[str, Sequence[np.ndarray]],
    train: Mapping[str, Sequence[np.ndarray]],
    heldout: Mapping[str, Sequence[np.ndarray]],
    sample_rate: int,
    config: RealismConfig = RealismConfig(),
) -> dict:
    """``class_realism`` of every class of ``synth`` (class name -> sounds): train and heldout
    map the same names to the generator's training sounds and the real sounds it never saw.

    Returns {'statistic', 'config', 'classes': {name: class_realism dict}}.
    """
    missing = [c for c in synth if c not in train or c not in heldout]
    if missing:
        raise ValueError(f"classes {missing} have no training or held-out real sounds")
    return {
        "statistic": STATISTIC,
        "config": dataclasses.asdict(config),
        "classes": {
            c: class_realism(synth[c], train[c], heldout[c], sample_rate, config) for c in synth
        },
    }


def paper_split_sets(dataset: data.Dataset) -> tuple[dict, dict]:
    """(train, heldout): class name -> sounds of the paper's VAE train list and test list
    (``data.paper_vae_split``), the generators' training sounds and the sounds they never saw."""
    tr, te = data.paper_vae_split(dataset.labels)
    out = []
    for idx in (tr, te):
        out.append(
            {
                c: [dataset.waveforms[i] for i in idx if dataset.labels[i] == k]
                for k, c in enumerate(dataset.class_names)
            }
        )
    return out[0], out[1]


def row(group: str, rep: dict) -> dict:
    """One table row of a ``class_realism`` result: the synthesized set's headline figures
    and the real reference's, plus the verdict."""
    out = {"group": group}
    for side in ("synth", "real_reference"):
        part = rep[side]
        prefix = "" if side == "synth" else "reference_"
        for name, test in part["two_sample"].items():
            out[f"{prefix}{name}"] = test["balanced_accuracy"]["mean"]
        out[f"{prefix}mmd_p"] = part["mmd_p_combined"]
        out[f"{prefix}memorisation"] = part["memorisation"]["log_mel"]["ratio"]["median"]
        out[f"{prefix}level_difference_db"] = part["level_difference_db"]
        out[f"{prefix}differs"] = part["summary_differences"]["differs"]
    out["passes_all"] = rep["passes_all"]
    out["failed"] = [k for k, ok in rep["passes"].items() if not ok]
    return out


def markdown(result: dict) -> str:
    """A ``realism_test`` result (or {'classes': {group: class_realism}}) as a Markdown table
    with its reading notes."""
    rows = [row(g, r) for g, r in result["classes"].items()]
    if not rows:
        return "\n### Realism test (held-out real sounds)\n\nNo group was scored.\n"
    sets = [k for k in rows[0] if k.startswith(("one_frame", "multi_frame", "summary"))]
    head = ["group", "set"] + sets + ["MMD p", "memorisation", "level diff. (dB)", "verdict"]
    out = [
        "\n### Realism test (held-out real sounds)\n",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        failed = "pass" if r["passes_all"] else "fails: " + ", ".join(r["failed"])
        for label, p, last in (
            ("synthesized", "", failed),
            ("real train vs held-out", "reference_", "reference"),
        ):
            cells = [r["group"], label] + [f"{r[p + s]:.3f}" for s in sets]
            cells += [
                f"{r[p + 'mmd_p']:.3f}",
                f"{r[p + 'memorisation']:.2f}",
                f"{r[p + 'level_difference_db']:+.1f}",
                last,
            ]
            out.append("| " + " | ".join(cells) + " |")
    out.append(
        "\nEach set against the real sounds the generator never trained on: the first "
        "samples of every sound (1999 or the shortest), the whole band up to half the sample "
        "rate, no floor clipping. Columns one_frame .. summary: " + STATISTIC
        + ". MMD p: Gaussian-kernel MMD permutation p-value, Bonferroni-combined over the sets. "
        "Memorisation: median nearest-training-sound log-Mel distance ratio (0 = copy, ~1 = as "
        "novel as a real sound). Reference: the training half against the held-out half of "
        "the real sounds (and their memorisation ratio).\n"
    )
    for group, rep in result["classes"].items():
        diff = rep["synth"]["summary_differences"]
        cells = [
            f"{f['name']} (held-out median {f['median_a']:.3g}, synthesized {f['median_b']:.3g}, "
            f"d = {f['cohens_d']:+.2f})"
            for f in diff["features"]
            if f["name"] in diff["differs"]
        ]
        if cells:
            out.append(f"- {group}: summary features that differ: " + "; ".join(cells))
    return "\n".join(out) + "\n"
