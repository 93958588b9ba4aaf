"""Realism sweep of generator designs, in one process: `python -m experiments.generator_sweep`.

For each design (a ``drill_jax.recipes.vae`` name, with the VAE flags given applied) and
seed: one generator per class fitted on the
paper's train list (keys as ``experiments.vae``), 48 posterior (training-list sources) and
48 aggregate-prior sounds per class, scored against all real sounds of the class exactly as
``experiments.similarity`` scores a synth folder (``setwise.class_similarity`` + the
multi-frame two-sample test). Writes sweep.json (every row) and sweep.md (means over
seeds) under --out_dir.

    python -m experiments.generator_sweep --designs=noise,noise_burst,interp --seeds=0,1,2
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time

import jax
import numpy as np
from absl import flags

from drill_jax import data, files
from drill_jax.similarity import realism, scoreboard, setwise
from drill_jax.vae import configs, generators
from experiments import common, vae_flags

common.define_data_flags("runs/generator_sweep")
_DESIGNS = flags.DEFINE_list("designs", ["noise", "interp"], "Generator recipes to compare.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds (one run of each design per seed).")
_MODES = flags.DEFINE_list("modes", ["posterior", "prior"], "Synthesis modes scored.")
_CLASSES = flags.DEFINE_list("score_classes", None, "Classes scored (default: every class).")
_VAE = vae_flags.define(None)
_COLUMNS = (
    "two_sample_log_mel",
    "two_sample_multiframe",
    "two_sample_shape",
    "frechet_ratio",
    "level_difference_db",
    "memorisation_median",
    "heldout_one_frame",
    "heldout_multi_frame_max",
    "heldout_summary",
    "heldout_mmd_p",
    "heldout_memorisation",
    "train_s",
)


def score_design(ds, config: configs.VAEConfig, modes) -> list:
    """Scoreboard rows (one per class and mode) of one design and seed."""
    tr_all, _ = data.paper_vae_split(ds.labels)
    x_all = data.stack_fixed(ds.waveforms, config.network.input_length, "zero")
    length = min(config.network.input_length, int(ds.lengths.min()))
    train_root, synth_root = jax.random.split(jax.random.key(config.seed))
    rows = []
    for ci, name in enumerate(ds.class_names):
        if _CLASSES.value and name not in _CLASSES.value:
            continue
        tr = tr_all[ds.labels[tr_all] == ci]
        real_idx = np.flatnonzero(ds.labels == ci)
        start = time.perf_counter()
        model, _ = generators.fit(x_all[tr], None, config, jax.random.fold_in(train_root, ci))
        seconds = time.perf_counter() - start
        for mode in modes:
            synth = dataclasses.replace(config.synthesis, synth_mode=mode)
            cfg = dataclasses.replace(config, synthesis=synth)
            sounds, _ = generators.sample(
                model,
                cfg,
                jax.random.fold_in(synth_root, ci),
                synth.num_synth,
                mode,
                x_all[tr] if mode == "posterior" else None,
                "train",
                train_sounds=x_all[tr],
            )
            real = [ds.waveforms[i] for i in real_idx]
            mask = np.isin(real_idx, tr)
            rep = setwise.class_similarity(
                list(sounds), real, ds.sample_rate, train_mask=mask, seed=0, length=length
            )
            rep["two_sample_log_mel_multiframe"] = scoreboard.multiframe_two_sample(
                list(sounds), real, ds.sample_rate, length
            )
            rep["realism"] = realism.class_realism(
                list(sounds), [real[i] for i in np.flatnonzero(mask)],
                [real[i] for i in np.flatnonzero(~mask)], ds.sample_rate,
            )
            arch = config.network.arch
            loss = config.loss.recon if generators.get(arch).LEARNED else "none"
            row = scoreboard.scoreboard_row(name, rep, arch, loss)
            row.update(mode=mode, seed=config.seed, train_s=seconds)
            rows.append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    return rows


def mean_table(rows) -> str:
    """Markdown: per design, mode and class, the mean of each column over seeds."""
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["generator"], r["mode"], r["group"])].append(r)
    lines = [
        "| design | mode | class | seeds | " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * (4 + len(_COLUMNS)),
    ]
    for (gen, mode, cls), rs in groups.items():
        means = [np.mean([r[c] for r in rs]) for c in _COLUMNS]
        lines.append(
            f"| {gen} | {mode} | {cls} | {len(rs)} | "
            + " | ".join(f"{m:.2f}" for m in means)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    ds = common.load_data_from_flags()
    out_dir = common.FLAGS.out_dir
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for arch in _DESIGNS.value:
        for seed in _SEEDS.value:
            config = _VAE.build(arch, seed=int(seed))
            rows += score_design(ds, config, _MODES.value)
            files.atomic_write_json(os.path.join(out_dir, "sweep.json"), {"rows": rows})
    table = mean_table(rows)
    files.atomic_write_text(os.path.join(out_dir, "sweep.md"), table)
    print(table)


if __name__ == "__main__":
    common.run_main(main)
