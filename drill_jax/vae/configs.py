"""The VAE's configuration, in its parts: network, optimiser, loss, synthesis.

Each part is a frozen dataclass that validates itself; ``VAEConfig`` composes them with the
run's own settings (epochs, batch size, seed) and checks only what spans two parts. Nothing
rewrites a field after construction: a named recipe is a function returning a complete
config (``drill_jax.recipes``). Every default is written once, here.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from drill_jax.vae import generators, griffin_lim, losses, objectives

SYNTH_MODES = generators.SYNTH_MODES
PRIORS = ("standard", "aggregate")


def _check_positive_ints(obj, names) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise ValueError(f"{name}: must be >= 1, got {getattr(obj, name)}")


def _check_int_tuples(obj, names) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
            raise ValueError(f"{name}: must be a tuple of ints, got {value!r}")


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """The generator's network. Paper layout (Tran et al. 2022, Fig. 2) unless noted.

    Attributes:
      arch: the generator (``generators.NAMES``): 'conv' (1-D convolutions over time),
        'reference' (the authors' layout), a noise-shaping VAE ('noise', 'noise_hop32', ...)
        or a reference generator ('interp', 'phase_copy', 'shaped_noise'; nothing learned).
      latent_dim: size of z (paper: 2, so the latent space is a plane).
      input_length: samples per clip (paper: the first 1999); shorter clips are
        zero-padded.
      enc_features, dec_features: channel widths of the four stages. Default: half the
        authors' (64,128,128,256 / 512,256,128,64), which cost ~4x the CPU time per step.
      strides: the encoder's downsampling factors; the decoder uses them reversed.
      kernel_size, block_kernel_size: strided (transposed) convolution and residual-block
        kernels, 'conv' only.
      negative_slope: LeakyReLU slope (authors: 0.4).
      bn_momentum: decoder batch-norm running-average momentum (0.9, not Keras' 0.99: one
        class VAE takes only ~100 steps).
      spectrogram: the log-magnitude STFT and Griffin-Lim settings of the STFT generators
        ('pca', 'stft_vae', 'stft_interp'; ``griffin_lim.Spectrogram``).
      align_onsets: 'pca' only: shift every training clip so that its onset sits at the
        class median before the PCA, and each sound back to its centre clip's onset.
      domain: 'pca' only: what the principal components are of, 'log_magnitude' (the
        spectrogram's, Griffin-Lim phases) or 'waveform' (the samples, each clip aligned by
        cross-correlation; ``pca_reference.DOMAINS``).
    """

    arch: str = "conv"
    latent_dim: int = 2
    input_length: int = 1999
    enc_features: tuple = (32, 64, 64, 128)
    dec_features: tuple = (256, 128, 64, 32)
    strides: tuple = (4, 4, 4, 4)
    kernel_size: int = 8
    block_kernel_size: int = 3
    negative_slope: float = 0.4
    bn_momentum: float = 0.9
    spectrogram: griffin_lim.Spectrogram = griffin_lim.Spectrogram()
    align_onsets: bool = False
    domain: str = "log_magnitude"

    def __post_init__(self):
        generators.check_name(self.arch)
        _check_positive_ints(self, ("latent_dim", "input_length", "kernel_size"))
        _check_positive_ints(self, ("block_kernel_size",))
        _check_int_tuples(self, ("enc_features", "dec_features", "strides"))
        if not len(self.enc_features) == len(self.dec_features) == len(self.strides):
            raise ValueError("enc_features, dec_features and strides need one entry per stage")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam (authors: learning rate 3e-4, b1 0.9, b2 0.999, eps 1e-8).

    Attributes:
      learning_rate: Adam step size.
      b1, b2, eps: Adam's moment decays and denominator offset.
    """

    learning_rate: float = 3e-4
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        if not self.learning_rate > 0 or not self.eps > 0:
            raise ValueError("learning_rate, eps: must be positive")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """What a training step minimises (``objectives.terms``).

    Attributes:
      recon: 'bce' (Bernoulli on [0, 1]-mapped samples, paper), 'mse' (Gaussian with std
        ``mse_sigma`` in waveform units), 'stft' or 'stft_band' (multi-resolution STFT).
      kl: 'analytic' (closed form) or 'mc' (the paper's single-sample estimate).
      mse_sigma: the Gaussian's std for recon='mse' (waveform units).
      stft_sizes, sc_weight: FFT sizes and spectral-convergence weight of recon='stft'.
      kl_weight, kl_warmup_steps, free_bits: KL weight, its linear warm-up (steps) and
        free bits (nats per latent dimension); 1, 0, 0 = the plain ELBO.
    """

    recon: str = "bce"
    kl: str = "analytic"
    mse_sigma: float = 0.1
    stft_sizes: tuple = (64, 128, 256, 512, 1024)
    sc_weight: float = 1.0
    kl_weight: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0

    def __post_init__(self):
        if self.recon not in objectives.RECONS:
            raise ValueError(f"recon: must be one of {objectives.RECONS}, got {self.recon!r}")
        if self.kl not in losses.KLS:
            raise ValueError(f"kl: must be one of {losses.KLS}, got {self.kl!r}")
        if not self.mse_sigma > 0:
            raise ValueError(f"mse_sigma: must be positive, got {self.mse_sigma}")
        if min(self.kl_weight, self.sc_weight, self.free_bits, self.kl_warmup_steps) < 0:
            raise ValueError("kl_weight, sc_weight, free_bits, kl_warmup_steps must be >= 0")
        _check_int_tuples(self, ("stft_sizes",))


@dataclasses.dataclass(frozen=True)
class SynthesisConfig:
    """How sounds are drawn from a fitted generator.

    Attributes:
      num_synth: sounds synthesized per class (paper: 48).
      synth_mode: 'posterior' (decode z ~ q(z|x) of source sounds, as the authors) or
        'prior' (new sounds).
      synth_from_test: take posterior sources from the TEST list (the authors' choice; it
        leaks test sounds into an augmented set). Default: training list only.
      prior: 'standard' (z ~ N(0, I)) or 'aggregate' (z ~ a Gaussian fitted to the
        training sounds' posterior means, plus their mean posterior variance) for
        synth_mode='prior'.
      calibrate_level: a noise-shaping or PCA generator's sounds are scaled by the median RMS
        ratio of the class's training sounds to their posterior decodings (fitted on the
        training sounds only; ``models.noise_vae.level_gain``, ``pca_reference``).
      bandwidth: the PCA generator's kernel bandwidth in standard deviations of each
        coordinate (None: Silverman's rule; ``pca_reference``).
      shrink: the PCA generator's kernel draws are shrunk towards the class mean so that
        their covariance is the training coordinates' (Silverman's variance correction);
        False keeps each draw's kernel centre at full scale.
      residual_scale: scale of the residual noise the STFT generators ('pca', 'stft_vae') add
        to a decoded log magnitude (1 = the fitted residual, 0 = none).
      match_level: the PCA generator's sounds are scaled to the RMS level of the clip each
        was drawn around (its source, or for prior draws its kernel's training clip); not
        with calibrate_level.
      contrast: the PCA generator's temporal contrast of a drawn log magnitude (1: none;
        None: fitted on the training sounds; ``pca_reference``).
      perturbed_components: the PCA generator's kernel draws move only the first this many
        coordinates, the others stay the centre clip's (None: all).
    """

    num_synth: int = 48
    synth_mode: str = "posterior"
    synth_from_test: bool = False
    prior: str = "standard"
    calibrate_level: bool = False
    bandwidth: Optional[float] = None
    shrink: bool = True
    residual_scale: float = 1.0
    match_level: bool = False
    contrast: Optional[float] = 1.0
    perturbed_components: Optional[int] = None

    def __post_init__(self):
        if self.synth_mode not in SYNTH_MODES:
            raise ValueError(f"synth_mode: must be one of {SYNTH_MODES}, got {self.synth_mode!r}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior: must be one of {PRIORS}, got {self.prior!r}")
        _check_positive_ints(self, ("num_synth",))
        if (self.bandwidth is not None and self.bandwidth < 0) or self.residual_scale < 0:
            raise ValueError("bandwidth, residual_scale: must be >= 0")


_PARTS = {
    "network": NetworkConfig,
    "optim": OptimConfig,
    "loss": LossConfig,
    "synthesis": SynthesisConfig,
}


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """One class generator and its training: the parts plus the run's own settings.

    Attributes:
      network, optim, loss, synthesis: the parts (their own docstrings).
      epochs, batch_size: paper: 20 and 8.
      seed: root of every random choice of a run (``experiment.train_and_synthesize``).
    """

    network: NetworkConfig = NetworkConfig()
    optim: OptimConfig = OptimConfig()
    loss: LossConfig = LossConfig()
    synthesis: SynthesisConfig = SynthesisConfig()
    epochs: int = 20
    batch_size: int = 8
    seed: int = 0

    def __post_init__(self):
        for name, cls in _PARTS.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name}: must be a {cls.__name__}, got {getattr(self, name)!r}")
        _check_positive_ints(self, ("batch_size",))
        if self.epochs < 0:
            raise ValueError(f"epochs: must be >= 0, got {self.epochs}")
        generators.get(self.network.arch).check(self)
