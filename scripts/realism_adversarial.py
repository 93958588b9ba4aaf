"""Adversarial fine-tuning of the realistic generator's draws (``vae.refiner``: a short
waveform refiner trained against a log-Mel critic), scored on the training sounds alone by
the inner selection's route (``vae.selection``; the held-out test list plays no part);
prints the table of ``realism_probes``:

  python scripts/realism_adversarial.py > realism_adversarial.md
"""

import dataclasses
import functools

import jax
import numpy as np
from realism_probes import DESIGN, print_table

from drill_jax import data, recipes
from drill_jax.vae import generators, refiner, selection

POOL = 96  # draws per sampling mode in the refiner's training pool
RULES = (  # name, refiner settings
    ("refiner, 300 steps", {}),
    ("refiner, 300 steps, self weight 0.3", {"self_weight": 0.3}),
    ("refiner, 600 steps", {"steps": 600}),
    ("refiner, 300 steps, R1 weight 10", {"r1_weight": 10.0}),
    ("refiner, 300 steps, R1 weight 3", {"r1_weight": 3.0}),
    ("refiner, 1000 steps, R1 weight 10", {"steps": 1000, "r1_weight": 10.0}),
    ("refiner, 300 steps, R1 weight 10, self weight 0.3", {"r1_weight": 10.0, "self_weight": 0.3}),
)


def refined_synthesize(config, clips, key, settings):
    """``selection.synthesize`` of ``config``, every sound then refined by a refiner
    (``settings``) trained on the fit ``clips`` [N, T] against a pool of ``POOL`` posterior
    and ``POOL`` prior draws of the same fitted generator (keys folded from ``key``)."""
    model, sounds = selection.fit_and_draw(config, clips, key)
    pool_key, fit_key = jax.random.split(jax.random.fold_in(key, 11))
    post_key, prior_key = jax.random.split(pool_key)
    pool = np.concatenate(
        [
            generators.sample(
                model, config, post_key, POOL, "posterior", np.resize(clips, (POOL, clips.shape[1]))
            )[0],
            generators.sample(model, config, prior_key, POOL, "prior", train_sounds=clips)[0],
        ]
    )
    params, _ = refiner.fit(settings, clips, pool, fit_key)
    return {m: refiner.refine(settings, params, s) for m, s in sounds.items()}


def main():
    ds, design = data.load_dataset(), recipes.realism_candidates()["pca64_class"]
    base = refiner.RefinerConfig(sample_rate=ds.sample_rate)
    rules = {DESIGN: (design, selection.synthesize)}
    rules.update(
        {
            name: (
                design,
                functools.partial(
                    refined_synthesize, settings=dataclasses.replace(base, **changes)
                ),
            )
            for name, changes in RULES
        }
    )
    print_table(ds, rules)


if __name__ == "__main__":
    main()
