"""Per-class similarity report of a folder of synthesized sounds against a real dataset: the
paper's pair analysis, set-level measures (``setwise``), the multi-frame scoreboard and the
held-out realism test (``realism``)."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np
from absl import logging

from drill_jax import data, features, files
from drill_jax.similarity import figures as similarity_figures
from drill_jax.similarity import pairwise, realism, scoreboard, setwise, synth_folder


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """What ``build_report`` computes.

    Attributes:
      train_split: the generator's training sounds for the memorisation check and the realism
        test: 'paper' (``data.paper_vae_split``) or 'all' real sounds of the class (then no
        sound is held out and the realism test is skipped).
      skip_bad: skip unreadable synthesized files (listed in the report) instead of raising.
      figures: write real-vs-synthesized figures and each class's best-matching pair.
      repeats: of the two-sample CV and of the Fréchet reference halves.
      null_pairs: white-noise pairs for the coherence null reference.
      realism: settings of the held-out realism test (None = skip it).
    """

    train_split: str = "paper"
    skip_bad: bool = False
    figures: bool = True
    repeats: setwise.Repeats = setwise.Repeats()
    null_pairs: int = 200
    realism: Optional[realism.RealismConfig] = realism.RealismConfig()


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every group of one report shares."""

    folder: synth_folder.SynthFolder
    dataset: data.Dataset
    config: ReportConfig
    settings: Optional[features.FeatureSettings]
    train: np.ndarray  # [N] bool over the dataset
    length: int
    seed: int

    def real_idx(self, class_name: str) -> np.ndarray:
        return np.flatnonzero(self.dataset.labels == self.dataset.class_names.index(class_name))

    def synth_waves(self, idx) -> list:
        return [self.folder.synth.waveforms[i] for i in idx]

    def real_waves(self, idx) -> list:
        return [self.dataset.waveforms[i] for i in idx]


def _fmt(s: dict) -> str:
    return f"{s['median']:.3f} [{s['q25']:.3f}, {s['q75']:.3f}]"


def _memo(m: dict) -> str:
    return (
        f"{m['ratio']['median']:.2f} ({m['fraction_below_0.5']:.2f}; "
        f"{m['train_loo_fraction_below_0.5']:.2f})"
    )


