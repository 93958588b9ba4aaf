"""Choosing a generator design on the training sounds alone (an inner split), so that the
held-out test sounds that score the chosen design play no part in choosing it.

The route (``experiments.vae_select``): per inner seed s, the paper's VAE TRAIN list is split
per class into a fit part and a validation part (``inner_split``: about ``fraction`` of each
class's sounds in validation, whole groups of near-duplicates on one side); every candidate
design (``drill_jax.recipes.realism_candidates``) is fitted on each class's fit part with
seed s and draws ``num_synth`` posterior and ``num_synth`` prior sounds (``synthesize``),
which a scorer (the realism test, ``similarity.realism.class_realism``) compares with the
validation part. ``choose`` then applies the stated rule:

1. eligible: as novel as a real sound. A run's (inner seed x class x sampling mode) novelty
   is its median memorisation ratio over the target 1, or over the validation sounds' own
   ratio where that is lower (with few fit sounds a real held-out sound can sit nearer
   its nearest fit sound than the fit sounds sit to each other); in every class the mean
   novelty over the runs must be >= 1; and at the level of the sounds it was fitted on: in
   every class the mean over the runs of the draws' median level minus the fit sounds'
   median level (dB) must lie within ``LEVEL_TOLERANCE_DB`` (measured on the fit sounds,
   so the validation sounds' own level, which differs from the fit sounds' by up to 3 dB
   with about 11 of them, plays no part);
2. a run's score is the mean of its two-sample balanced accuracies (``TWO_SAMPLE``:
   one-frame, the three multi-frame windows, summary; 0.5 = indistinguishable); the best
   candidate has the lowest mean score over the runs among the eligible;
3. one-standard-error rule (Breiman et al. 1984): the first eligible candidate in the
   given order (the current design first, then the simpler changes) whose mean paired
   difference to the best over the runs is at most its standard error is chosen, so that
   a difference the test's noise explains changes nothing.

The count of target checks passed, the MMD p-value and the level difference to the
validation sounds are reported beside it, not ranked on (with about 11 validation sounds
per class even two real halves fail some checks).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import jax
import numpy as np

from drill_jax import data
from drill_jax.data import splits
from drill_jax.vae import generators
from drill_jax.vae.configs import VAEConfig

MODES = ("posterior", "prior")
LEVEL_TOLERANCE_DB = 1.0  # eligibility: |draws' level - fit sounds' level|, class mean
TWO_SAMPLE = ("one_frame", "multi_frame_128", "multi_frame_256", "multi_frame_512", "summary")


def inner_split(
    labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices into the dataset: the paper's VAE train list
    (``data.paper_vae_split``) split per class by ``splits.stratified_holdout`` with
    ``groups`` [N] (whole groups on one side), about ``fraction`` of it in validation."""
    train, _ = data.paper_vae_split(labels)
    fit, val = splits.stratified_holdout(labels[train], fraction, seed, np.asarray(groups)[train])
    return train[fit], train[val]


def fit_and_draw(config: VAEConfig, clips: np.ndarray, key: jax.Array) -> tuple:
    """(the generator of ``config`` fitted on one class's clips [N, T], ``synthesize``'s
    sounds): for a sampling rule that also needs the fitted generator."""
    fit_key, post_key, prior_key = jax.random.split(key, 3)
    model, _ = generators.fit(clips, None, config, fit_key)
    num = config.synthesis.num_synth
    post = generators.sample(model, config, post_key, num, "posterior", clips)[0]
    prior = generators.sample(model, config, prior_key, num, "prior", train_sounds=clips)[0]
    return model, {"posterior": post, "prior": prior}


def synthesize(config: VAEConfig, clips: np.ndarray, key: jax.Array) -> dict:
    """{'posterior': [num, T], 'prior': [num, T]} float32 sounds of the generator of
    ``config`` fitted on one class's clips [N, T] (num = config.synthesis.num_synth;
    posterior sources: the same clips)."""
    return fit_and_draw(config, clips, key)[1]


def run(
    dataset: data.Dataset,
    groups: np.ndarray,
    candidates: Mapping[str, VAEConfig],
    seeds: Sequence[int],
    fraction: float,
    score: Callable[[str, np.ndarray, list, list], dict],
    synthesize: Callable[[VAEConfig, np.ndarray, jax.Array], dict] = synthesize,
) -> list:
    """One row per (candidate, inner seed, class, mode): {'candidate', 'seed', 'class',
    'mode', **score(class name, synthesized [num, T], fit sounds, validation sounds)}.
    candidates: name -> config (its seed is not read: inner seed s keys every fit and draw);
    sounds are the dataset's waveforms [T_i]; ``synthesize`` (config, one class's fit clips
    [N, T], key) -> {mode: sounds [num, T]} draws them (default: the generator of the
    config, ``synthesize``; another function lets a sampling rule built on top of a
    generator be scored the same way)."""
    rows = []
    for seed in seeds:
        fit, val = inner_split(dataset.labels, groups, fraction, seed)
        for name, config in candidates.items():
            x = data.stack_fixed(dataset.waveforms, config.network.input_length, "zero")
            for ci, cname in enumerate(dataset.class_names):
                f, v = fit[dataset.labels[fit] == ci], val[dataset.labels[val] == ci]
                key = jax.random.fold_in(jax.random.key(seed), ci)
                sounds = synthesize(config, x[f], key)
                real = [[dataset.waveforms[i] for i in idx] for idx in (f, v)]
                for mode in MODES:
                    head = {"candidate": name, "seed": seed, "class": cname, "mode": mode}
                    rows.append({**head, **score(cname, sounds[mode], *real)})
    return rows


