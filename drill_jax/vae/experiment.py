"""The paper's VAE experiment: one VAE per class on the paper's split, test ELBO per epoch,
synthesis, WAVs with a manifest, summary and figures (``python -m experiments.vae``)."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
import time

import jax
import numpy as np
from absl import logging

from drill_jax import data, files
from drill_jax.vae import figures as vae_figures
from drill_jax.vae import generators, losses, synthesis
from drill_jax.vae.trainer import VAEConfig


def _manifest_csv(rows: list) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def train_and_synthesize(
    dataset: data.Dataset,
    config: VAEConfig,
    out_dir: str,
    resume: bool = False,
    figures: bool = True,
) -> dict:
    """The paper's VAE experiment: one VAE per class, test ELBO per epoch, synthesis.

    Uses the paper's split (``data.paper_vae_split``: even positions train, odd test),
    the first ``config.network.input_length`` samples of each sound (zero-padded if shorter).

    Writes under ``out_dir``: config.json; <class>/checkpoint.msgpack and
    <class>/metrics.jsonl; metrics.jsonl (all classes, one JSON per epoch with a
    'class' field); synth/<class>/NNN.wav (16-bit PCM at the dataset's rate);
    synth/manifest.csv (class, file, mode, source split and file, seed, z); summary.json;
    figures (PNG) unless ``figures=False``.

    Returns the summary: per class final test ELBO, throughput, wall time, WAV count.
    """
    wall = time.perf_counter()
    x_all = data.stack_fixed(dataset.waveforms, config.network.input_length, "zero")
    _write_config(out_dir, dataset, config)
    train_idx, test_idx = data.paper_vae_split(dataset.labels)
    train_root, synth_root = jax.random.split(jax.random.key(config.seed))
    histories, manifest, summary, figure_data = {}, [], {"classes": {}}, {}

    def write_metrics(current_class, history):
        histories[current_class] = history
        lines = [json.dumps({"class": c, **r.to_json()}) for c in histories for r in histories[c]]
        files.atomic_write_text(os.path.join(out_dir, "metrics.jsonl"), "\n".join(lines) + "\n")

    for ci, name in enumerate(dataset.class_names):
        tr = train_idx[dataset.labels[train_idx] == ci]
        te = test_idx[dataset.labels[test_idx] == ci]
        if tr.size == 0:
            raise ValueError(f"class {name!r} has no training sounds")
        logging.info("class %s: %d train, %d test sounds", name, tr.size, te.size)
        state, history = generators.fit(
            x_all[tr],
            x_all[te] if te.size else None,
            config,
            jax.random.fold_in(train_root, ci),
            workdir=os.path.join(out_dir, name),
            resume=resume,
            on_epoch=functools.partial(write_metrics, name),
        )
        write_metrics(name, history)
        src = te if config.synthesis.synth_from_test else tr
        synth_key = jax.random.fold_in(synth_root, ci)
        sounds, info = _synthesize(state, config, synth_key, x_all, src, tr)
        manifest += _write_sounds(out_dir, dataset, config, name, sounds, info, src)
        summary["classes"][name] = _class_summary(x_all, tr, te, history, len(sounds))
        if figures and generators.get(config.network.arch).LATENT_PLANE:
            figure_data[name] = _figure_inputs(state, x_all, tr, te, sounds, info, src)
        elif figures:
            figure_data[name] = {"examples": _examples(x_all, tr, sounds, info, src)}
    files.atomic_write_text(os.path.join(out_dir, "synth", "manifest.csv"), _manifest_csv(manifest))
    if figures:
        _draw_figures(out_dir, histories, figure_data, dataset.sample_rate, config)
    summary["num_wavs"] = len(manifest)
    summary["wall_seconds"] = time.perf_counter() - wall
    files.atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    return summary


def _write_config(out_dir: str, dataset: data.Dataset, config: VAEConfig) -> None:
    """<out_dir>/config.json: the VAE config and what the data was."""
    t = config.network.input_length
    files.atomic_write_json(
        os.path.join(out_dir, "config.json"),
        {
            "vae": dataclasses.asdict(config),
            "data": {
                "sample_rate": dataset.sample_rate,
                "class_names": list(dataset.class_names),
                "num_sounds": len(dataset),
                "num_zero_padded_to_input_length": int(np.sum(dataset.lengths < t)),
                "split": "paper_vae_split (even positions train, odd test)",
            },
        },
    )


def _synthesize(model, config: VAEConfig, key, x_all, src, tr) -> tuple[np.ndarray, dict]:
    """One class's synthesized sounds (config.synthesis) around x_all[src] (posterior) or
    new ones (prior); the class's training sounds are x_all[tr]."""
    synth = config.synthesis
    split = "test" if synth.synth_from_test else "train"
    if synth.synth_mode == "posterior" and src.size == 0:
        raise ValueError(f"no {split} sounds to synthesize from")
    sources = x_all[src] if synth.synth_mode == "posterior" else None
    return generators.sample(
        model, config, key, synth.num_synth, synth.synth_mode, sources, split, x_all[tr]
    )


def _write_sounds(out_dir, dataset, config: VAEConfig, name, sounds, info, src) -> list:
    """Writes synth/<name>/NNN.wav; returns their manifest rows."""
    rows = []
    learned = generators.get(config.network.arch).LEARNED
    for k, sound in enumerate(sounds):
        rel = os.path.join(name, f"{k:03d}.wav")
        data.write_wav(os.path.join(out_dir, "synth", rel), sound, dataset.sample_rate)
        j = int(info["source_index"][k])
        rows.append(
            {
                "class": name,
                "file": rel,
                "mode": info["mode"],
                "source_split": info["source_split"] or "",
                "source_file": dataset.paths[src[j]] if j >= 0 else "",
                "seed": config.seed,
                "z": " ".join(f"{v:.6f}" for v in info["z"][k]),
                "arch": config.network.arch,
                "loss": config.loss.recon if learned else "none",
            }
        )
    return rows


def _class_summary(x_all, tr, te, history, num_synth: int) -> dict:
    """One class's figures for summary.json."""
    last = history[-1].to_json() if history else {}
    rates = [r.train_examples_per_s for r in history[1:]]
    return {
        "num_train": int(tr.size),
        "num_test": int(te.size),
        "final_train_loss": last.get("train_loss"),
        "final_test_elbo": last.get("eval_elbo"),
        "final_test_recon": last.get("eval_recon"),
        "final_test_kl": last.get("eval_kl"),
        # The BCE reconstruction cannot go below the targets' entropy.
        "test_bce_floor": float(np.mean(losses.bce_floor(x_all[te]))) if te.size else None,
        "train_examples_per_s_after_first_epoch": float(np.median(rates)) if rates else None,
        "num_synth": num_synth,
    }


def _figure_inputs(state, x_all, tr, te, sounds, info, src) -> dict:
    """Encodings, decoded grid and example pairs for one class's figures."""
    mean_tr = synthesis.encode(state, x_all[tr])[0]
    mean_te = synthesis.encode(state, x_all[te])[0] if te.size else None
    proj = vae_figures.LatentProjection.fit(mean_tr)
    grid_2d = vae_figures.grid_points(proj, size=5)  # [5, 5, 2]
    grid_z = proj.inverse(grid_2d.reshape(-1, 2))
    grid_waves = synthesis.decode(state, grid_z)
    return {
        "projection": proj,
        "train": mean_tr,
        "test": mean_te,
        "synth": info["z"],
        "grid_2d": grid_2d,
        "grid_waves": grid_waves.reshape(grid_2d.shape[:2] + (-1,)),
        "examples": _examples(x_all, tr, sounds, info, src),
    }


def _examples(x_all, tr, sounds, info, src) -> list:
    """Up to 3 (original [T], synthesized [T]) pairs: the source, else a training sound."""
    examples = []
    for k in range(min(3, sounds.shape[0])):
        j = int(info["source_index"][k])
        original = x_all[src[j]] if j >= 0 else x_all[tr[k % tr.size]]
        examples.append((original, sounds[k]))
    return examples


def _draw_figures(out_dir, histories, figure_data, sample_rate, config) -> None:
    if any(histories.values()):
        vae_figures.plot_loss_curves(histories, os.path.join(out_dir, "loss_curves.png"))
    if generators.get(config.network.arch).LATENT_PLANE:
        vae_figures.plot_latent_plane(figure_data, os.path.join(out_dir, "latent_plane.png"))
        vae_figures.plot_decoded_grid(
            figure_data, sample_rate, os.path.join(out_dir, "decoded_grid.png")
        )
    vae_figures.plot_overlays(
        figure_data,
        sample_rate,
        os.path.join(out_dir, "originals_vs_synth.png"),
        mode=config.synthesis.synth_mode,
    )