def markdown_table(report: dict) -> str:
    """The per-class (and per-mode) figures of ``build_report``'s dict as a Markdown table."""
    head = (
        "| group | synth / real (train) | best-match abs xcorr, median [IQR] "
        "| real vs other real | memo ratio xcorr: train / all real "
        "| memo ratio log-Mel: train / all real "
        "| Fréchet log-Mel: real-half vs synth / vs real (ratio) | FD to other class "
        "| two-sample bal. acc. (std) |\n" + "|---" * 9 + "|\n"
    )
    rows = []
    for name, r in report["groups"].items():
        mt, ma = r["memorisation"]["train"], r["memorisation"]["all_real"]
        fd = r["frechet_log_mel"]
        ts = r["two_sample_log_mel"]["balanced_accuracy"]
        rows.append(
            f"| {name} | {r['num_synth']} / {r['num_real']} ({r['num_train']}) "
            f"| {_fmt(r['best_match_abs_xcorr'])} | {_fmt(r['real_loo_best_match_abs_xcorr'])} "
            f"| {_memo(mt['xcorr'])} / {_memo(ma['xcorr'])} "
            f"| {_memo(mt['log_mel'])} / {_memo(ma['log_mel'])} "
            f"| {fd['half_vs_synth']['mean']:.0f} / {fd['half_vs_half']['mean']:.0f} "
            f"({fd['ratio']:.2f}) | {fd.get('real_vs_other_class_real', float('nan')):.0f} "
            f"| {ts['mean']:.3f} ({ts['std']:.3f}) |"
        )
    notes = (
        "\nBest-match abs xcorr: each synthesized sound's largest peak |xcorr| ('coeff', first "
        f"{report['length']} samples) over the real sounds of its class; real vs other real: the "
        "same for each real sound against the other real sounds of its class. Memo ratio: median "
        "of (distance to the nearest reference sound / median nearest-neighbour distance among "
        "reference sounds), 0 = copy, ~1 = as novel as a real sound; in brackets the fraction "
        "of synthesized sounds with ratio < 0.5, then the same fraction among the reference "
        "sounds themselves (leave-one-out). Reference = the generator's training sounds, or all "
        "real sounds of the class. Fréchet distances in dB^2 between Gaussian fits of one "
        "log-Mel frame: a random half of the real set vs equally many synthesized or other "
        "real sounds (mean of repeats); FD to other class: all real sounds of this class vs the "
        "other class (a scale for 'very different'). Two-sample: cross-validated logistic "
        "regression real vs synthesized on log-Mel, balanced accuracy (0.5 = "
        "indistinguishable, 1 = separable).\n"
    )
    shape_rows = [
        "\n| group | mean log-Mel level (dB): real / synth (medians) "
        "| Fréchet spectral shape: half vs synth / vs real (ratio) "
        "| two-sample on spectral shape: bal. acc. (std) |",
        "|---|---|---|---|",
    ]
    for name, r in report["groups"].items():
        lv, fd = r["level_db"], r["frechet_log_mel_shape"]
        ts = r["two_sample_log_mel_shape"]["balanced_accuracy"]
        shape_rows.append(
            f"| {name} | {lv['real']['median']:.1f} / {lv['synth']['median']:.1f} "
            f"| {fd['half_vs_synth']['mean']:.0f} / {fd['half_vs_half']['mean']:.0f} "
            f"({fd['ratio']:.2f}) | {ts['mean']:.3f} ({ts['std']:.3f}) |"
        )
    notes += (
        "\n".join(shape_rows)
        + "\n\nSpectral shape: each log-Mel vector minus its mean over bands (level removed).\n"
    )
    null = report.get("coherence_null_white_noise")
    coh_rows = [
        "\n| group | coherence with best match: mean / max (medians) "
        "| real vs its best other real: mean / max | white-noise pairs: mean / max |",
        "|---|---|---|---|",
    ]
    for name, r in report["groups"].items():
        cs, cr = r["coherence_best_match"], r["coherence_real_loo_best_match"]
        cells = [
            f"{c['mean_coherence']['median']:.3f} / {c['max_coherence']['median']:.3f}"
            for c in (cs, cr) + ((null,) if null else ())
        ]
        coh_rows.append(f"| {name} | " + " | ".join(cells) + " |")
    coh_notes = (
        "\nCoherence: MATLAB mscohere defaults (8 Hamming segments, 50 % overlap) over the "
        "compared samples; 'mean' is over frequency, 'max' is the highest coherence peak. "
        "White-noise pairs show what the estimator gives for two unrelated signals.\n"
    )
    return head + "\n".join(rows) + "\n" + notes + "\n".join(coh_rows) + "\n" + coh_notes


def _realism(ctx: _Context, idx: np.ndarray, r_idx: np.ndarray) -> Optional[dict]:
    """The held-out realism test of one group, or None when nothing is held out."""
    held = r_idx[~ctx.train[r_idx]]
    if ctx.config.realism is None or held.size == 0:
        return None
    cfg = dataclasses.replace(ctx.config.realism, seed=ctx.seed)
    train = ctx.real_waves(r_idx[ctx.train[r_idx]])
    return realism.class_realism(
        ctx.synth_waves(idx), train, ctx.real_waves(held), ctx.dataset.sample_rate, cfg
    )


