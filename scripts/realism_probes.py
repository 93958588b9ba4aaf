"""Sampling rules on top of the realistic generator's design, scored on the training sounds
alone by the inner selection's route (``vae.selection``: the split, seeds and realism test of
``experiments.vae_select``; the held-out test list plays no part):

  python scripts/realism_probes.py > realism_probes.md    # rules 1, 2, 4
  python scripts/realism_critic.py > realism_critic.md    # rule 3

1. fixed kernel bandwidths instead of Silverman's rule, with and without shrinkage;
2. a median-level gain (``median_level_synthesize``);
3. a critic picking the best of several draws (``realism_critic.critic_synthesize``);
4. time-scaled training sounds (``time_scale_synthesize``).

Prints one Markdown table: per rule and class, the mean over 3 inner seeds x 2 sampling
modes of the two-sample balanced accuracies (their mean and each of the five), novelty,
level vs fit (dB) and the median MMD p, as in ``experiments.vae_select``'s table.
"""

import functools

import jax
import numpy as np
from absl import flags

from drill_jax import data, recipes
from drill_jax.similarity import duplicates, realism, setwise
from drill_jax.vae import generators, latents, onset_decoder, pca_reference, selection
from experiments import vae_select

SEEDS = (0, 1, 2)
BANDWIDTHS = (0.1, 0.2, 0.3, 0.5, 0.7)
SIGMAS = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)
DESIGN = "pca64_class (the design: Silverman's bandwidth, median per-sound gain)"


def median_level_synthesize(config, clips, key):
    """``selection.synthesize`` of ``config`` (no level rule), every sound then scaled by
    median RMS(clips) / median RMS(posterior draws around the clips)."""
    model, sounds = selection.fit_and_draw(config, clips, key)
    around = generators.sample(model, config, jax.random.fold_in(key, 7), len(clips),
                               "posterior", clips)[0]
    gain = np.median(pca_reference.rms(clips)) / np.median(pca_reference.rms(around))
    return {m: np.clip(s * gain, -1.0, 1.0).astype(np.float32) for m, s in sounds.items()}


def features(clips, sample_rate, sets):
    """{set: [N, D]} of the realism test's feature sets of clips [N, T]."""
    feats = realism.feature_sets(np.asarray(clips, np.float32), sample_rate,
                                 realism.RealismConfig())
    return {s: feats[s] for s in sets}


def fit_ratio(mel, fit_mel):
    """Each sound's distance to its nearest fit sound over the fit sounds' typical
    nearest-neighbour distance (one-frame log-Mel [M, D] against [N, D]) -> [M]."""
    d_ff = setwise.euclidean_distances(fit_mel, fit_mel)
    return setwise.nn_distance_ratio(setwise.euclidean_distances(mel, fit_mel), d_ff).ratio


def time_scaled(clips, onsets, factors):
    """Clips [M, T] read at speeds ``factors`` [M] about their ``onsets`` [M] (samples):
    y(t) = x(onset + (t - onset) r), linear interpolation, zero outside. -> [M, T]."""
    t = np.arange(clips.shape[1], dtype=np.float64)
    return np.stack([np.interp(o + (t - o) * r, t, x, left=0.0, right=0.0)
                     for x, o, r in zip(clips, onsets, factors)])


def time_scale_synthesize(config, clips, key, sample_rate):
    """``num_synth`` training sounds per mode (the source, or each in turn in a key-shuffled
    order) read at speed exp(sigma eps), eps ~ N(0, 1), about their onset (the ringing
    frequency moves by 1 / r, the decay and the transients' spacing by r), at the source's
    RMS level; sigma the smallest of ``SIGMAS`` whose draws around the fit sounds have a
    median ``fit_ratio`` >= 1."""
    clips = np.asarray(clips, np.float64)
    n, num = len(clips), config.synthesis.num_synth
    onsets = onset_decoder.onset_time(clips).astype(np.float64)
    cal_key, post_key, prior_key, post_pick, prior_pick = jax.random.split(key, 5)
    mel = features(clips, sample_rate, ("one_frame",))["one_frame"]

    def draw(idx, eps, sigma):
        y = time_scaled(clips[idx], onsets[idx], np.exp(sigma * eps))
        return pca_reference.scale_to(y, pca_reference.rms(clips[idx]))

    eps = np.asarray(jax.random.normal(cal_key, (n,)), np.float64)

    def novel(sigma):
        y_mel = features(draw(np.arange(n), eps, sigma), sample_rate, ("one_frame",))
        return np.median(fit_ratio(y_mel["one_frame"], mel)) >= 1.0

    sigma = next((s for s in SIGMAS if novel(s)), SIGMAS[-1])
    return {mode: draw(latents.cycle(pick, n, num),
                       np.asarray(jax.random.normal(k, (num,)), np.float64), sigma)
            for mode, k, pick in (("posterior", post_key, post_pick),
                                  ("prior", prior_key, prior_pick))}


def table_rows(name, rows):
    """One Markdown line per class of ``selection.run`` rows of one rule."""
    lines = []
    for cls in dict.fromkeys(r["class"] for r in rows):
        mine = [r for r in rows if r["class"] == cls]
        ba = np.mean([[r[k] for k in selection.TWO_SAMPLE] for r in mine], axis=0)
        cells = [name, cls, f"{ba.mean():.3f}", *(f"{b:.3f}" for b in ba),
                 f"{np.mean([selection.novelty(r) for r in mine]):.2f}",
                 f"{np.mean([selection.level_vs_fit(r) for r in mine]):+.1f}",
                 f"{np.median([r['mmd_p'] for r in mine]):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def print_table(ds: data.Dataset, rules: dict) -> None:
    """Scores every rule (name -> (config, synthesize)) by the inner route on ``ds`` (the
    bundled sounds) and prints the table (module docstring)."""
    flags.FLAGS(["realism_probes"])
    score = functools.partial(vae_select._score, ds.sample_rate)
    run = functools.partial(selection.run, ds, duplicates.fold_groups(ds, "grouped"),
                            seeds=SEEDS, fraction=1 / 3, score=score)
    head = ["rule", "class", "mean BA", *selection.TWO_SAMPLE, "novelty", "level vs fit (dB)",
            "MMD p (median)"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, (config, synth) in rules.items():
        print("\n".join(table_rows(name, run(candidates={name: config}, synthesize=synth))),
              flush=True)


def main():
    ds, design, plain = data.load_dataset(), recipes.realism_candidates(), selection.synthesize
    rules = {DESIGN: (design["pca64_class"], plain)}
    rules.update({f"bandwidth {h}": (recipes.vae_pca(64, level="class", bandwidth=h), plain)
                  for h in BANDWIDTHS})
    rules.update({f"bandwidth {h}, no shrinkage":
                  (recipes.vae_pca(64, level="class", bandwidth=h, shrink=False), plain)
                  for h in (0.2, 0.4)})
    rules["median-level gain"] = (design["pca64"], median_level_synthesize)
    rules["time-scaled training sounds"] = (
        design["pca64_class"],
        functools.partial(time_scale_synthesize, sample_rate=ds.sample_rate))
    print_table(ds, rules)


if __name__ == "__main__":
    main()
