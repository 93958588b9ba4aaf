"""The realism scoreboard: one row per generator and class, a multi-frame log-Mel two-sample
test (a short window, so a sound's time structure shows, not only its spectrum), and a figure
of real sounds beside synthesized ones (waveforms and multi-frame spectrograms).

The scorer's own feature is the one-frame log-Mel (``setwise.log_mel_vectors``); a
generator whose training loss is that feature is flagged in the row, and is to be judged on
the multi-frame and spectral-shape columns as well. These columns compare synthesized sounds
with all real sounds of the class, the generator's training sounds included, so copies of
training sounds score well on them; the ``heldout_*`` columns (``realism_columns``) hold the
realism test that copies cannot pass (``realism``).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from drill_jax import features, files
from drill_jax.similarity import setwise, two_sample

MULTIFRAME_WINDOW = 256  # samples (2.7 ms at 96 kHz); hop = half
SCORER_FEATURES = ("log_mel",)  # training losses that are the scorer's own feature


def multiframe_settings(
    sample_rate: int, length: int, settings: Optional[features.FeatureSettings] = None
) -> features.FeatureSettings:
    """``settings`` (default: the paper's) with a ``MULTIFRAME_WINDOW``-sample window, half
    overlap, an FFT of the window's size and ``length``-sample clips."""
    settings = settings or features.FeatureSettings(sample_rate=int(sample_rate))
    return dataclasses.replace(
        settings,
        window_samples=MULTIFRAME_WINDOW,
        overlap_samples=MULTIFRAME_WINDOW // 2,
        n_fft=MULTIFRAME_WINDOW,
        clip_samples=int(length),
    )


def multiframe_log_mel(
    waveforms: Sequence[np.ndarray],
    sample_rate: int,
    length: int,
    settings: Optional[features.FeatureSettings] = None,
) -> np.ndarray:
    """Short-window log-Mel images (dB) of the first ``length`` samples: [N, frames, n_mels]."""
    clips = setwise.crop_set(waveforms, length).astype(np.float32)
    s = multiframe_settings(sample_rate, clips.shape[1], settings)
    return np.asarray(features.extract(s, clips), np.float64)


def multiframe_two_sample(
    synth, real, sample_rate: int, length: int, settings=None, cv_repeats: int = 4, seed: int = 0
) -> dict:
    """``two_sample.classifier_test`` of real vs synthesized flattened multi-frame log-Mel images,
    plus the image shape [frames, n_mels]."""
    s = multiframe_log_mel(synth, sample_rate, length, settings)
    r = multiframe_log_mel(real, sample_rate, length, settings)
    out = two_sample.classifier_test(
        r.reshape(r.shape[0], -1), s.reshape(s.shape[0], -1), n_repeats=cv_repeats, seed=seed
    )
    out["image_shape"] = list(r.shape[1:])
    return out


def scoreboard_row(group: str, rep: dict, generator: str, loss: str) -> dict:
    """One scoreboard row from a ``setwise.class_similarity`` report (with the multi-frame
    entry added): the figures the targets are stated in."""
    lv = rep["level_db"]
    return {
        "group": group,
        "generator": generator,
        "loss": loss,
        "trained_on_scorer_feature": loss in SCORER_FEATURES,
        "two_sample_log_mel": rep["two_sample_log_mel"]["balanced_accuracy"]["mean"],
        "two_sample_multiframe": rep["two_sample_log_mel_multiframe"]["balanced_accuracy"]["mean"],
        "two_sample_shape": rep["two_sample_log_mel_shape"]["balanced_accuracy"]["mean"],
        "frechet_ratio": rep["frechet_log_mel"]["ratio"],
        "level_difference_db": lv["synth"]["median"] - lv["real"]["median"],
        "memorisation_median": rep["memorisation"]["train"]["log_mel"]["ratio"]["median"],
        **realism_columns(rep.get("realism")),
    }


def realism_columns(real: Optional[dict]) -> dict:
    """The held-out realism test's headline figures of one group (``realism.class_realism``;
    {} when it was not run): balanced accuracies (one-frame, worst multi-frame window,
    summary), combined MMD p, median memorisation ratio, level difference, verdict."""
    if not real:
        return {}
    part = real["synth"]
    ba = {k: v["balanced_accuracy"]["mean"] for k, v in part["two_sample"].items()}
    return {
        "heldout_one_frame": ba["one_frame"],
        "heldout_multi_frame_max": max(v for k, v in ba.items() if k.startswith("multi_frame")),
        "heldout_summary": ba["summary"],
        "heldout_mmd_p": part["mmd_p_combined"],
        "heldout_memorisation": part["memorisation"]["log_mel"]["ratio"]["median"],
        "heldout_level_difference_db": part["level_difference_db"],
        "heldout_passes": real["passes_all"],
    }


def markdown(rows: Sequence[dict]) -> str:
    """The scoreboard rows as a Markdown table with its reading notes."""
    out = [
        "\n### Realism scoreboard\n",
        "| group | generator (loss) | two-sample log-Mel | multi-frame | spectral shape "
        "| Fréchet ratio | level diff. (dB) | memorisation (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        flag = " **trained on the scorer's feature**" if r["trained_on_scorer_feature"] else ""
        out.append(
            f"| {r['group']} | {r['generator']} ({r['loss']}){flag} "
            f"| {r['two_sample_log_mel']:.3f} | {r['two_sample_multiframe']:.3f} "
            f"| {r['two_sample_shape']:.3f} | {r['frechet_ratio']:.2f} "
            f"| {r['level_difference_db']:+.1f} | {r['memorisation_median']:.2f} |"
        )
    out.append(
        "\nTwo-sample: balanced accuracy of a cross-validated logistic regression real vs "
        "synthesized (0.5 = indistinguishable); multi-frame: on flattened short-window "
        f"({MULTIFRAME_WINDOW}-sample, half-overlap) log-Mel images, so bursts show. Level "
        "difference: median synthesized minus median real mean log-Mel level. Memorisation: "
        "median nearest-training-sound distance ratio (0 = copy, ~1 = as novel as a real "
        "sound).\n"
    )
    held = [r for r in rows if "heldout_one_frame" in r]
    if held:
        out += [
            "| group | held-out test: one-frame | multi-frame (worst window) | summary "
            "| MMD p | memorisation | level diff. (dB) | passes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {r['group']} | {r['heldout_one_frame']:.3f} | {r['heldout_multi_frame_max']:.3f} "
            f"| {r['heldout_summary']:.3f} | {r['heldout_mmd_p']:.3f} "
            f"| {r['heldout_memorisation']:.2f} | {r['heldout_level_difference_db']:+.1f} "
            f"| {'yes' if r['heldout_passes'] else 'no'} |"
            for r in held
        ]
        out.append(
            "\nHeld-out test: the same sounds against the real sounds the generator never "
            "trained on, whole band, no floor clipping (``realism``; details below).\n"
        )
    return "\n".join(out)


def plot_real_vs_synth(
    real: Sequence[np.ndarray],
    synth: Sequence[np.ndarray],
    sample_rate: int,
    path: str,
    title: str = "",
    settings: Optional[features.FeatureSettings] = None,
) -> str:
    """Waveforms and multi-frame log-Mel spectrograms of real (top rows) beside synthesized
    (bottom rows) sounds, one column per sound, one dB range for all. Writes ``path`` (PNG)."""
    k = min(len(real), len(synth))
    if k < 1:
        raise ValueError("need at least one real and one synthesized sound")
    length = min(min(len(w) for w in real[:k]), min(len(w) for w in synth[:k]))
    mel = multiframe_log_mel(list(real[:k]) + list(synth[:k]), sample_rate, length, settings)
    lo, hi = float(mel.min()), float(mel.max())
    fig = Figure(figsize=(2.4 * k, 7.5), layout="constrained")
    axes = fig.subplots(4, k, squeeze=False)
    t_ms = np.arange(length) * 1e3 / sample_rate
    peak = max(float(np.max(np.abs(w[:length]))) for w in list(real[:k]) + list(synth[:k]))
    for j in range(k):
        for row, (name, w, m) in enumerate(
            (("real", real[j], mel[j]), ("synthesized", synth[j], mel[k + j]))
        ):
            ax = axes[2 * row, j]
            ax.plot(t_ms, np.asarray(w)[:length], lw=0.4, color="0.2" if row == 0 else "tab:red")
            ax.set(ylim=(-peak, peak), title=f"{name} {j + 1}")
            ax.tick_params(labelsize=6)
            ax = axes[2 * row + 1, j]
            ax.imshow(m.T, origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="magma")
            ax.set(xlabel="frame", ylabel="Mel band")
            ax.tick_params(labelsize=6)
    fig.suptitle(title or "real (rows 1-2) vs synthesized (rows 3-4)")
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    return path