def _group_report(ctx: _Context, class_name: str, idx: np.ndarray, other_mel) -> dict:
    """Every measure of one group of synthesized sounds against the real sounds of its class.

    other_mel: one-frame log-Mel vectors [K, D] of the other classes' real sounds (or None).
    """
    r_idx, sr = ctx.real_idx(class_name), ctx.dataset.sample_rate
    synth, real = ctx.synth_waves(idx), ctx.real_waves(r_idx)
    rep = setwise.class_similarity(
        synth, real, sr, ctx.train[r_idx], ctx.seed, ctx.length, ctx.settings, ctx.config.repeats
    )
    rep["two_sample_log_mel_multiframe"] = scoreboard.multiframe_two_sample(
        synth, real, sr, ctx.length, ctx.settings, ctx.config.repeats.cv, ctx.seed
    )
    if other_mel is not None:
        rep["frechet_log_mel"]["real_vs_other_class_real"] = setwise.frechet_distance(
            setwise.log_mel_vectors(real, sr, ctx.length, ctx.settings), other_mel
        )
    bp = rep["best_pair"]
    a, b = idx[bp["synth_index"]], r_idx[bp["real_index"]]
    bp["synth_file"] = synth_folder.rel(ctx.folder.synth.paths[a])
    bp["real_file"] = synth_folder.rel(ctx.dataset.paths[b])
    bp["compare"] = pairwise.compare_pair(
        ctx.folder.synth.waveforms[a], ctx.dataset.waveforms[b], sr
    )
    col = synth_folder.source_column(ctx.folder.manifest)
    if col is not None:
        rep["source"] = _source_agreement(ctx, col, idx, r_idx, np.asarray(rep["best_index"]))
    rep["realism"] = _realism(ctx, idx, r_idx)
    return rep


def _class_figures(ctx: _Context, class_name: str, idx, rep: dict, out_dir: str) -> list:
    """Real beside synthesized sounds, and the three figures of the best-matching pair."""
    r_idx, bp = ctx.real_idx(class_name), rep["best_pair"]
    fig_dir = os.path.join(out_dir, "figures")
    paths = [
        scoreboard.plot_real_vs_synth(
            ctx.real_waves(r_idx[:4]),
            ctx.synth_waves(idx[:4]),
            ctx.dataset.sample_rate,
            os.path.join(fig_dir, f"{class_name}_real_vs_synth.png"),
            title=f"{class_name}: real (rows 1-2) vs synthesized (rows 3-4)",
            settings=ctx.settings,
        )
    ]
    return paths + similarity_figures.plot_pair(
        ctx.folder.synth.waveforms[idx[bp["synth_index"]]],
        ctx.dataset.waveforms[r_idx[bp["real_index"]]],
        ctx.dataset.sample_rate,
        os.path.join(fig_dir, f"{class_name}_best"),
        names=(f"synthesized {bp['synth_file']}", f"real {bp['real_file']}"),
    )


def _csv_rows(ctx: _Context, class_name: str, idx, best, peaks) -> list:
    """best_matches.csv lines of one class: synth file, class, mode, best real file, peak."""
    r_idx, modes = ctx.real_idx(class_name), ctx.folder.modes(idx)
    return [
        f"{synth_folder.rel(ctx.folder.synth.paths[i])},{class_name},{modes[k]},"
        f"{synth_folder.rel(ctx.dataset.paths[r_idx[best[k]]])},{peaks[k]:.6f}"
        for k, i in enumerate(idx)
    ]


def _other_class_mel(ctx: _Context, class_name: str) -> Optional[np.ndarray]:
    """One-frame log-Mel vectors [K, D] of the other classes' real sounds (None if none)."""
    others = np.flatnonzero(ctx.dataset.labels != ctx.dataset.class_names.index(class_name))
    if others.size == 0:
        return None
    return setwise.log_mel_vectors(
        ctx.real_waves(others), ctx.dataset.sample_rate, ctx.length, ctx.settings
    )


def _score_groups(ctx: _Context, out_dir: str) -> tuple[dict, list, list]:
    """(groups: name -> report, best_matches.csv lines, figure paths) of every class and mode."""
    groups, csv_rows, figure_paths = {}, [], []
    for c in ctx.folder.classes:
        other_mel = _other_class_mel(ctx, c)
        for name, idx in ctx.folder.groups(c):
            if len(idx) < synth_folder.MIN_GROUP:
                logging.warning("group %s has %d synthesized sounds: skipped", name, len(idx))
                continue
            logging.info("group %s: %d synthesized sounds", name, len(idx))
            rep = _group_report(ctx, c, idx, other_mel)
            best, peaks = np.asarray(rep.pop("best_index")), np.asarray(rep.pop("best_peak"))
            groups[name] = rep
            if name == c:
                csv_rows += _csv_rows(ctx, c, idx, best, peaks)
                if ctx.config.figures:
                    figure_paths += _class_figures(ctx, c, idx, rep, out_dir)
    return groups, csv_rows, figure_paths


