"""The generator registry: the only place where a generator name becomes a module.

``config.network.arch`` names the generator; ``get(name)`` imports its module from
``drill_jax.vae.models`` (big_vision style). Every module exports the same interface:

* ``LEARNED`` (bool: fitted by gradient steps with ``config.loss``), ``OUTPUT`` (a learned
  decoder's output, 'logits' or 'waveform': ``objectives.LossSpec.output``), ``LATENT_PLANE``
  (bool: ``vae.experiment`` draws its 2-D latent figures);
* ``check(config)``: raise ValueError if the config cannot drive this generator;
* ``make_model(config)``: its flax module (learned generators; others raise);
* ``fit(waveforms_train [N, T], waveforms_test [M, T] or None, config, key, workdir=None,
  resume=False, on_epoch=None) -> (model, history)``;
* ``sample(model, config, key, num, mode, sources, source_split, train_sounds)
  -> (sounds [num, T] float32 in [-1, 1], info)``, info = ``latents.info(...)``; its
  arguments are checked here first.

How to add a generator:

1. Write ``drill_jax/vae/models/<module>.py`` with the interface above. A learned one trains
   with ``trainer.train_class_vae`` (its ``make_model`` gives the flax module; the module's
   ``__call__(x, key, train, mask)`` returns (output, z, mean, logvar), and ``decode`` /
   ``encode`` methods); a non-learned one can use ``models.reference`` (``fit`` keeps the
   clips, ``sampler(make, keeps_source)`` builds ``sample``; ``loop_fitter(fit_clips)``
   builds ``fit`` for a generator trained by ``fit_loop`` (checkpointed, resumable);
   ``clip_fitter(fit_clips)`` for one that trains nothing worth a checkpoint). Settings come from the config
   parts (``network.latent_dim``, ``network.input_length``, ``loss``, ``optim``,
   ``synthesis``); a new setting is a new field of the part it belongs to, with its default.
2. Add one line to ``_MODULES`` below: ``"<name>": "<module>"``.
3. If it deserves a named recipe (its own training settings), add a function to
   ``drill_jax/recipes.py`` and one line to its ``_VAE``; otherwise ``recipes.vae(name)``
   needs that line too (a base recipe for the name).
``tests/vae/test_registry.py`` then runs it (tiny fit -> sample -> same sounds per seed).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Optional

import jax
import numpy as np

from drill_jax.vae import noise_shaping

SYNTH_MODES = ("prior", "posterior")
# Generator name -> module of drill_jax.vae.models.
_MODULES = {
    "conv": "paper_vae",
    "reference": "paper_vae",
    **{name: "noise_vae" for name in noise_shaping.VARIANTS},
    "interp": "interp",
    "phase_copy": "phase_copy",
    "shaped_noise": "shaped_noise",
    "pca": "pca",
    "stft_interp": "stft_interp",
    "stft_vae": "stft_vae",
    "onset": "onset_vae",
}
NAMES = tuple(_MODULES)


def check_name(name: str) -> None:
    """Raises the one-line error of an unknown generator name."""
    if name not in _MODULES:
        raise ValueError(f"arch: unknown generator {name!r}; one of {sorted(_MODULES)}")


def check_clips(x, config, what: str) -> np.ndarray:
    """x as float32 [N >= 1, network.input_length] with finite samples, else ValueError."""
    x = np.asarray(x, np.float32)
    t = config.network.input_length
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != t:
        raise ValueError(f"{what} must be [N >= 1, {t}], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains non-finite samples")
    return x


def check_request(config, num: int, mode: str, sources, source_split: str):
    """Checks a synthesis request (every generator's): mode, count, source split, and for
    'posterior' the sources (refusing TEST sounds unless synthesis.synth_from_test). Returns
    (checked sources [K, T] or None, source_split; None for 'prior')."""
    if mode not in SYNTH_MODES:
        raise ValueError(f"mode must be one of {SYNTH_MODES}, got {mode!r}")
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if source_split not in ("train", "test"):
        raise ValueError(f"source_split must be 'train' or 'test', got {source_split!r}")
    if mode == "prior":
        return sources, None
    if sources is None:
        raise ValueError("posterior synthesis needs source sounds")
    if source_split == "test" and not config.synthesis.synth_from_test:
        raise ValueError(
            "synthesis from TEST sounds is refused unless synth_from_test=True "
            "(it leaks test sounds into the augmented set)"
        )
    return check_clips(sources, config, "sources"), source_split


def get(name: str) -> ModuleType:
    """The module of generator ``name`` (module docstring)."""
    check_name(name)
    return importlib.import_module(f"drill_jax.vae.models.{_MODULES[name]}")


def fit(
    waveforms_train: np.ndarray,
    waveforms_test: Optional[np.ndarray],
    config,
    key: jax.Array,
    workdir: Optional[str] = None,
    resume: bool = False,
    on_epoch: Optional[Callable[[list], None]] = None,
):
    """Fits one class's generator on clips [N, T] (``waveforms_test``: [M, T] for the
    per-epoch test ELBO, or None). Returns (model, history: epoch records; [] when nothing
    is learned)."""
    generator = get(config.network.arch)
    return generator.fit(waveforms_train, waveforms_test, config, key, workdir, resume, on_epoch)


def sample(
    model,
    config,
    key: jax.Array,
    num: int,
    mode: str = "prior",
    sources: Optional[np.ndarray] = None,
    source_split: str = "train",
    train_sounds: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, dict]:
    """``num`` sounds [num, T] float32 in [-1, 1] from a fitted generator, and their info.

    mode 'posterior' draws around ``sources`` [K, T] (a 'test' source split is refused
    unless synthesis.synth_from_test); 'prior' draws new sounds (learned: z ~ N(0, I), or
    the aggregate posterior of ``train_sounds`` with synthesis.prior='aggregate'; reference
    generators: from the training clips). info: {'z' [num, Z] (empty when there is no
    latent), 'source_index' [num] (-1 = no single source), 'mode', 'source_split'}.
    """
    sources, source_split = check_request(config, num, mode, sources, source_split)
    generator = get(config.network.arch)
    return generator.sample(model, config, key, num, mode, sources, source_split, train_sounds)
