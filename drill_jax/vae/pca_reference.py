"""A linear reference generator: principal components of the log-magnitude STFT, sampled
from a Gaussian, turned back into sound with Griffin-Lim phases.

Fitting (nothing learned by gradients): the log-magnitude STFT (``griffin_lim.Spectrogram``)
of each training clip, flattened to a vector of D = F * K values; mean m [D];
the top ``components`` principal directions W [k, D] (rows orthonormal) and the standard
deviation s [k] of the training clips' coordinates on them; the per-value residual
variance psi [D] left after the projection (probabilistic PCA with a diagonal noise).

Sampling: v = m + z W + r, with z = (c_j + h s eps) / sqrt(1 + h^2) (without ``shrink``:
z = c_j + h s eps, the plain smoothed bootstrap), eps ~ N(0, I), c_j
the coordinates of a clip j: a source clip ('posterior'), or for prior samples each
training clip in turn, in a key-shuffled order (stratified sampling of prior 'kde': the
smoothed bootstrap with variance correction of Silverman 1986, section 6.4.1, a Gaussian
kernel density estimate of the training coordinates shrunk so that its covariance is
theirs; h defaults to Silverman's rule (4 / (k + 2))^(1 / (k + 4)) N^(-1 / (k + 4))), or
z ~ N(0, diag(s^2)) (prior 'gaussian'); r ~ N(0, diag(residual_scale^2 psi)); the sound
is ``griffin_lim.from_log_magnitude`` of v, and its level follows ``level``:
'decoded' keeps Griffin-Lim's (whose phases lose some energy), 'class' multiplies every sound
by one gain per class, the median over training clips of RMS(clip) / RMS(a posterior sound
around it), fitted with the fit key; 'source' scales each sound to the RMS of the clip whose
coordinates centred it (the source, or the kernel's training clip; for prior 'gaussian' a
training clip drawn at random), which brings a sound nearer its own clip.

With ``align_onsets`` every training clip is first shifted circularly so that its onset
(``onset_decoder.onset_time``) sits at the class median (the drill sounds are triggered at
two positions, about sample 460 or 955 of the first 1999, which a linear model would
otherwise blend), and each sound is shifted back to the onset of the clip it was drawn
around (the source's own, or the kernel's training clip's).

Three designs keep the transients that the kernel draws smear:

* ``contrast`` (log-magnitude domain): each drawn log magnitude's deviation from its
  moving average over ``CONTRAST_FRAMES`` frames (per frequency bin) is multiplied by the
  contrast, v' = S(v) + a (v - S(v)), offset so that each sound keeps its STFT energy,
  before Griffin-Lim; None fits a from ``CONTRASTS`` on the training clips alone, the one
  whose posterior draws around them have the median kurtosis nearest (in log) to the
  clips' own, drawn with the fit key.
* ``perturbed`` (k'): only the first k' coordinates are drawn (shrunk) around the centre;
  the higher-order ones, a clip's fine detail, stay the centre clip's.
* ``domain`` 'waveform': the PCA is of the samples themselves, each training clip first
  aligned by the lag and sign of its largest circular cross-correlation with the class
  reference (``alignment``); a sound is m + z W + r clipped to [-1, 1], shifted back to the
  lag and sign of the clip it was drawn around, so its phases come with the draw (no
  Griffin-Lim).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage
import scipy.special
import scipy.stats

from drill_jax.vae import alignment, griffin_lim, latents, onset_decoder

PRIORS = ("kde", "gaussian")
LEVELS = ("decoded", "class", "source")
DOMAINS = ("log_magnitude", "waveform")
CONTRAST_FRAMES = 5  # moving-average width of the contrast's envelope (frames)
CONTRASTS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5)  # the fitted contrast's grid


@dataclasses.dataclass(frozen=True)
class Config:
    """PCA reference generator (module docstring). Units: samples; scales dimensionless."""

    spectrogram: griffin_lim.Spectrogram = griffin_lim.Spectrogram()
    components: int = 8
    prior: str = "kde"
    bandwidth: Optional[float] = None
    shrink: bool = True
    residual_scale: float = 1.0
    level: str = "decoded"
    align_onsets: bool = False
    domain: str = "log_magnitude"
    contrast: Optional[float] = 1.0
    perturbed: Optional[int] = None

    def __post_init__(self):
        if self.components < 1:
            raise ValueError(f"components must be >= 1, got {self.components}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {self.prior!r}")
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if (self.bandwidth is not None and self.bandwidth < 0) or self.residual_scale < 0:
            raise ValueError("bandwidth and residual_scale must be >= 0")
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.contrast is not None and not self.contrast > 0:
            raise ValueError(f"contrast must be positive or None (fitted), got {self.contrast}")
        if self.perturbed is not None and self.perturbed < 1:
            raise ValueError(f"perturbed must be >= 1 or None (all), got {self.perturbed}")
        if self.domain == "waveform" and (self.align_onsets or self.contrast != 1.0):
            raise ValueError("domain 'waveform' aligns by cross-correlation and has no contrast")


class Model(NamedTuple):
    """A fitted PCA generator: mean [D], directions [k, D], the training coordinates
    coords [N, k] and their scales [k], residual_var [D], frames F (D = F * (n_fft // 2 +
    1)), length T of the clips, the training clips' RMS levels [N] (waveform units) and
    the class gain (1 unless level 'class'); with ``align_onsets`` the common onset and
    the training clips' shifts [N] (onset - common onset, samples), else 0 and zeros; the
    clips' signs [N] (+-1) and the alignment reference [T] (domain 'waveform': shifts are
    the clips' lags; else ones and empty); the contrast (fitted if the config's is None)."""

    mean: np.ndarray
    directions: np.ndarray
    coords: np.ndarray
    scales: np.ndarray
    residual_var: np.ndarray
    frames: int
    length: int
    levels: np.ndarray
    gain: float
    onset: int
    shifts: np.ndarray
    signs: np.ndarray
    reference: np.ndarray
    contrast: float


def silverman(k: int, n: int) -> float:
    """Silverman's rule-of-thumb kernel bandwidth, in standard deviations, for n points in
    k dimensions: (4 / (k + 2))^(1 / (k + 4)) n^(-1 / (k + 4))."""
    return (4.0 / (k + 2)) ** (1.0 / (k + 4)) * n ** (-1.0 / (k + 4))


def placement(
    config: Config, clips: np.ndarray, onset: int, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(shifts [N] int64, signs [N] float64) that align clips [N, T] (``alignment.aligned``):
    domain 'waveform': lags and signs against ``reference`` [T]; else each clip's onset
    minus ``onset`` with ``align_onsets`` (zeros without), signs 1."""
    if config.domain == "waveform":
        return alignment.lags_and_signs(clips, reference)
    if not config.align_onsets:
        return np.zeros(len(clips), np.int64), np.ones(len(clips))
    return onset_decoder.onset_time(clips).astype(np.int64) - onset, np.ones(len(clips))


