"""Error audit: which real sounds a detector gets wrong across repeated folds, and why.

From an evaluation's fold reports (each holds the held-out sounds' origins, labels and
P(positive), ``protocols.fold_report``) this module gathers every real sound's out-of-fold
predictions over all repeats, lists the sounds misclassified in most repeats with what
describes them (file, clip length, level, band energies, nearest neighbours in each class)
and compares those properties with their class's typical values, so a user of a tiny
dataset knows which recordings to check.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from drill_jax import data as data_lib
from drill_jax.features import clipstats

BAND_EDGES_HZ = (0.0, 1000.0, 4000.0, 10000.0, 22000.0, 40000.0, 48000.0)


def out_of_fold(folds: list) -> dict:
    """Per real sound (origin id): {'label', 'p': [P(positive) per fold it was held out in]}.

    Raises ValueError when the fold reports carry no predictions (made before they did)."""
    per: dict = {}
    for f in folds:
        if "test_origin" not in f:
            raise ValueError("fold reports hold no out-of-fold predictions ('test_origin')")
        for o, y, p in zip(f["test_origin"], f["test_label"], f["test_p_positive"]):
            entry = per.setdefault(int(o), {"label": int(y), "p": []})
            entry["p"].append(float(p))
    return per


def sound_properties(ds: data_lib.Dataset, crop: Optional[int] = None) -> dict:
    """What describes each sound as the evaluation saw it (first ``crop`` samples):
    {'length' [N] samples, 'level_db' [N] RMS dBFS, 'bands_db' [N, B] share of power per
    band (dB), 'band_names', 'log_mel' [N, 32] dB (one 1999-sample frame mean)}."""
    sr = ds.sample_rate
    clips = [w[:crop] if crop else w for w in ds.waveforms]
    edges = tuple(e for e in BAND_EDGES_HZ if e < sr / 2) + (sr / 2,)
    settings = clipstats.ClipStatsSettings(
        sample_rate=sr,
        sets=("band_energy_ratios", "time_stats", "log_mel_stats"),
        band_edges_hz=edges,
        resolutions=((min(1999, min(len(c) for c in clips)), 1487, 32),),
        percentiles=(),
    )
    x = clipstats.clip_stats(settings, clips)
    nb = len(edges) - 1
    return {
        "length": np.array([len(w) for w in ds.waveforms]),
        "level_db": x[:, nb],
        "bands_db": x[:, :nb],
        "band_names": [f"{edges[i] / 1000:g}-{edges[i + 1] / 1000:g} kHz" for i in range(nb)],
        "log_mel": x[:, nb + 5 : nb + 5 + 32],
    }


def audit(
    result: dict,
    ds: data_lib.Dataset,
    min_share: float = 0.5,
) -> dict:
    """The sounds misclassified in at least ``min_share`` of the folds they were held out
    in (threshold 0.5 on P(``ds.positive_class``)), most often first, then by confidence.

    Returns {'n_sounds', 'n_hard', 'min_share', 'hard': [row, ...], 'common': [row, ...]}:
    a hard row names the file, class, wrong/scored count, mean P(class 'positive'), clip
    length, level, band shares and the nearest sound of each class (cosine distance of
    the log-Mel); 'common' compares the hard sounds' median of each property with the
    median of all sounds of the same classes.
    """
    positive_index = ds.positive_index
    oof = out_of_fold(result["folds"])
    crop = (result.get("config") or {}).get("crop")
    props = sound_properties(ds, crop)
    index = {int(g): i for i, g in reversed(list(enumerate(ds.groups)))}
    lm = props["log_mel"] - props["log_mel"].mean(axis=0)
    lm = lm / np.maximum(np.linalg.norm(lm, axis=1, keepdims=True), 1e-12)
    rows = []
    for origin, entry in oof.items():
        i = index[origin]
        p = np.asarray(entry["p"])
        wrong = (p >= 0.5) != (entry["label"] == positive_index)
        if wrong.mean() < min_share:
            continue
        dist = 1.0 - lm @ lm[i]
        dist[i] = np.inf
        row = {
            "file": os.path.basename(ds.paths[i]),
            "class": ds.class_names[entry["label"]],
            "wrong": int(wrong.sum()),
            "scored": int(p.size),
            f"mean_p_{ds.class_names[positive_index]}": float(p.mean()),
            "length": int(props["length"][i]),
            "level_db": float(props["level_db"][i]),
        }
        row.update(
            {f"band {n} (dB)": float(v) for n, v in zip(props["band_names"], props["bands_db"][i])}
        )
        for c, name in enumerate(ds.class_names):
            j = int(np.argmin(np.where(ds.labels == c, dist, np.inf)))
            row[f"nearest {name}"] = f"{os.path.basename(ds.paths[j])} ({dist[j]:.2f})"
        rows.append(row)
    rows.sort(key=lambda r: (-r["wrong"] / r["scored"], r["file"]))
    return {
        "n_sounds": len(oof),
        "n_hard": len(rows),
        "min_share": min_share,
        "hard": rows,
        "common": _common(rows, ds, props),
    }


def _common(rows: list, ds: data_lib.Dataset, props: dict) -> list:
    """Median of each property for the hard sounds of each class vs all of that class."""
    by_name = {os.path.basename(p): i for i, p in enumerate(ds.paths)}
    out = []
    for c, name in enumerate(ds.class_names):
        hard = [by_name[r["file"]] for r in rows if r["class"] == name]
        if not hard:
            continue
        every = np.flatnonzero(ds.labels == c)
        values = {
            "length": props["length"],
            "level_db": props["level_db"],
            "file number": np.array([_file_number(p) for p in ds.paths], float),
        }
        values.update(
            {f"band {n} (dB)": props["bands_db"][:, k] for k, n in enumerate(props["band_names"])}
        )
        for prop, v in values.items():
            out.append(
                {
                    "class": name,
                    "property": prop,
                    "hard_median": float(np.nanmedian(v[hard])),
                    "class_median": float(np.nanmedian(v[every])),
                    "n_hard": len(hard),
                }
            )
    return out


def _file_number(path: str) -> float:
    digits = "".join(ch if ch.isdigit() else " " for ch in os.path.basename(path)).split()
    return float(digits[-1]) if digits else float("nan")


def to_markdown(report: dict) -> str:
    """The audit as two markdown tables (hard sounds; what they have in common)."""
    lines = [
        f"{report['n_hard']} of {report['n_sounds']} sounds were misclassified in at least "
        f"{100 * report['min_share']:.0f} % of the folds that held them out.",
        "",
    ]
    if report["hard"]:
        cols = list(report["hard"][0])
        lines += ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
        for r in report["hard"]:
            lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
        lines += ["", "| class | property | median of the hard sounds | median of the class |"]
        lines.append("| --- | --- | --- | --- |")
        for r in report["common"]:
            lines.append(
                f"| {r['class']} (n={r['n_hard']}) | {r['property']} | "
                f"{_fmt(r['hard_median'])} | {_fmt(r['class_median'])} |"
            )
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)
