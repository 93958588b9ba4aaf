"""PNG figures of two sounds like the paper's Figures 4-6: waves + xcorr, spectra, coherence."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from drill_jax import files
from drill_jax.similarity import pairwise


def _save(fig: Figure, path: str) -> str:
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return path


def plot_waveforms_xcorr(
    a, b, sample_rate: float, path: str, names: Sequence[str] = ("a", "b")
) -> str:
    """Both waveforms [T_a], [T_b] against time (ms) and their normalised cross-correlation
    (common part, MATLAB 'coeff') against lag (ms), peak marked. Writes ``path`` (PNG)."""
    xc = pairwise.xcorr_coeff(a, b, sample_rate)
    fig = Figure(figsize=(8, 7), layout="constrained")
    axes = fig.subplots(3, 1)
    for ax, x, name in zip(axes[:2], (a, b), names):
        x = np.asarray(x)
        ax.plot(1e3 * np.arange(x.shape[0]) / sample_rate, x, lw=0.6)
        ax.set(title=name, xlabel="time (ms)", ylabel="amplitude")
    ax = axes[2]
    ax.plot(1e3 * xc.lags_s, xc.coeffs, lw=0.6)
    ax.plot([1e3 * xc.peak_lag_s], [xc.peak], "ro")
    ax.set(
        title=f"normalised cross-correlation: peak {xc.peak:.3f} at lag {xc.peak_lag} samples "
        f"({1e3 * xc.peak_lag_s:.3f} ms), over {xc.length} samples",
        xlabel="lag (ms)",
        ylabel="coefficient",
        ylim=(-1.05, 1.05),
    )
    return _save(fig, path)


def plot_power_spectra(
    a, b, sample_rate: float, path: str, names: Sequence[str] = ("a", "b")
) -> str:
    """Periodogram PSDs (dB re 1/Hz) of both sounds against frequency (kHz). Writes ``path``."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    for ax, x, name in zip(axes, (a, b), names):
        f, p = pairwise.power_spectrum(x, sample_rate)
        ax.plot(f / 1e3, 10 * np.log10(np.maximum(p, 1e-20)), lw=0.6)
        ax.set(title=f"periodogram: {name}", ylabel="PSD (dB/Hz)")
    axes[1].set_xlabel("frequency (kHz)")
    return _save(fig, path)


def plot_coherence_phase(
    a,
    b,
    sample_rate: float,
    path: str,
    names: Sequence[str] = ("a", "b"),
    threshold: float = pairwise.COHERENCE_PEAK_THRESHOLD,
    annotate: int = 3,
) -> str:
    """Magnitude-squared coherence (MATLAB mscohere defaults) and cross-spectrum phase (degrees)
    against frequency (kHz), peaks above ``threshold`` marked, the ``annotate`` highest labelled.
    Writes ``path``."""
    coh = pairwise.coherence(a, b, sample_rate)
    peaks = pairwise.coherence_peaks(coh, threshold)
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax_c, ax_p = fig.subplots(2, 1, sharex=True)
    ax_c.plot(coh.freqs / 1e3, coh.cxy, lw=0.8)
    ax_c.axhline(threshold, color="gray", ls="--", lw=0.6)
    ax_c.plot(peaks.freqs / 1e3, peaks.cxy, "rv", ms=4)
    top = np.argsort(-peaks.cxy)[:annotate]
    for rank, i in enumerate(top[np.argsort(peaks.freqs[top])]):
        ax_c.annotate(
            f"{peaks.freqs[i]:.1f} Hz: {peaks.cxy[i]:.3f}, {peaks.phase_deg[i]:.0f} deg",
            (peaks.freqs[i] / 1e3, peaks.cxy[i]),
            xytext=(0.02 + 0.33 * rank, 0.93),
            textcoords="axes fraction",
            fontsize=7,
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "gray"},
        )
    ax_c.set(
        title=f"coherence (Hamming {coh.nperseg}, overlap {coh.noverlap}, nfft {coh.nfft}): "
        f"{peaks.freqs.shape[0]} peaks > {threshold}",
        ylabel="coherence",
        ylim=(0, 1.15),
    )
    ax_p.plot(coh.freqs / 1e3, coh.phase_deg, lw=0.6)
    ax_p.plot(peaks.freqs / 1e3, peaks.phase_deg, "rv", ms=4)
    ax_p.set(
        title="cross-spectrum phase angle(conj(A) B); A = first sound, positive = B leads",
        xlabel="frequency (kHz)",
        ylabel="phase (deg)",
        ylim=(-185, 185),
    )
    return _save(fig, path)


def plot_pair(
    a, b, sample_rate: float, prefix: str, names: Sequence[str] = ("a", "b")
) -> list[str]:
    """All three figures of a pair: ``<prefix>_xcorr.png``, ``_spectra.png``, ``_coherence.png``."""
    return [
        plot_waveforms_xcorr(a, b, sample_rate, f"{prefix}_xcorr.png", names),
        plot_power_spectra(a, b, sample_rate, f"{prefix}_spectra.png", names),
        plot_coherence_phase(a, b, sample_rate, f"{prefix}_coherence.png", names),
    ]