def _pair_figures(ctx: _Context, pairs, out_dir: str) -> list:
    """The three figures of each asked (synth file, real file) pair."""
    paths = []
    for k, (a_rel, b_rel) in enumerate(pairs):
        paths += similarity_figures.plot_pair(
            ctx.folder.synth.waveforms[synth_folder.find(ctx.folder.synth, a_rel)],
            ctx.dataset.waveforms[synth_folder.find(ctx.dataset, b_rel)],
            ctx.dataset.sample_rate,
            os.path.join(out_dir, "figures", f"pair{k}"),
            names=(a_rel, b_rel),
        )
    return paths


def _scoreboard(ctx: _Context, groups: dict) -> list:
    first = next(iter(ctx.folder.manifest.values()), {})
    arch, loss = first.get("arch", "unknown"), first.get("loss", "unknown")
    return [scoreboard.scoreboard_row(name, r, arch, loss) for name, r in groups.items()]


def build_report(
    synth_dir: str,
    dataset: data.Dataset,
    out_dir: str,
    seed: int = 0,
    config: ReportConfig = ReportConfig(),
    settings: Optional[features.FeatureSettings] = None,
    pairs: Sequence[tuple[str, str]] = (),
) -> dict:
    """Compares ``<synth_dir>/<class>/*.wav`` with the real sounds of the same class.

    Args:
      synth_dir: folder of synthesized sounds, one sub-folder per class, optional manifest.csv
        (a 'mode' column splits each class into groups; a 'source_file' column, or else the
        first column naming a source, gives the real sound a synthesized one was decoded
        from, matched by file name within the class).
      dataset: the real sounds (``data.load_dataset``); classes are matched by name.
      out_dir: gets report.json, report.md, best_matches.csv and figures/*.png.
      seed: for the Fréchet reference halves, the cross-validation and the permutations.
      config: what to compute (``ReportConfig``).
      settings: log-Mel feature settings (default: the paper's at the dataset's rate).
      pairs: extra (synth file, real file) pairs to draw, paths relative to the two folders
        (e.g. ("anomaly/000.wav", "anomaly/fault_1.wav")).
    Returns the report dict (also written to report.json).
    """
    folder = synth_folder.load(synth_dir, dataset, config.skip_bad)
    length = min(int(folder.synth.lengths.min()), int(dataset.lengths.min()))
    train = synth_folder.train_mask(dataset, config.train_split)
    ctx = _Context(folder, dataset, config, settings, train, length, seed)
    groups, csv_rows, figure_paths = _score_groups(ctx, out_dir)
    figure_paths += _pair_figures(ctx, pairs, out_dir)
    manifest_path = os.path.join(synth_dir, synth_folder.SYNTH_MANIFEST)
    report = {
        "synth_dir": os.path.abspath(synth_dir),
        "synth_manifest_sha256": data.file_sha256(manifest_path) if folder.manifest else None,
        "sample_rate": dataset.sample_rate,
        "length": length,
        "train_split": config.train_split,
        "seed": seed,
        "skipped_synth_files": [str(b) for b in folder.synth.bad],
        "coherence_null_white_noise": setwise.coherence_null(
            length, dataset.sample_rate, np.random.default_rng(seed), config.null_pairs
        ),
        "groups": groups,
        "scoreboard": _scoreboard(ctx, groups),
        "realism": _realism_summary(groups),
        "figures": [os.path.relpath(p, out_dir) for p in figure_paths],
    }
    _write(out_dir, report, csv_rows)
    return report


def _realism_summary(groups: dict) -> dict:
    """The realism test's statistic and each group's headline row ({} when it was skipped)."""
    scored = {name: r["realism"] for name, r in groups.items() if r.get("realism")}
    return {
        "statistic": realism.STATISTIC,
        "rows": [realism.row(name, r) for name, r in scored.items()],
    }


