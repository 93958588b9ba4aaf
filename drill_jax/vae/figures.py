"""Figures of the VAE experiment (PNG): loss curves, latent plane, decoded grid, overlays.

Plotting only: the arrays come from ``train_vae`` (encodings, decoded waveforms,
synthesized sounds). Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot
global state) and written atomically.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from drill_jax import features, files
from drill_jax.features import images

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


@dataclasses.dataclass(frozen=True)
class LatentProjection:
    """Maps latent codes [N, Z] to a plane [N, 2] and back.

    Z == 2: identity. Z == 1: (z, 0). Z > 2: the first two principal components of the
    codes it was fitted on (``inverse`` maps plane points back to Z dimensions).
    """

    latent_dim: int
    pca: Optional[PCA] = None

    @classmethod
    def fit(cls, codes: np.ndarray) -> "LatentProjection":
        """Fits on codes [N, Z] (PCA needs N >= 2 when Z > 2)."""
        codes = np.asarray(codes, np.float64)
        if codes.ndim != 2 or codes.shape[0] < 1:
            raise ValueError(f"codes must be [N >= 1, Z], got shape {codes.shape}")
        z = codes.shape[1]
        if z <= 2:
            return cls(z)
        if codes.shape[0] < 2:
            raise ValueError("PCA of the latent codes needs at least 2 codes")
        return cls(z, PCA(n_components=2).fit(codes))

    @property
    def axis_names(self) -> tuple[str, str]:
        return ("PC1", "PC2") if self.pca is not None else ("z1", "z2")

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """[N, Z] -> [N, 2]."""
        codes = np.asarray(codes, np.float64)
        if codes.ndim != 2 or codes.shape[1] != self.latent_dim:
            raise ValueError(f"codes must be [N, {self.latent_dim}], got shape {codes.shape}")
        if self.pca is not None:
            return self.pca.transform(codes)
        if self.latent_dim == 1:
            return np.concatenate([codes, np.zeros_like(codes)], axis=1)
        return codes

    def inverse(self, points: np.ndarray) -> np.ndarray:
        """[N, 2] -> [N, Z] float32 (for Z == 1 the second coordinate is dropped)."""
        points = np.asarray(points, np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"points must be [N, 2], got shape {points.shape}")
        if self.pca is not None:
            return self.pca.inverse_transform(points).astype(np.float32)
        return points[:, : self.latent_dim].astype(np.float32)


def grid_points(projection: LatentProjection, size: int = 5, extent: float = 2.0) -> np.ndarray:
    """A size x size grid of plane points [size, size, 2], row 0 = highest second coordinate.

    Identity projections span [-extent, extent] (prior standard deviations); PCA
    projections span +-extent standard deviations of each fitted component.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    scale = np.ones(2)
    if projection.pca is not None:
        scale = np.sqrt(projection.pca.explained_variance_)
    u = np.linspace(-extent, extent, size) * scale[0]
    v = np.linspace(extent, -extent, size) * scale[1]
    if projection.latent_dim == 1:
        v = np.zeros(size)
    return np.stack(np.meshgrid(u, v), axis=-1)


def _save(fig: Figure, path: str) -> None:
    files.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def plot_loss_curves(histories: dict, path: str) -> None:
    """Per-epoch train loss and test -ELBO, reconstruction and KL, one colour per class.

    histories: {class name: list of ``training.EpochRecord`` from ``trainer.train_class_vae``}.
    """
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        ("loss", "-elbo", "loss = -ELBO (nats / sound)"),
        ("recon", "recon", "reconstruction"),
        ("kl", "kl", "KL"),
    )
    for (train_key, eval_key, title), ax in zip(panels, axes):
        for color, (name, history) in zip(_COLORS, histories.items()):
            epochs = [r.epoch for r in history]
            ax.plot(
                epochs,
                [getattr(r, f"train_{train_key}") for r in history],
                "-o",
                ms=3,
                color=color,
                label=f"{name} train",
            )
            if history and history[0].eval_elbo is not None:
                if eval_key == "-elbo":
                    values = [-r.eval_elbo for r in history]
                else:
                    values = [getattr(r, f"eval_{eval_key}") for r in history]
                ax.plot(epochs, values, "--s", ms=3, color=color, label=f"{name} test")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path)