def novelty(row: dict) -> float:
    """A run's memorisation ratio over min(1, the validation sounds' own ratio)."""
    return row["memorisation"] / min(1.0, row["reference_memorisation"])


def level_vs_fit(row: dict) -> float:
    """A run's median level of the draws minus the fit sounds' (dB): both are measured
    against the same validation sounds, whose level cancels."""
    return row["level_difference_db"] - row["reference_level_difference_db"]


def summarize(rows: Sequence[dict]) -> list:
    """One row per candidate (in first-seen order): 'runs', 'two_sample' (the rule's mean
    balanced accuracy), the mean of each of ``TWO_SAMPLE``, 'mmd_p' (median),
    'memorisation_min', 'novelty' (the lowest class mean of ``novelty``), 'level_db_max'
    (largest |level difference| to the validation sounds), 'level_vs_fit_db' (the largest
    class mean |``level_vs_fit``|), 'checks_passed' (fraction of the target checks),
    'eligible' (novelty >= 1, level_vs_fit_db <= ``LEVEL_TOLERANCE_DB``), and the paired
    difference of the run scores to the best eligible candidate's, 'diff_vs_best' (mean)
    and 'se_vs_best' (its standard error)."""
    out, scores = [], {}
    for name in dict.fromkeys(r["candidate"] for r in rows):
        mine = sorted((r for r in rows if r["candidate"] == name), key=_run)
        ba = np.array([[r[k] for k in TWO_SAMPLE] for r in mine])
        scores[name] = ba.mean(axis=1)
        classes = dict.fromkeys(r["class"] for r in mine)
        per_class = [[r for r in mine if r["class"] == c] for c in classes]
        nov = min(np.mean([novelty(r) for r in runs]) for runs in per_class)
        lvl = max(abs(np.mean([level_vs_fit(r) for r in runs])) for runs in per_class)
        checks = [ok for r in mine for ok in r["passes"].values()]
        out.append(
            {
                "candidate": name,
                "runs": len(mine),
                "two_sample": float(ba.mean()),
                **{k: float(v) for k, v in zip(TWO_SAMPLE, ba.mean(axis=0))},
                "mmd_p": float(np.median([r["mmd_p"] for r in mine])),
                "memorisation_min": float(min(r["memorisation"] for r in mine)),
                "novelty": float(nov),
                "level_db_max": float(max(abs(r["level_difference_db"]) for r in mine)),
                "level_vs_fit_db": float(lvl),
                "checks_passed": float(np.mean(checks)),
                "eligible": bool(nov >= 1.0 and lvl <= LEVEL_TOLERANCE_DB),
            }
        )
    eligible = [r for r in out if r["eligible"]]
    best = min(eligible, key=lambda r: r["two_sample"])["candidate"] if eligible else None
    for r in out:
        d = scores[r["candidate"]] - scores[best] if best else np.full(2, np.nan)
        r["diff_vs_best"] = float(d.mean())
        r["se_vs_best"] = float(d.std(ddof=1) / np.sqrt(d.size))
    return out


def _run(row: dict) -> tuple:
    """A run's identity, the same for every candidate: (inner seed, class, mode)."""
    return row["seed"], row["class"], row["mode"]


def choose(summary: Sequence[dict]) -> str:
    """The candidate the rule (module docstring) picks from ``summarize``'s rows."""
    for r in summary:
        if r["eligible"] and r["diff_vs_best"] <= r["se_vs_best"]:
            return r["candidate"]
    raise ValueError(
        "no candidate is as novel as a real sound (novelty >= 1) at its fit sounds' level"
    )


def markdown(summary: Sequence[dict], chosen: str) -> str:
    """``summarize``'s rows as a Markdown table, the chosen candidate marked."""
    head = ["candidate", "mean BA", "vs best (SE)", *TWO_SAMPLE, "MMD p (median)", "novelty"]
    head += ["level vs fit (dB)", "max. abs. level diff. (dB)", "checks passed"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary:
        name = f"**{r['candidate']}** (chosen)" if r["candidate"] == chosen else r["candidate"]
        cells = [name, f"{r['two_sample']:.3f}"]
        cells.append(f"{r['diff_vs_best']:+.3f} ({r['se_vs_best']:.3f})")
        cells += [f"{r[k]:.3f}" for k in (*TWO_SAMPLE, "mmd_p")]
        cells += [f"{r['novelty']:.2f}", f"{r['level_vs_fit_db']:.1f}", f"{r['level_db_max']:.1f}"]
        cells.append(f"{100 * r['checks_passed']:.0f} %")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
