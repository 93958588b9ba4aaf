"""Per-class similarity report of a folder of synthesized sounds against a real dataset."""

from __future__ import annotations

import csv
import os
from typing import Optional, Sequence

import numpy as np
from absl import logging

from drill_jax import data, features, files
from drill_jax.similarity import figures as similarity_figures
from drill_jax.similarity import pairwise, scoreboard, setwise

SYNTH_MANIFEST = "manifest.csv"
_PATH_COLUMNS = ("path", "file", "filename", "wav", "synth_path")


def read_synth_manifest(synth_dir: str) -> dict:
    """``<synth_dir>/manifest.csv`` as {"<class>/<file>.wav": row dict}; {} when absent.

    The file column is the first of path/file/filename/wav/synth_path present; a bare file name
    is keyed under the row's ``class`` column.
    """
    path = os.path.join(synth_dir, SYNTH_MANIFEST)
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    col = next((c for c in _PATH_COLUMNS if c in rows[0]), None)
    if col is None:
        raise ValueError(f"{path}: no file column (one of {_PATH_COLUMNS}) in {list(rows[0])}")
    out = {}
    for row in rows:
        rel = row[col].replace("\\", "/")
        if "/" not in rel and row.get("class"):
            rel = f"{row['class']}/{rel}"
        out["/".join(rel.split("/")[-2:])] = row
    return out


def _source_column(manifest: dict) -> Optional[str]:
    if not manifest:
        return None
    keys = list(next(iter(manifest.values())).keys())
    for want in (("source", "file"), ("source", "path"), ("source",)):
        found = [k for k in keys if all(w in k.lower() for w in want)]
        if found:
            return found[0]
    return None


def _rel(path: str) -> str:
    return "/".join(os.path.normpath(path).replace(os.sep, "/").split("/")[-2:])


def _train_mask(dataset: data.Dataset, train_split: str) -> np.ndarray:
    if train_split == "all":
        return np.ones(len(dataset), bool)
    if train_split == "paper":
        mask = np.zeros(len(dataset), bool)
        mask[data.paper_vae_split(dataset.labels)[0]] = True
        return mask
    raise ValueError(f"train_split must be 'paper' or 'all', got {train_split!r}")


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