def vectors(config: Config, clips: np.ndarray) -> np.ndarray:
    """What the PCA models of clips [N, T] -> [N, D] float64: the samples (domain
    'waveform') or the flattened log-magnitude STFTs (D = F * K)."""
    if config.domain == "waveform":
        return np.asarray(clips, np.float64)
    lm = griffin_lim.log_magnitude(jnp.asarray(clips, jnp.float32), config.spectrogram)
    return np.asarray(lm, np.float64).reshape(lm.shape[0], -1)


def sharpen(log_mag: np.ndarray, contrast: float) -> np.ndarray:
    """S(v) + contrast (v - S(v)) of log magnitudes v [M, F, K], S the moving average over
    ``CONTRAST_FRAMES`` frames (edges repeated), offset per sound so that its STFT energy
    sum exp(2 v) is kept -> [M, F, K]."""
    if contrast == 1.0:
        return log_mag
    smooth = scipy.ndimage.uniform_filter1d(log_mag, CONTRAST_FRAMES, axis=1, mode="nearest")
    sharp = smooth + contrast * (log_mag - smooth)
    energy = scipy.special.logsumexp(2.0 * log_mag, axis=(1, 2), keepdims=True)
    return sharp + 0.5 * (energy - scipy.special.logsumexp(2.0 * sharp, axis=(1, 2), keepdims=True))


def median_kurtosis(clips: np.ndarray) -> float:
    """Median Pearson kurtosis of the samples of clips [N, T] (3 for Gaussian noise)."""
    x = np.asarray(clips, np.float64)
    return float(np.median(scipy.stats.kurtosis(x, axis=-1, fisher=False)))


def rms(clips: np.ndarray) -> np.ndarray:
    """RMS level of clips [N, T] -> [N] float64 (waveform units)."""
    return np.sqrt(np.mean(np.square(np.asarray(clips, np.float64)), axis=-1))


