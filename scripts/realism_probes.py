"""Three sampling rules on top of the realistic generator's design, scored on the training
sounds alone by the inner selection's route (``vae.selection``, the split, seeds and realism
test of ``experiments.vae_select``; the held-out test list plays no part):

  python scripts/realism_probes.py > realism_probes.md

1. kernel bandwidth: ``pca64_class`` with a fixed kernel bandwidth h (in standard
   deviations of each coordinate) instead of Silverman's rule (about 0.92 for 64
   components of about 23 fit sounds), with and without shrinkage: do draws nearer their
   kernel's training sound look more real, and in which class do they start to copy?
2. median-level gain: ``pca64`` (Griffin-Lim's own level) with one gain per class fitted so
   that the median RMS level of posterior draws around the fit sounds equals the fit sounds'
   median level (the design's gain is the median of per-sound ratios instead);
3. critic: each sound the best of R draws (the same source or kernel, keys folded in) by a
   logistic-regression critic trained to tell the class's fit sounds from the draws,
   cross-fitted (5 folds over the draws: no draw is scored by a critic that saw it); the
   guard keeps only draws at least as far from their nearest fit sound (one-frame log-Mel)
   as the fit sounds typically are from each other (ratio >= 1), or the farthest draw if
   none is. Critic features: the realism test's log-Mel sets (whole band) or its summary
   features;
4. time-scaled training sounds: each sound a training sound (the source, or each training
   sound in turn in a key-shuffled order) read at speed r = exp(sigma eps), eps ~ N(0, 1),
   about its onset (the onset stays, the ringing frequency moves by 1 / r, the decay and the
   transients' spacing by r), at its source's RMS level; sigma the smallest of ``SIGMAS``
   whose draws around the fit sounds have a median nearest-fit-sound ratio >= 1 (as far
   from their nearest fit sound as the fit sounds are from each other).

Prints one Markdown table: per rule and class, the mean over 3 inner seeds x 2 sampling
modes of the mean two-sample balanced accuracy and of each of its five parts, novelty
(memorisation ratio over min(1, the validation sounds' own)), level vs fit (dB) and the
median MMD p, as in ``experiments.vae_select``'s table.
"""

import functools

import jax
import numpy as np
import sklearn.linear_model
import sklearn.model_selection
import sklearn.pipeline
import sklearn.preprocessing
import threadpoolctl
from absl import flags

from drill_jax import data, recipes
from drill_jax.similarity import duplicates, realism, setwise
from drill_jax.vae import generators, latents, onset_decoder, pca_reference, selection
from experiments import vae_select

SEEDS = (0, 1, 2)
BANDWIDTHS = (0.1, 0.2, 0.3, 0.5, 0.7)
LOG_MEL_SETS = ("one_frame", "multi_frame_128", "multi_frame_256", "multi_frame_512")
SIGMAS = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)


def median_level_synthesize(config, clips, key):
    """``selection.synthesize`` of ``config`` (no level rule), every sound then scaled by
    median RMS(clips) / median RMS(posterior draws around the clips, from the fit key)."""
    sounds = selection.synthesize(config, clips, key)
    model, _ = generators.fit(clips, None, config, jax.random.split(key, 3)[0])
    around = generators.sample(
        model, config, jax.random.fold_in(key, 7), len(clips), "posterior", clips
    )
    gain = np.median(pca_reference.rms(clips)) / np.median(pca_reference.rms(around[0]))
    return {m: np.clip(s * gain, -1.0, 1.0).astype(np.float32) for m, s in sounds.items()}


def critic_features(clips, sample_rate, sets):
    """([N, D] the realism-test feature sets ``sets`` of clips [N, T] side by side (D = 0
    for no set), [N, n_mels] their one-frame log-Mel)."""
    config = realism.RealismConfig()
    feats = realism.feature_sets(np.asarray(clips, np.float32), sample_rate, config)
    joined = [feats[s] for s in sets] or [np.zeros((len(clips), 0))]
    return np.concatenate(joined, axis=1), feats["one_frame"]


def cross_fitted_synth_probability(real, cands, seed=0):
    """[M] probability that each draw [M, D] is synthetic, from critics trained on the real
    [N, D] and the draws outside its fold (5 folds over the draws)."""
    prob = np.zeros(len(cands))
    folds = sklearn.model_selection.KFold(5, shuffle=True, random_state=seed)
    for tr, te in folds.split(cands):
        critic = sklearn.pipeline.make_pipeline(
            sklearn.preprocessing.StandardScaler(),
            sklearn.linear_model.LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced"),
        )
        x = np.concatenate([real, cands[tr]])
        y = np.r_[np.zeros(len(real)), np.ones(len(tr))]
        with threadpoolctl.threadpool_limits(1):
            prob[te] = critic.fit(x, y).predict_proba(cands[te])[:, 1]
    return prob


def critic_synthesize(config, clips, key, sample_rate, sets, draws, guard):
    """Each of ``num_synth`` sounds per mode the best of ``draws`` candidates (module
    docstring); ``guard``: keep only candidates with nearest-fit-sound ratio >= 1."""
    fit_key, post_key, prior_key = jax.random.split(key, 3)
    model, _ = generators.fit(clips, None, config, fit_key)
    num = config.synthesis.num_synth
    real, real_mel = critic_features(clips, sample_rate, sets)
    d_tt = setwise.euclidean_distances(real_mel, real_mel)
    out = {}
    for mode, mode_key in (("posterior", post_key), ("prior", prior_key)):
        cands = np.stack(
            [
                generators.sample(
                    model, config, jax.random.fold_in(mode_key, r), num, mode,
                    clips if mode == "posterior" else None, train_sounds=clips,
                )[0]
                for r in range(draws)
            ]
        )  # [R, num, T]
        flat = cands.reshape(draws * num, -1)
        x, mel = critic_features(flat, sample_rate, sets)
        prob = cross_fitted_synth_probability(real, x).reshape(draws, num)
        ratio = setwise.nn_distance_ratio(setwise.euclidean_distances(mel, real_mel), d_tt)
        ratio = ratio.ratio.reshape(draws, num)
        rank = np.where(ratio >= 1.0, prob, 2.0 - ratio) if guard else prob
        out[mode] = cands[rank.argmin(axis=0), np.arange(num)]
    return out