def build_report(
    synth_dir: str,
    dataset: data.Dataset,
    out_dir: str,
    seed: int = 0,
    skip_bad: bool = False,
    train_split: str = "paper",
    figures: bool = True,
    pairs: Sequence[tuple[str, str]] = (),
    cv_repeats: int = 4,
    fd_repeats: int = 20,
    null_pairs: int = 200,
    settings: Optional[features.FeatureSettings] = None,
) -> dict:
    """Compares ``<synth_dir>/<class>/*.wav`` with the real sounds of the same class.

    Args:
      settings: log-Mel feature settings (default: the paper's at the dataset's rate).
      synth_dir: folder of synthesized sounds, one sub-folder per class, optional manifest.csv
        (a 'mode' column splits each class into groups; a 'source_file' column, or else the
        first column naming a source, gives the real sound a synthesized one was decoded
        from, matched by file name within the class).
      dataset: the real sounds (``data.load_dataset``); classes are matched by name.
      out_dir: gets report.json, report.md, best_matches.csv and figures/*.png.
      seed: for the Fréchet reference halves and the cross-validation.
      skip_bad: skip unreadable synthesized files (listed in the report) instead of raising.
      train_split: the generator's training sounds for the memorisation check: 'paper'
        (``data.paper_vae_split``) or 'all' real sounds of the class.
      figures: write the three figures of each class's best-matching pair.
      pairs: extra (synth file, real file) pairs to draw, paths relative to the two folders
        (e.g. ("anomaly/000.wav", "anomaly/fault_1.wav")).
      cv_repeats, fd_repeats: repeats of the two-sample CV and of the Fréchet reference halves;
      null_pairs: white-noise pairs for the coherence null reference.
    Returns the report dict (also written to report.json).
    """
    synth = data.load_dataset(
        synth_dir,
        sample_rate=dataset.sample_rate,
        skip_bad=skip_bad,
        verify_manifest=False,
    )
    manifest = read_synth_manifest(synth_dir)
    source_col = _source_column(manifest)
    train = _train_mask(dataset, train_split)
    rng = np.random.default_rng(seed)
    sr = dataset.sample_rate
    classes = [c for c in synth.class_names if c in dataset.class_names]
    if not classes:
        raise ValueError(
            f"no class of {synth_dir} ({synth.class_names}) is in the dataset {dataset.class_names}"
        )
    real_idx = {c: np.flatnonzero(dataset.labels == k) for k, c in enumerate(dataset.class_names)}
    length = min(int(synth.lengths.min()), int(dataset.lengths.min()))
    mel = {
        c: setwise.log_mel_vectors(
            [dataset.waveforms[i] for i in real_idx[c]], sr, length, settings
        )
        for c in dataset.class_names
    }
    groups, csv_rows, figure_paths = {}, [], []
    for c in classes:
        s_idx = np.flatnonzero(synth.labels == synth.class_names.index(c))
        r_idx = real_idx[c]
        modes = np.array([manifest.get(_rel(synth.paths[i]), {}).get("mode", "") for i in s_idx])
        subsets = [(c, s_idx)]
        if len(set(modes)) > 1:
            subsets += [(f"{c}/{m}", s_idx[modes == m]) for m in sorted(set(modes))]
        for name, idx in subsets:
            if len(idx) < 5:
                logging.warning("group %s has %d synthesized sounds: skipped", name, len(idx))
                continue
            logging.info("group %s: %d synthesized vs %d real", name, len(idx), len(r_idx))
            rep = setwise.class_similarity(
                [synth.waveforms[i] for i in idx],
                [dataset.waveforms[i] for i in r_idx],
                sr,
                train_mask=train[r_idx],
                rng=rng,
                seed=seed,
                settings=settings,
                length=length,
                cv_repeats=cv_repeats,
                fd_repeats=fd_repeats,
            )
            rep["two_sample_log_mel_multiframe"] = scoreboard.multiframe_two_sample(
                [synth.waveforms[i] for i in idx],
                [dataset.waveforms[i] for i in r_idx],
                sr,
                length,
                settings,
                cv_repeats,
                seed,
            )
            others = [o for o in dataset.class_names if o != c]
            if others:
                rep["frechet_log_mel"]["real_vs_other_class_real"] = setwise.frechet_distance(
                    mel[c], np.concatenate([mel[o] for o in others])
                )
            best = np.asarray(rep.pop("best_index"))
            peaks = np.asarray(rep.pop("best_peak"))
            bp = rep["best_pair"]
            a_path, b_path = (
                synth.paths[idx[bp["synth_index"]]],
                dataset.paths[r_idx[bp["real_index"]]],
            )
            bp["synth_file"], bp["real_file"] = _rel(a_path), _rel(b_path)
            bp["compare"] = pairwise.compare_pair(
                synth.waveforms[idx[bp["synth_index"]]],
                dataset.waveforms[r_idx[bp["real_index"]]],
                sr,
            )
            if source_col is not None:
                rep["source"] = _source_agreement(
                    manifest,
                    source_col,
                    [synth.paths[i] for i in idx],
                    [synth.waveforms[i] for i in idx],
                    dataset,
                    r_idx,
                    best,
                    sr,
                    length,
                )
            groups[name] = rep
            if name == c:
                for k, i in enumerate(idx):
                    csv_rows.append(
                        f"{_rel(synth.paths[i])},{c},{modes[k]},{_rel(dataset.paths[r_idx[best[k]]])},"
                        f"{peaks[k]:.6f}"
                    )
                if figures:
                    figure_paths.append(
                        scoreboard.plot_real_vs_synth(
                            [dataset.waveforms[i] for i in r_idx[:4]],
                            [synth.waveforms[i] for i in idx[:4]],
                            sr,
                            os.path.join(out_dir, "figures", f"{c}_real_vs_synth.png"),
                            title=f"{c}: real (rows 1-2) vs synthesized (rows 3-4)",
                            settings=settings,
                        )
                    )
                    figure_paths += similarity_figures.plot_pair(
                        synth.waveforms[idx[bp["synth_index"]]],
                        dataset.waveforms[r_idx[bp["real_index"]]],
                        sr,
                        os.path.join(out_dir, "figures", f"{c}_best"),
                        names=(f"synthesized {bp['synth_file']}", f"real {bp['real_file']}"),
                    )
    for k, (a_rel, b_rel) in enumerate(pairs):
        a = _find(synth, a_rel)
        b = _find(dataset, b_rel)
        figure_paths += similarity_figures.plot_pair(
            synth.waveforms[a],
            dataset.waveforms[b],
            sr,
            os.path.join(out_dir, "figures", f"pair{k}"),
            names=(a_rel, b_rel),
        )
    report = {
        "synth_dir": os.path.abspath(synth_dir),
        "synth_manifest_sha256": (
            data.file_sha256(os.path.join(synth_dir, SYNTH_MANIFEST)) if manifest else None
        ),
        "sample_rate": sr,
        "length": length,
        "train_split": train_split,
        "seed": seed,
        "skipped_synth_files": [str(b) for b in synth.bad],
        "coherence_null_white_noise": setwise.coherence_null(length, sr, rng, null_pairs),
        "groups": groups,
        "scoreboard": [
            scoreboard.scoreboard_row(
                name, r, first.get("arch", "unknown"), first.get("loss", "unknown")
            )
            for first in [next(iter(manifest.values()), {})]
            for name, r in groups.items()
        ],
        "figures": [os.path.relpath(p, out_dir) for p in figure_paths],
    }
    files.atomic_write_json(os.path.join(out_dir, "report.json"), report)
    files.atomic_write_text(
        os.path.join(out_dir, "report.md"),
        markdown_table(report) + scoreboard.markdown(report["scoreboard"]),
    )
    files.atomic_write_text(
        os.path.join(out_dir, "best_matches.csv"),
        "synth_file,class,mode,best_real_file,xcorr_peak\n" + "\n".join(csv_rows) + "\n",
    )
    return report


def _find(ds: data.Dataset, rel: str) -> int:
    rel = rel.replace("\\", "/")
    for i, p in enumerate(ds.paths):
        if _rel(p) == "/".join(rel.split("/")[-2:]):
            return i
    raise FileNotFoundError(f"{rel}: not among the loaded sounds")


def _source_agreement(manifest, col, paths, waves, dataset, r_idx, best, sr, length) -> dict:
    """How each synthesized sound relates to the real sound it was decoded from (if named)."""
    by_name = {os.path.basename(dataset.paths[i]): k for k, i in enumerate(r_idx)}
    src = []
    for p in paths:
        value = manifest.get(_rel(p), {}).get(col, "")
        src.append(by_name.get(os.path.basename(value.replace("\\", "/")), -1))
    src = np.array(src)
    known = np.flatnonzero(src >= 0)
    if known.size == 0:
        return {"num_with_source": 0}
    peaks = [
        abs(
            pairwise.xcorr_coeff(
                waves[k][:length], dataset.waveforms[r_idx[src[k]]][:length], sr
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