def scale_to(sounds: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Sounds [N, T] scaled to RMS ``levels`` [N] (silent ones left silent), clipped to
    [-1, 1]. -> [N, T] float32."""
    gain = levels / np.maximum(rms(sounds), 1e-12)
    return np.clip(sounds * gain[:, None], -1.0, 1.0).astype(np.float32)


def fit(config: Config, clips: np.ndarray, key: jax.Array) -> Model:
    """Fits the PCA generator to one class's training clips [N, T] (N >= 2); ``key`` draws
    the posterior sounds of the fitted contrast (contrast None) and of the class gain
    (level 'class')."""
    clips = np.asarray(clips, np.float32)
    if clips.ndim != 2 or clips.shape[0] < 2:
        raise ValueError(f"need training clips [N >= 2, T], got shape {clips.shape}")
    onset = int(np.median(onset_decoder.onset_time(clips))) if config.align_onsets else 0
    ref = alignment.reference(clips) if config.domain == "waveform" else np.zeros(0)
    shifts, signs = placement(config, clips, onset, ref)
    v = vectors(config, alignment.aligned(clips, shifts, signs))
    mean = v.mean(axis=0)
    vt = np.linalg.svd(v - mean, full_matrices=False)[2]
    k = min(config.components, vt.shape[0])
    coords = (v - mean) @ vt[:k].T
    residual = v - mean - coords @ vt[:k]
    bins = config.spectrogram.n_fft // 2 + 1
    model = Model(
        mean,
        vt[:k],
        coords,
        coords.std(axis=0),
        residual.var(axis=0),
        v.shape[1] // bins if config.domain == "log_magnitude" else 0,
        clips.shape[1],
        rms(clips),
        gain=1.0,
        onset=onset,
        shifts=shifts,
        signs=signs,
        reference=ref,
        contrast=1.0 if config.contrast is None else config.contrast,
    )
    if config.contrast is None:
        model = model._replace(contrast=fit_contrast(config, model, clips, key))
    if config.level != "class":
        return model
    eps_key, r_key, phase_key = jax.random.split(key, 3)
    z = around(config, model, eps_key, coords)
    decoded = decode(config, model, z, r_key, phase_key)
    return model._replace(gain=float(np.median(model.levels / np.maximum(rms(decoded), 1e-12))))


def fit_contrast(config: Config, model: Model, clips: np.ndarray, key: jax.Array) -> float:
    """The contrast of ``CONTRASTS`` whose posterior draws around the training clips [N, T]
    (one each, from ``fold_in(key, 1)``) have the median kurtosis nearest in log to the
    clips' own (module docstring)."""
    eps_key, r_key, phase_key = jax.random.split(jax.random.fold_in(key, 1), 3)
    z = around(config, model, eps_key, model.coords)
    target = np.log(median_kurtosis(clips))

    def miss(contrast: float) -> float:
        sounds = decode(config, model._replace(contrast=contrast), z, r_key, phase_key)
        return abs(np.log(median_kurtosis(sounds)) - target)

    return float(min(CONTRASTS, key=miss))


def around(config: Config, model: Model, key: jax.Array, centres: np.ndarray) -> np.ndarray:
    """Coordinates z [M, k] of kernels around ``centres`` [M, k]: (c + h s eps) /
    sqrt(1 + h^2) (c + h s eps without ``shrink``), eps ~ N(0, I) from ``key`` (module
    docstring), in the first ``perturbed`` coordinates (all if None); the others stay c."""
    n, k = model.coords.shape
    h = silverman(k, n) if config.bandwidth is None else config.bandwidth
    eps = np.asarray(jax.random.normal(key, centres.shape), np.float64) * model.scales
    drawn = (centres + h * eps) / (np.sqrt(1.0 + h**2) if config.shrink else 1.0)
    return np.where(np.arange(k) < (config.perturbed or k), drawn, centres)


def decode(
    config: Config, model: Model, z: np.ndarray, r_key: jax.Array, phase_key: jax.Array
) -> np.ndarray:
    """Sounds [M, T] float32 in [-1, 1] of coordinates z [M, k], still aligned: v = m + z W
    + r, r ~ N(0, diag(residual_scale^2 psi)) from ``r_key``; domain 'waveform': v itself,
    else the ``sharpen``ed log magnitude v with Griffin-Lim phases from ``phase_key``."""
    r = np.asarray(jax.random.normal(r_key, (z.shape[0], model.mean.shape[0])), np.float64)
    v = model.mean + z @ model.directions + config.residual_scale * r * np.sqrt(model.residual_var)
    if config.domain == "waveform":
        return np.clip(v, -1.0, 1.0).astype(np.float32)
    log_mag = sharpen(v.reshape(z.shape[0], model.frames, -1), model.contrast)
    log_mag = jnp.asarray(log_mag, jnp.float32)
    sounds = griffin_lim.from_log_magnitude(log_mag, config.spectrogram, model.length, phase_key)
    return np.asarray(sounds, np.float32)


def sample(
    config: Config, model: Model, key: jax.Array, num: int, sources: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(``num`` sounds [num, T] float32, their coordinates z [num, k]): prior samples, or
    with ``sources`` [num, T] one posterior sample around each source clip (module
    docstring)."""
    z_key, pick_key, r_key, phase_key = jax.random.split(key, 4)
    n, k = model.coords.shape
    # Stratified: every kernel (training clip) in turn, in a key-shuffled order.
    picks = latents.cycle(pick_key, n, num)
    if sources is not None:
        if len(sources) != num:
            raise ValueError(f"need {num} source clips, got {len(sources)}")
        offsets, signs = placement(config, sources, model.onset, model.reference)
        aligned = alignment.aligned(sources, offsets, signs)
        centres = (vectors(config, aligned) - model.mean) @ model.directions.T
        z, levels = around(config, model, z_key, centres), rms(sources)
    else:
        offsets, signs, levels = model.shifts[picks], model.signs[picks], model.levels[picks]
        if config.prior == "kde":
            z = around(config, model, z_key, model.coords[picks])
        else:
            z = np.asarray(jax.random.normal(z_key, (num, k)), np.float64) * model.scales
    decoded = decode(config, model, z, r_key, phase_key)
    sounds = alignment.aligned(decoded, -offsets, signs).astype(np.float32)
    if config.level == "source":
        sounds = scale_to(sounds, levels)
    elif config.level == "class":
        sounds = np.clip(sounds * model.gain, -1.0, 1.0)
    return sounds, z.astype(np.float32)