def _write(out_dir: str, report: dict, csv_rows: list) -> None:
    scored = {n: r["realism"] for n, r in report["groups"].items() if r.get("realism")}
    files.atomic_write_json(os.path.join(out_dir, "report.json"), report)
    files.atomic_write_text(
        os.path.join(out_dir, "report.md"),
        markdown_table(report)
        + scoreboard.markdown(report["scoreboard"])
        + (realism.markdown({"classes": scored}) if scored else ""),
    )
    files.atomic_write_text(
        os.path.join(out_dir, "best_matches.csv"),
        "synth_file,class,mode,best_real_file,xcorr_peak\n" + "\n".join(csv_rows) + "\n",
    )


def score_realism(
    synth_dir: str,
    dataset: data.Dataset,
    out_dir: str,
    config: realism.RealismConfig = realism.RealismConfig(),
    skip_bad: bool = False,
) -> dict:
    """The held-out realism test alone of a synthesized folder, against the paper's test list
    (the generator trained on its train list): writes realism.json and realism.md, returns
    ``realism.realism_test``'s dict with one entry per group (class, then class/mode)."""
    folder = synth_folder.load(synth_dir, dataset, skip_bad)
    train = synth_folder.train_mask(dataset, "paper")
    ctx = _Context(folder, dataset, ReportConfig(realism=config), None, train, 0, config.seed)
    result = {"statistic": realism.STATISTIC, "config": dataclasses.asdict(config)}
    result["classes"] = {
        name: _realism(ctx, idx, ctx.real_idx(c))
        for c in folder.classes
        for name, idx in folder.groups(c)
        if len(idx) >= synth_folder.MIN_GROUP
    }
    result["skipped_synth_files"] = [str(b) for b in folder.synth.bad]
    files.atomic_write_json(os.path.join(out_dir, "realism.json"), result)
    files.atomic_write_text(os.path.join(out_dir, "realism.md"), realism.markdown(result))
    return result


def _source_agreement(ctx: _Context, col: str, idx, r_idx, best) -> dict:
    """How each synthesized sound relates to the real sound it was decoded from (if named)."""
    by_name = {os.path.basename(ctx.dataset.paths[i]): k for k, i in enumerate(r_idx)}
    src = []
    for i in idx:
        value = ctx.folder.manifest.get(synth_folder.rel(ctx.folder.synth.paths[i]), {})
        src.append(by_name.get(os.path.basename(value.get(col, "").replace("\\", "/")), -1))
    src = np.array(src)
    known = np.flatnonzero(src >= 0)
    if known.size == 0:
        return {"num_with_source": 0}
    peaks = [
        abs(
            pairwise.xcorr_coeff(
                ctx.folder.synth.waveforms[idx[k]][: ctx.length],
                ctx.dataset.waveforms[r_idx[src[k]]][: ctx.length],
                ctx.dataset.sample_rate,
            ).peak
        )
        for k in known
    ]
    return {
        "num_with_source": int(known.size),
        "best_match_is_source": float(np.mean(best[known] == src[known])),
        "abs_xcorr_with_source": setwise.summarize(peaks),
    }


def compare_files(
    a_path: str, b_path: str, out_dir: str, sample_rate: Optional[int] = None
) -> dict:
    """The paper's pair analysis of two WAV files: writes pair.json and the three figures.

    Raises data.AudioError for unreadable files or different sample rates.
    """
    a, rate_a = data.read_wav(a_path, sample_rate)
    b, rate_b = data.read_wav(b_path, sample_rate)
    if rate_a != rate_b:
        raise data.AudioError(
            b_path, f"sample rate {rate_b} Hz differs from {a_path}'s {rate_a} Hz"
        )
    result = {"a": os.path.abspath(a_path), "b": os.path.abspath(b_path), "sample_rate": rate_a}
    result.update(pairwise.compare_pair(a, b, rate_a))
    names = (os.path.basename(a_path), os.path.basename(b_path))
    figs = similarity_figures.plot_pair(a, b, rate_a, os.path.join(out_dir, "pair"), names)
    result["figures"] = [os.path.relpath(p, out_dir) for p in figs]
    files.atomic_write_json(os.path.join(out_dir, "pair.json"), result)
    return result
