"""The error audit's figure: each hard sound's waveform and log-Mel against the class means."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from drill_jax import data as data_lib
from drill_jax import files
from drill_jax.evaluation import audit as audit_lib


def plot_hard_sounds(report: dict, ds: data_lib.Dataset, path: str, crop=None, limit=8) -> str:
    """One row per hard sound (at most ``limit``): its waveform (ms; the first ``crop``
    samples, as evaluated) and its 32-band log-Mel (dB, one frame) beside the mean of each
    class, with its nearest neighbours in the title. Writes ``path`` (PNG) atomically."""
    rows = report["hard"][:limit]
    if not rows:
        raise ValueError("the audit found no hard sounds to plot")
    props = audit_lib.sound_properties(ds, crop)
    by_name = {os.path.basename(p): i for i, p in enumerate(ds.paths)}
    fig = Figure(figsize=(11, 2.4 * len(rows)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), 2))
    for (ax_w, ax_m), row in zip(axes, rows):
        i = by_name[row["file"]]
        x = ds.waveforms[i][:crop] if crop else ds.waveforms[i]
        ax_w.plot(1e3 * np.arange(len(x)) / ds.sample_rate, x, lw=0.5)
        ax_w.set(
            title=f"{row['file']} ({row['class']}): wrong {row['wrong']}/{row['scored']}",
            xlabel="time (ms)",
            ylabel="amplitude",
        )
        for c, name in enumerate(ds.class_names):
            mean = props["log_mel"][ds.labels == c].mean(axis=0)
            ax_m.plot(mean, lw=1.5, alpha=0.6, label=f"mean {name}")
        ax_m.plot(props["log_mel"][i], "k", lw=1.0, label=row["file"])
        near = "; ".join(f"{k[8:]}: {v}" for k, v in row.items() if k.startswith("nearest "))
        ax_m.set(title=f"nearest {near}", xlabel="Mel band", ylabel="dB")
        ax_m.title.set_fontsize(8)
        ax_m.legend(fontsize=7)
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return path


def write_audit(result: dict, ds: data_lib.Dataset, out_dir: str) -> dict:
    """Runs the audit of an evaluation and writes OUT/audit.json, OUT/audit.md and (when
    some sound is hard) OUT/audit.png. Returns the audit report."""
    report = audit_lib.audit(result, ds)
    os.makedirs(out_dir, exist_ok=True)
    files.atomic_write_json(os.path.join(out_dir, "audit.json"), report)
    title = f"# Error audit: {result.get('row', {}).get('row', '')}\n\n{result['label']}\n\n"
    files.atomic_write_text(
        os.path.join(out_dir, "audit.md"), title + audit_lib.to_markdown(report)
    )
    if report["hard"]:
        crop = (result.get("config") or {}).get("crop")
        plot_hard_sounds(report, ds, os.path.join(out_dir, "audit.png"), crop)
    return report
