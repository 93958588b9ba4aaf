"""Named recipes: each is a function that returns a complete config.

The only place where a recipe NAME becomes a config. Nothing rewrites a config's fields
after it is built: a script takes a recipe as its base and replaces only the fields whose
flags were given (``experiments.config_flags``), so ``--arch=realistic --epochs=20`` trains
20 epochs with everything else from the realistic recipe.

* Generators (``vae(name)``): 'conv' and 'reference' (the paper's VAE and the authors'
  layout, ``vae_paper``), 'realistic' (``vae_realistic``), a noise-shaping VAE
  (``vae_noise_shaping``), the STFT VAE (``vae_stft``), the onset-anchored VAE
  (``vae_onset``), the log-magnitude PCA (``vae_pca``) or another reference generator
  (nothing learned; prior draws come from the aggregate of the training sounds).
* The designs the realistic generator was chosen from (``realism_candidates``).
* The paper job (``paper(name)``): 'default' and 'quick'.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from drill_jax.evaluation import pipeline
from drill_jax.vae import configs, griffin_lim, noise_shaping


def vae_paper(arch: str = "conv") -> configs.VAEConfig:
    """The paper's VAE (Tran et al. 2022, section IV-A): 'conv' or the authors' 'reference'
    layout, Bernoulli likelihood, 20 epochs of Adam at 3e-4, batch 8, latent plane."""
    return configs.VAEConfig(network=configs.NetworkConfig(arch=arch))


def vae_noise_shaping(arch: str = "noise_hop32") -> configs.VAEConfig:
    """A noise-shaping VAE (``noise_shaping.VARIANTS``) trained with the multi-resolution STFT
    and band-power loss, 8 latent dimensions, KL warm-up and free bits, 150 epochs, prior
    draws from the aggregate posterior and level calibration: the designs compared for the
    realistic generator, each with its own decoder."""
    return configs.VAEConfig(
        network=configs.NetworkConfig(arch=arch, latent_dim=8),
        optim=configs.OptimConfig(learning_rate=2e-3),
        loss=configs.LossConfig(
            recon="stft_band",
            stft_sizes=(128, 256, 512, 1024, 2048),
            sc_weight=0.0,
            kl_weight=0.01,
            kl_warmup_steps=200,
            free_bits=0.1,
        ),
        synthesis=configs.SynthesisConfig(prior="aggregate", calibrate_level=True),
        epochs=150,
        batch_size=16,
    )


def vae_pca(
    components: int = 8,
    spectrogram: griffin_lim.Spectrogram = griffin_lim.Spectrogram(),
    level: str = "decoded",
    align_onsets: bool = False,
    domain: str = "log_magnitude",
    **synthesis,
) -> configs.VAEConfig:
    """The log-magnitude STFT PCA with Griffin-Lim phases (``pca_reference``): ``components``
    principal components (network.latent_dim; at most N for N training sounds) of the
    ``spectrogram`` (or of the aligned waveforms, ``domain`` 'waveform'), the ``level`` rule
    of ``pca_reference.LEVELS`` ('class': synthesis.calibrate_level, 'source':
    synthesis.match_level), clips aligned at their onsets if ``align_onsets``, and the
    ``synthesis`` fields given (the kernel bandwidth, shrink, contrast,
    perturbed_components; ``configs.SynthesisConfig``); 0 epochs, as nothing is trained by
    gradient steps."""
    synthesis = configs.SynthesisConfig(
        calibrate_level=level == "class", match_level=level == "source", **synthesis
    )
    network = configs.NetworkConfig(
        arch="pca",
        latent_dim=components,
        spectrogram=spectrogram,
        align_onsets=align_onsets,
        domain=domain,
    )
    return configs.VAEConfig(
        network=network,
        synthesis=synthesis,
        epochs=0,
    )


def realism_candidates() -> dict:
    """The designs the inner selection (``vae.selection``, ``experiments.vae_select``)
    compares for the realistic generator: name -> config. 'pca64' is every component at
    Griffin-Lim's own level, '_class' with the class gain, '_source' at each centre clip's
    level (the level rules, compared first); then Griffin-Lim iterations, STFT window / hop,
    components (fewer: the residual noise at its fitted level fills the rest) and kernel
    bandwidth, each varied alone from the level rule the first comparison chose, 'pca64';
    then clips aligned at their onsets ('_aligned'); last, Griffin-Lim started from each
    frame's minimum phase instead of random phases ('_min_phase'); then Phase Gradient Heap
    Integration ('_pghi': PGHI + fast Griffin-Lim, '_pghi_only': PGHI alone, '_pghi_tol1e-3':
    random phases below 1e-3 of the largest coefficient instead of 1e-5, '_w128_pghi': PGHI +
    fast Griffin-Lim at STFT 128 / 16, '_w64h8': STFT 64 / 8, where phase recovery from exact
    magnitudes keeps the transients' kurtosis and crest factor); last, kernel draws not
    shrunk towards the class mean ('_noshrink': the shrinkage flattens each draw's
    transients, lowering its kurtosis), with Griffin-Lim or PGHI phases. Then the designs
    that keep transients: the temporal contrast of each drawn log magnitude fitted so that
    the draws' kurtosis is the training sounds' ('_contrast'), kernel draws of only the
    first 8 or 16 coordinates, the rest the centre sound's ('_local8', '_local16'), and the
    PCA of the cross-correlation-aligned waveforms, whose phases come with each draw
    ('wave64'); last, the class gain ('_class') on the transient-keeping designs, whose
    draws' level strays from their fit sounds'."""
    spec = griffin_lim.Spectrogram
    return {
        "pca64": vae_pca(64),
        "pca64_class": vae_pca(64, level="class"),
        "pca64_source": vae_pca(64, level="source"),
        "pca64_gl200": vae_pca(64, spec(gl_iterations=200)),
        "pca64_classic_gl200": vae_pca(64, spec(gl_iterations=200, gl_momentum=0.0)),
        "pca64_w128": vae_pca(64, spec(n_fft=128, hop=16)),
        "pca64_w256h16": vae_pca(64, spec(n_fft=256, hop=16)),
        "pca64_w512": vae_pca(64, spec(n_fft=512, hop=64)),
        "pca8": vae_pca(8),
        "pca16": vae_pca(16),
        "pca64_bw0.4": vae_pca(64, bandwidth=0.4),
        "pca64_bw1.2": vae_pca(64, bandwidth=1.2),
        "pca64_aligned": vae_pca(64, align_onsets=True),
        "pca16_aligned": vae_pca(16, align_onsets=True),
        "pca64_aligned_class": vae_pca(64, level="class", align_onsets=True),
        "pca64_min_phase": vae_pca(64, spec(gl_init="min_phase")),
        "pca64_min_phase_gl200": vae_pca(64, spec(gl_iterations=200, gl_init="min_phase")),
        "pca64_pghi": vae_pca(64, spec(gl_init="pghi")),
        "pca64_pghi_only": vae_pca(64, spec(gl_iterations=0, gl_init="pghi")),
        "pca64_pghi_tol1e-3": vae_pca(64, spec(gl_init="pghi", pghi_tol=1e-3)),
        "pca64_w128_pghi": vae_pca(64, spec(n_fft=128, hop=16, gl_init="pghi")),
        "pca64_w64h8": vae_pca(64, spec(n_fft=64, hop=8)),
        "pca64_w64h8_pghi": vae_pca(64, spec(n_fft=64, hop=8, gl_init="pghi")),
        "pca64_noshrink": vae_pca(64, shrink=False),
        "pca64_noshrink_pghi": vae_pca(64, spec(gl_init="pghi"), shrink=False),
        "pca64_contrast": vae_pca(64, contrast=None),
        "pca64_noshrink_contrast": vae_pca(64, contrast=None, shrink=False),
        "pca64_local8": vae_pca(64, perturbed_components=8),
        "pca64_local16": vae_pca(64, perturbed_components=16),
        "pca64_local8_noshrink": vae_pca(64, perturbed_components=8, shrink=False),
        "wave64": vae_pca(64, domain="waveform"),
        "wave64_noshrink": vae_pca(64, domain="waveform", shrink=False),
        "pca64_noshrink_class": vae_pca(64, level="class", shrink=False),
        "pca64_contrast_class": vae_pca(64, level="class", contrast=None),
        "pca64_local16_class": vae_pca(64, level="class", perturbed_components=16),
        "pca64_local8_noshrink_class": vae_pca(
            64, level="class", perturbed_components=8, shrink=False
        ),
    }


def vae_realistic() -> configs.VAEConfig:
    """The realistic generator: the design the inner selection chose among
    ``realism_candidates`` on the training sounds alone (docs/results.md, "Realistic
    generators"), 'pca64_class': the log-magnitude STFT PCA with every principal component
    the training sounds have, prior draws from the kernel density estimate of their
    coordinates, Griffin-Lim phases, and one level gain per class fitted on the training
    sounds."""
    return realism_candidates()["pca64_class"]


def vae_stft() -> configs.VAEConfig:
    """The STFT VAE (``vae.stft_vae``): 8 latent dimensions, the plain ELBO weight, 300
    epochs of Adam at 1e-3, batch 16, prior draws from the aggregate posterior."""
    return configs.VAEConfig(
        network=configs.NetworkConfig(arch="stft_vae", latent_dim=8),
        optim=configs.OptimConfig(learning_rate=1e-3),
        synthesis=configs.SynthesisConfig(prior="aggregate"),
        epochs=300,
        batch_size=16,
    )


def vae_onset() -> configs.VAEConfig:
    """The onset-anchored VAE (``vae.onset_decoder``): 8 latent dimensions, log-magnitude
    multi-resolution STFT loss at 64-1024 (no spectral convergence), KL weight 0.01, 200
    epochs of Adam at 1e-3, batch 16, prior draws from the aggregate posterior."""
    return configs.VAEConfig(
        network=configs.NetworkConfig(arch="onset", latent_dim=8),
        optim=configs.OptimConfig(learning_rate=1e-3),
        loss=configs.LossConfig(recon="stft_band", sc_weight=0.0, kl_weight=0.01),
        synthesis=configs.SynthesisConfig(prior="aggregate"),
        epochs=200,
        batch_size=16,
    )


def vae_reference(arch: str) -> configs.VAEConfig:
    """A reference generator (nothing learned); prior draws come from the training sounds."""
    return configs.VAEConfig(
        network=configs.NetworkConfig(arch=arch),
        synthesis=configs.SynthesisConfig(prior="aggregate"),
    )


# Recipe name -> f(name) -> config.
_VAE = {
    "realistic": lambda name: vae_realistic(),
    "conv": vae_paper,
    "reference": vae_paper,
    **{arch: vae_noise_shaping for arch in noise_shaping.VARIANTS},
    "interp": vae_reference,
    "phase_copy": vae_reference,
    "shaped_noise": vae_reference,
    "stft_interp": vae_reference,
    "pca": lambda name: vae_pca(),
    "stft_vae": lambda name: vae_stft(),
    "onset": lambda name: vae_onset(),
}
VAE_NAMES = tuple(_VAE)


def vae(name: str) -> configs.VAEConfig:
    """The complete generator config a name stands for (module docstring)."""
    if name not in _VAE:
        raise ValueError(f"unknown generator recipe {name!r}; one of {sorted(_VAE)}")
    return _VAE[name](name)


def paper_default() -> pipeline.PaperConfig:
    """The whole paper with the paper's VAE; finishes in under an hour on a 2-core CPU."""
    return pipeline.PaperConfig(vae=vae_paper())


def paper_quick() -> pipeline.PaperConfig:
    """A first look: 5 folds x 1 repeat, 2 paper splits, 5-epoch VAEs, JAX CNN only."""
    return dataclasses.replace(
        paper_default(),
        n_repeats=1,
        paper_splits=2,
        vae=dataclasses.replace(vae_paper(), epochs=5),
        table1_backbones=(),
        table2_backbones=(),
        detectors=("clip_svm",),
    )


_PAPER = {"default": paper_default, "quick": paper_quick}
PAPER_NAMES = tuple(_PAPER)


def paper(name: str) -> pipeline.PaperConfig:
    """The paper-job settings a preset name stands for."""
    if name not in _PAPER:
        raise ValueError(f"unknown paper preset {name!r}; one of {sorted(_PAPER)}")
    return _PAPER[name]()
