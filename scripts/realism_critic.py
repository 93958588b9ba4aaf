"""Rule 3 of ``realism_probes``: each synthesized sound the best of several draws of the
realistic generator's design by a critic (the adversarial step without gradients), scored on
the training sounds alone by the inner selection's route; prints the same table:

  python scripts/realism_critic.py > realism_critic.md
"""

import functools

import jax
import numpy as np
import sklearn.linear_model
import sklearn.model_selection
import sklearn.pipeline
import sklearn.preprocessing
import threadpoolctl

from drill_jax import data, recipes
from drill_jax.vae import generators
from realism_probes import features, fit_ratio, print_table

LOG_MEL_SETS = ("one_frame", "multi_frame_128", "multi_frame_256", "multi_frame_512")
CRITICS = (  # name, feature sets, draws per sound, guard
    ("critic on log-Mel, best of 4, guard", LOG_MEL_SETS, 4, True),
    ("critic on log-Mel, best of 4, no guard", LOG_MEL_SETS, 4, False),
    ("critic on one-frame log-Mel, best of 4, no guard", ("one_frame",), 4, False),
    ("critic on summary features, best of 8, no guard", ("summary",), 8, False),
    ("critic on summary + one-frame, best of 8, guard", ("summary", "one_frame"), 8, True),
)


def synth_probability(real, cands, seed=0):
    """[M] probability that each draw [M, D] is synthetic, cross-fitted: 5 folds over the
    draws, each scored by a logistic regression trained on the real [N, D] and the others."""
    prob = np.zeros(len(cands))
    for tr, te in sklearn.model_selection.KFold(5, shuffle=True, random_state=seed).split(cands):
        critic = sklearn.pipeline.make_pipeline(
            sklearn.preprocessing.StandardScaler(),
            sklearn.linear_model.LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced"))
        x, y = np.concatenate([real, cands[tr]]), np.r_[np.zeros(len(real)), np.ones(len(tr))]
        with threadpoolctl.threadpool_limits(1):
            prob[te] = critic.fit(x, y).predict_proba(cands[te])[:, 1]
    return prob


def critic_synthesize(config, clips, key, sample_rate, sets, draws, guard):
    """Each of ``num_synth`` sounds per mode the one of ``draws`` candidates (the same source
    or kernel, keys folded in) that ``synth_probability`` on the feature sets ``sets`` finds
    most real; with ``guard`` only among those with ``fit_ratio`` >= 1 (as novel as a real
    sound), else the most novel."""
    fit_key, post_key, prior_key = jax.random.split(key, 3)
    model, _ = generators.fit(clips, None, config, fit_key)
    num, real = config.synthesis.num_synth, features(clips, sample_rate, (*sets, "one_frame"))
    out = {}
    for mode, mode_key in (("posterior", post_key), ("prior", prior_key)):
        sources = clips if mode == "posterior" else None
        cands = np.stack([generators.sample(model, config, jax.random.fold_in(mode_key, r), num,
                                            mode, sources, train_sounds=clips)[0]
                          for r in range(draws)])  # [R, num, T]
        feats = features(cands.reshape(draws * num, -1), sample_rate, (*sets, "one_frame"))
        joined = [np.concatenate([f[s] for s in sets], axis=1) for f in (real, feats)]
        prob = synth_probability(*joined).reshape(draws, num)
        ratio = fit_ratio(feats["one_frame"], real["one_frame"]).reshape(draws, num)
        rank = np.where(ratio >= 1.0, prob, 2.0 - ratio) if guard else prob
        out[mode] = cands[rank.argmin(axis=0), np.arange(num)]
    return out


def main():
    ds, design = data.load_dataset(), recipes.realism_candidates()["pca64_class"]
    rules = {name: (design, functools.partial(critic_synthesize, sample_rate=ds.sample_rate,
                                              sets=sets, draws=draws, guard=guard))
             for name, sets, draws, guard in CRITICS}
    print_table(ds, rules)


if __name__ == "__main__":
    main()