def plot_latent_plane(figure_data: dict, path: str) -> None:
    """One panel per class VAE: posterior means of its train and test sounds, and the
    latent codes of its synthesized sounds, on the latent plane (or first two PCs).

    figure_data: {class: {'projection', 'train' [N, Z], 'test' [M, Z] or None,
    'synth' [K, Z]}}.
    """
    n = len(figure_data)
    fig = Figure(figsize=(5 * n, 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, color, (name, d) in zip(axes, _COLORS, figure_data.items()):
        proj = d["projection"]
        syn = proj.transform(d["synth"])
        ax.scatter(syn[:, 0], syn[:, 1], marker="x", s=18, color="0.55", label="synthesized z")
        tr = proj.transform(d["train"])
        ax.scatter(tr[:, 0], tr[:, 1], s=22, color=color, label="train (posterior mean)")
        if d.get("test") is not None:
            te = proj.transform(d["test"])
            ax.scatter(
                te[:, 0],
                te[:, 1],
                s=22,
                facecolors="none",
                edgecolors=color,
                label="test (posterior mean)",
            )
        if proj.pca is None:
            circle = np.linspace(0, 2 * np.pi, 200)
            ax.plot(
                2 * np.cos(circle), 2 * np.sin(circle), ":", color="0.4", lw=0.8, label="prior 2 sd"
            )
        ax.set_xlabel(proj.axis_names[0])
        ax.set_ylabel(proj.axis_names[1])
        ax.set_title(f"{name} VAE latent plane")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    _save(fig, path)


def plot_decoded_grid(figure_data: dict, sample_rate: int, path: str) -> None:
    """Waveforms decoded at a grid of latent-plane points, one block per class.

    figure_data: {class: {'grid_2d' [G, G, 2], 'grid_waves' [G, G, T], 'projection'}}.
    """
    n = len(figure_data)
    fig = Figure(figsize=(6 * n, 6), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(1, n))
    for sub, color, (name, d) in zip(subfigs, _COLORS, figure_data.items()):
        waves, points = d["grid_waves"], d["grid_2d"]
        rows, cols = points.shape[:2]
        axes = sub.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
        t_ms = np.arange(waves.shape[-1]) * 1e3 / sample_rate
        lim = max(float(np.abs(waves).max()), 1e-3)
        names = d["projection"].axis_names
        for i in range(rows):
            for j in range(cols):
                ax = axes[i, j]
                ax.plot(t_ms, waves[i, j], lw=0.4, color=color)
                ax.set_ylim(-lim, lim)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"({points[i, j, 0]:.1f}, {points[i, j, 1]:.1f})", fontsize=6)
        sub.suptitle(
            f"{name}: decoded across the latent plane ({names[0]}, {names[1]}); "
            f"y range +-{lim:.2f}, {t_ms[-1]:.1f} ms",
            fontsize=9,
        )
    _save(fig, path)


def plot_overlays(figure_data: dict, sample_rate: int, path: str, mode: str = "posterior") -> None:
    """Originals vs synthesized sounds: waveform overlay and both log-Mel images.

    figure_data: {class: {'examples': list of (original [T], synthesized [T])}}. With
    ``mode='posterior'`` the original is the synthesized sound's source; with 'prior' it
    is a training sound of the class, for scale only. Both Mel images of a row share
    one dB range, so their brightness compares loudness.
    """
    rows = [(name, o, s) for name, d in figure_data.items() for o, s in d["examples"]]
    if not rows:
        raise ValueError("no examples to plot")
    settings = features.FeatureSettings(sample_rate=int(sample_rate), band_hz=None)
    fig = Figure(figsize=(12, 2.3 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False, width_ratios=(3, 1, 1))
    for r, (name, original, synth) in enumerate(rows):
        t_ms = np.arange(original.shape[-1]) * 1e3 / sample_rate
        ax = axes[r, 0]
        ax.plot(
            t_ms,
            original,
            lw=0.5,
            color="0.3",
            label="original" if mode == "posterior" else "a training sound",
        )
        ax.plot(t_ms, synth, lw=0.5, color="tab:red", alpha=0.8, label="synthesized")
        ax.set_ylabel(name)
        ax.legend(fontsize=7, loc="upper right")
        if r == len(rows) - 1:
            ax.set_xlabel("time (ms)")
        db = features.extract(settings, np.stack([original, synth]).astype(np.float32))
        lo, hi = float(db.min()), float(db.max())
        for c, (image_db, title) in enumerate(((db[0], "original"), (db[1], "synthesized"))):
            axes[r, c + 1].imshow(images.render_image(image_db, db_range=(lo, hi)))
            axes[r, c + 1].set_title(f"{title} log-Mel", fontsize=8)
            axes[r, c + 1].axis("off")
    _save(fig, path)
