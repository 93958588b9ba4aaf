"""Choose the realistic generator's design on the training sounds alone (``vae.selection``):
every candidate of ``recipes.realism_candidates`` is fitted on a fit part of the paper's
VAE train list and scored by the realism test against the rest of that list; the held-out
test list plays no part.

python -m experiments.vae_select --out_dir=runs/vae_select

Writes rows.json (every run), summary.json and selection.md (one row per candidate, the
chosen one marked) under --out_dir.
"""

from __future__ import annotations

import functools
import os

from absl import app, flags, logging

from drill_jax import files, recipes
from drill_jax.similarity import duplicates, realism
from drill_jax.vae import selection
from experiments import common

common.define_data_flags("runs/vae_select")
_CANDIDATES = flags.DEFINE_list(
    "candidates", None, "Designs compared (recipes.realism_candidates names; default: all)."
)
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Inner split and generator seeds.")
_FRACTION = flags.DEFINE_float(
    "fraction", 1 / 3, "Share of each class's train list held out for validation."
)


def _score(sample_rate: int, name: str, synth, fit: list, val: list) -> dict:
    """The realism test's table row of synthesized sounds [num, T] against the validation
    sounds (fit sounds: the memorisation reference), with its verdict."""
    result = realism.class_realism(list(synth), fit, val, sample_rate)
    return {**realism.row(name, result), "passes": result["passes"]}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    table = recipes.realism_candidates()
    names = _CANDIDATES.value or list(table)
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; one of {sorted(table)}")
    dataset = common.load_data_from_flags()
    rows = selection.run(
        dataset,
        duplicates.fold_groups(dataset, "grouped"),
        {name: table[name] for name in names},
        [int(s) for s in _SEEDS.value],
        _FRACTION.value,
        functools.partial(_score, dataset.sample_rate),
    )
    out_dir = flags.FLAGS.out_dir
    files.atomic_write_json(os.path.join(out_dir, "rows.json"), rows)
    summary = selection.summarize(rows)
    chosen = selection.choose(summary)
    record = {"chosen": chosen, "rows": summary}
    files.atomic_write_json(os.path.join(out_dir, "summary.json"), record)
    files.atomic_write_text(
        os.path.join(out_dir, "selection.md"), selection.markdown(summary, chosen)
    )
    logging.info("chosen: %s\n%s", chosen, selection.markdown(summary, chosen))


if __name__ == "__main__":
    common.run_main(main)
