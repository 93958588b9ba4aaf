"""One fit / sample interface over every sound generator a ``NetworkConfig.arch`` names.

* 'conv', 'reference': the paper's VAE (``trainer`` + ``synthesis``, unchanged).
* 'noise', 'noise_hop32', 'noise_hop16', 'noise_burst': the noise-shaping VAEs
  (``noise_shaping.VARIANTS``), trained by the same jitted step.
* 'interp', 'phase_copy', 'shaped_noise': reference generators (nothing learned; ``fit``
  keeps the training clips).
'realistic' is a recipe (``drill_jax.recipes``): one of these with its training.

Every caller (``vae.experiment``, the protocols' per-fold fitting) goes through here, so a
new generator works wherever the VAE does.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from drill_jax.vae import losses, networks, reference_generators, synthesis, trainer
from drill_jax.vae.trainer import VAEConfig, check_clips

PAPER_ARCHS = networks.ARCHS


class ReferenceModel(NamedTuple):
    """A fitted reference generator: the class's training clips [N, T]."""

    clips: np.ndarray


def fit(
    waveforms_train: np.ndarray,
    waveforms_test: Optional[np.ndarray],
    config: VAEConfig,
    key: jax.Array,
    workdir: Optional[str] = None,
    resume: bool = False,
    on_epoch: Optional[Callable[[list], None]] = None,
):
    """Fits one class's generator on clips [N, T]; arguments as ``trainer.train_class_vae``.

    Returns (model, history): a ``trainer.TrainState`` and its epoch records, or a
    ``ReferenceModel`` and [] for a reference generator.
    """
    if config.network.arch in reference_generators.ARCHS:
        return ReferenceModel(check_clips(waveforms_train, config, "waveforms_train")), []
    return trainer.train_class_vae(
        waveforms_train, waveforms_test, config, key, workdir, resume, on_epoch
    )


@jax.jit
def _encode(state, x):
    return state.apply_fn({"params": state.params}, x, method="encode")


@jax.jit
def _decode_noise(state, z, key):
    return state.apply_fn({"params": state.params}, z, key, method="decode")


def encode(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mean, logvar) [N, Z] of clips x [N, T] under a learned generator."""
    if isinstance(model, ReferenceModel):
        raise ValueError("a reference generator has no latent space")
    if model.loss.output == "logits":
        return synthesis.encode(model, x)
    return tuple(np.asarray(v) for v in _encode(model, jnp.asarray(x, jnp.float32)))


def aggregate_prior(mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian fit of the aggregate posterior: (mu [Z], cov [Z, Z]) = the mean and covariance
    of the posterior means [N, Z] plus the mean posterior variance on the diagonal."""
    mean, var = np.asarray(mean, np.float64), np.exp(np.asarray(logvar, np.float64))
    cov = np.atleast_2d(np.cov(mean, rowvar=False)) if mean.shape[0] > 1 else 0.0 * np.eye(1)
    cov = cov + np.diag(var.mean(axis=0))
    return mean.mean(axis=0), cov


def level_gain(model, train_sounds: np.ndarray, key: jax.Array) -> float:
    """The median over training sounds [N, T] of RMS(sound) / RMS(its posterior decoding):
    the gain that puts a noise-shaping generator's median level on the class's."""
    mean, logvar = encode(model, train_sounds)
    z_key, noise_key = jax.random.split(key)
    z = losses.reparameterize(z_key, jnp.asarray(mean), jnp.asarray(logvar))
    decoded = np.asarray(_decode_noise(model, z, noise_key), np.float64)
    train = np.asarray(train_sounds, np.float64)
    ratio = np.sqrt(
        (np.mean(np.square(train), -1) + 1e-20) / (np.mean(np.square(decoded), -1) + 1e-20)
    )
    return float(np.median(ratio))


def _latents(model, config, key, num, mode, sources, train_sounds):
    # -> (z [num, Z], source_index [num]) for a learned generator.
    if mode == "posterior":
        pick_key, eps_key = jax.random.split(key)
        order = np.asarray(jax.random.permutation(pick_key, sources.shape[0]))
        source_index = np.resize(order, num).astype(np.int64)
        mean, logvar = encode(model, sources[source_index])
        z = losses.reparameterize(eps_key, jnp.asarray(mean), jnp.asarray(logvar))
        return np.asarray(z, np.float32), source_index
    eps = jax.random.normal(key, (num, config.network.latent_dim), jnp.float32)
    if config.synthesis.prior == "aggregate":
        if train_sounds is None:
            raise ValueError("prior='aggregate' needs the training sounds (train_sounds)")
        mu, cov = aggregate_prior(*encode(model, check_clips(train_sounds, config, "train")))
        chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0]))
        eps = mu[None, :] + np.asarray(eps, np.float64) @ chol.T
    return np.asarray(eps, np.float32), np.full(num, -1, np.int64)


def sample(
    model,
    config: VAEConfig,
    key: jax.Array,
    num: int,
    mode: str = "prior",
    sources: Optional[np.ndarray] = None,
    source_split: str = "train",
    train_sounds: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, dict]:
    """``num`` sounds [num, T] float32 in [-1, 1] and their info, as ``synthesis.synthesize``.

    mode 'posterior' draws around ``sources`` (a 'test' source split is refused unless
    config.synthesis.synth_from_test); 'prior' draws new sounds (z ~ N(0, I), or the aggregate
    posterior of ``train_sounds`` with synthesis.prior='aggregate'; reference generators
    draw from ``train_sounds``; synthesis.calibrate_level scales a noise-shaping generator's
    sounds by ``level_gain`` of ``train_sounds``). info: {'z' [num, Z] (empty for reference
    generators), 'source_index' [num] (-1 = no single source), 'mode', 'source_split'}.
    """
    arch, synth = config.network.arch, config.synthesis
    if arch in PAPER_ARCHS and (mode == "posterior" or synth.prior == "standard"):
        return synthesis.synthesize(model, config, key, num, mode, sources, source_split)
    sources, source_split = synthesis.check_request(config, num, mode, sources, source_split)
    latent_key, decode_key = jax.random.split(key)
    if isinstance(model, ReferenceModel):
        pool = sources if mode == "posterior" else model.clips
        order = np.asarray(jax.random.permutation(latent_key, pool.shape[0]))
        idx = np.resize(order, num).astype(np.int64)
        sounds = reference_generators.generate(arch, decode_key, model.clips, pool, idx)
        keep = mode == "posterior" and arch != "shaped_noise"
        z, source_index = np.zeros((num, 0), np.float32), idx if keep else np.full(num, -1)
    else:
        z, source_index = _latents(model, config, latent_key, num, mode, sources, train_sounds)
        if model.loss.output == "logits":
            sounds = synthesis.decode(model, z)
        else:
            sounds = np.asarray(_decode_noise(model, jnp.asarray(z), decode_key))
            if synth.calibrate_level:
                if train_sounds is None:
                    raise ValueError("calibrate_level needs the training sounds (train_sounds)")
                train = check_clips(train_sounds, config, "train_sounds")
                sounds = sounds * level_gain(model, train, jax.random.fold_in(decode_key, 1))
    sounds = np.clip(np.asarray(sounds, np.float32), -1.0, 1.0)
    info = {
        "z": z,
        "source_index": np.asarray(source_index, np.int64),
        "mode": mode,
        "source_split": source_split,
    }
    return sounds, info