def time_scaled(clips, onsets, factors):
    """Clips [M, T] read at speeds ``factors`` [M] about their ``onsets`` [M] (samples):
    y(t) = x(onset + (t - onset) r), linear interpolation, zero outside. -> [M, T]."""
    t = np.arange(clips.shape[1], dtype=np.float64)
    return np.stack(
        [np.interp(o + (t - o) * r, t, x, left=0.0, right=0.0)
         for x, o, r in zip(clips, onsets, factors)]
    )


def time_scale_synthesize(config, clips, key, sample_rate):
    """{'posterior', 'prior'}: ``num_synth`` time-scaled training sounds each (module
    docstring, rule 4)."""
    clips = np.asarray(clips, np.float64)
    n, num = len(clips), config.synthesis.num_synth
    onsets = onset_decoder.onset_time(clips).astype(np.float64)
    cal_key, post_key, prior_key, post_pick, prior_pick = jax.random.split(key, 5)
    _, mel = critic_features(clips, sample_rate, ())
    d_tt = setwise.euclidean_distances(mel, mel)

    def draw(idx, eps, sigma):
        y = time_scaled(clips[idx], onsets[idx], np.exp(sigma * eps))
        return pca_reference.scale_to(y, pca_reference.rms(clips[idx]))

    eps = np.asarray(jax.random.normal(cal_key, (n,)), np.float64)
    sigma = SIGMAS[-1]
    for s in SIGMAS:
        _, y_mel = critic_features(draw(np.arange(n), eps, s), sample_rate, ())
        ratio = setwise.nn_distance_ratio(setwise.euclidean_distances(y_mel, mel), d_tt).ratio
        if np.median(ratio) >= 1.0:
            sigma = s
            break
    out = {}
    for mode, draw_key, pick_key in (("posterior", post_key, post_pick),
                                     ("prior", prior_key, prior_pick)):
        idx = latents.cycle(pick_key, n, num)
        out[mode] = draw(idx, np.asarray(jax.random.normal(draw_key, (num,)), np.float64), sigma)
    return out


def summary_rows(name, rows):
    """One line per class of ``selection.run`` rows of one rule."""
    lines = []
    for cls in dict.fromkeys(r["class"] for r in rows):
        mine = [r for r in rows if r["class"] == cls]
        ba = np.mean([[r[k] for k in selection.TWO_SAMPLE] for r in mine], axis=0)
        cells = [name, cls, f"{ba.mean():.3f}", *(f"{b:.3f}" for b in ba)]
        cells.append(f"{np.mean([selection.novelty(r) for r in mine]):.2f}")
        cells.append(f"{np.mean([selection.level_vs_fit(r) for r in mine]):+.1f}")
        cells.append(f"{np.median([r['mmd_p'] for r in mine]):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main():
    flags.FLAGS(["realism_probes"])
    ds = data.load_dataset()
    groups = duplicates.fold_groups(ds, "grouped")
    score = functools.partial(vae_select._score, ds.sample_rate)
    run = functools.partial(selection.run, ds, groups, seeds=SEEDS, fraction=1 / 3, score=score)
    design = recipes.realism_candidates()
    rules = {"pca64_class (the design: Silverman's bandwidth, median per-sound gain)": (
        design["pca64_class"], selection.synthesize)}
    for h in BANDWIDTHS:
        config = recipes.vae_pca(64, level="class", bandwidth=h)
        rules[f"bandwidth {h}"] = (config, selection.synthesize)
    for h in (0.2, 0.4):
        rules[f"bandwidth {h}, no shrinkage"] = (
            recipes.vae_pca(64, level="class", bandwidth=h, shrink=False), selection.synthesize)
    rules["median-level gain"] = (design["pca64"], median_level_synthesize)
    critics = {
        "critic on log-Mel, best of 4, guard": (LOG_MEL_SETS, 4, True),
        "critic on log-Mel, best of 4, no guard": (LOG_MEL_SETS, 4, False),
        "critic on one-frame log-Mel, best of 4, no guard": (("one_frame",), 4, False),
        "critic on summary features, best of 8, no guard": (("summary",), 8, False),
        "critic on summary + one-frame, best of 8, guard": (("summary", "one_frame"), 8, True),
    }
    for name, (sets, draws, guard) in critics.items():
        synth = functools.partial(
            critic_synthesize, sample_rate=ds.sample_rate, sets=sets, draws=draws, guard=guard)
        rules[name] = (design["pca64_class"], synth)
    rules["time-scaled training sounds"] = (
        design["pca64_class"],
        functools.partial(time_scale_synthesize, sample_rate=ds.sample_rate),
    )
    head = ["rule", "class", "mean BA", *selection.TWO_SAMPLE, "novelty", "level vs fit (dB)",
            "MMD p (median)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, (config, synth) in rules.items():
        rows = run(candidates={name: config}, synthesize=synth)
        print("\n".join(summary_rows(name, rows)), flush=True)


if __name__ == "__main__":
    main()
