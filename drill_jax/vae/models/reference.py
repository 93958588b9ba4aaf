"""What the reference generators share (nothing learned; ``reference_generators`` holds their
DSP): ``fit`` keeps the class's training clips, ``sampler`` turns a clip maker into the
generator interface of ``drill_jax.vae.generators``. The generators not trained by
``trainer`` also share ``loop_fitter``, ``settings_fitter``, ``loop_config`` and ``Fitted``."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from drill_jax import training
from drill_jax.vae import fit_loop, latents
from drill_jax.vae.configs import VAEConfig
from drill_jax.vae.generators import check_clips

LEARNED = False
OUTPUT = None
LATENT_PLANE = False


class ReferenceModel(NamedTuple):
    """A fitted reference generator: the class's training clips [N, T]."""

    clips: np.ndarray


def make_model(config: VAEConfig):
    raise ValueError(f"arch {config.network.arch!r} is a reference generator: nothing to train")


def check(config: VAEConfig) -> None:
    """Any config: only input_length and the synthesis settings are read."""
    del config


def loop_fitter(fit_clips: Callable) -> Callable:
    """The generator ``fit`` of fit_clips(clips [N, T] float32 (checked), config, key,
    ``fit_loop.Options(workdir, resume, on_epoch)``) -> (model, history);
    ``waveforms_test`` is not used."""

    def fit(
        waveforms_train, waveforms_test, config, key, workdir=None, resume=False, on_epoch=None
    ):
        del waveforms_test
        clips = check_clips(waveforms_train, config, "waveforms_train")
        return fit_clips(clips, config, key, fit_loop.Options(workdir, resume, on_epoch))

    return fit


def clip_fitter(fit_clips: Callable) -> Callable:
    """The generator ``fit`` of fit_clips(clips [N, T] float32 (checked), config, key) ->
    (model, history), which trains nothing worth a checkpoint: ``waveforms_test``,
    ``workdir`` and ``resume`` are not used; ``on_epoch`` is called once with a non-empty
    history."""

    def fit_clips_once(clips, config, key, options):
        model, history = fit_clips(clips, config, key)
        if options.on_epoch is not None and history:
            options.on_epoch(history)
        return model, history

    return loop_fitter(fit_clips_once)


def loop_config(cls: type, config: VAEConfig, **extra) -> Any:
    """A ``fit_loop`` model's own Config ``cls`` from the generator config's fields it shares
    (input_length, latent_dim, kl_weight, and the training schedule: epochs, batch_size,
    learning_rate) and its own ``extra`` fields."""
    schedule = training.Schedule(config.epochs, config.batch_size, config.optim.learning_rate)
    return cls(
        input_length=config.network.input_length,
        latent_dim=config.network.latent_dim,
        kl_weight=config.loss.kl_weight,
        train=schedule,
        **extra,
    )


def settings_fitter(settings: Callable, fit_settings: Callable) -> Callable:
    """The generator ``fit`` of a ``fit_loop`` model: fit_settings(settings(config), clips
    [N, T], key, options) -> (model, history) (``loop_fitter``)."""

    def fit_clips(clips, config, key, options):
        return fit_settings(settings(config), clips, key, options)

    return loop_fitter(fit_clips)


class Fitted(NamedTuple):
    """A generator's settings (its own module's ``Config``) and its fitted model."""

    config: Any
    model: Any


def _keep_clips(clips: np.ndarray, config: VAEConfig, key: jax.Array):
    """(ReferenceModel of the training clips [N, T], []): nothing is learned."""
    del config, key
    return ReferenceModel(clips), []


fit = clip_fitter(_keep_clips)


def sampler(make: Callable, keeps_source: bool) -> Callable:
    """The ``sample`` function of a reference generator.

    make(key, train [N, T], pool [K, T], index [M]) -> sounds [M, T]: the clip maker
    (``pool[index]`` are the copied or first-interpolated sounds: the posterior sources, or
    the training clips for 'prior'). keeps_source: a posterior sound is made from one source
    (its row is recorded), else source_index is -1.
    """

    def sample(model, config, key, num, mode, sources, source_split, train_sounds):
        del config, train_sounds
        pick_key, make_key = jax.random.split(key)
        pool = sources if mode == "posterior" else model.clips
        idx = latents.cycle(pick_key, pool.shape[0], num)
        sounds = np.clip(np.asarray(make(make_key, model.clips, pool, idx), np.float32), -1, 1)
        keep = mode == "posterior" and keeps_source
        source_index = idx if keep else np.full(num, -1, np.int64)
        z = np.zeros((num, 0), np.float32)  # no latent code
        return sounds, latents.info(z, source_index, mode, source_split)

    return sample
