"""Training-set augmentation methods compared with VAE synthesis: classic, SpecAugment, mixup.

Every method ADDS ``n_add`` examples made from the training side only (never call it on
held-out data). Each added example carries ``source_idx``: the index, in the arrays passed
in, of the training example it was made from, so a protocol can keep it in its source's
group and check that nothing made from a held-out sound reached training.

Sources: by default (``balanced=True``) ``n_add`` is split evenly across the classes present
(the remainder of ``n_add / K`` goes one each to the lowest class indices); within a class
the sources cycle through fresh random permutations of that class's examples, so every
example is used ``floor`` or ``ceil`` of (count / class size) times. ``balanced=False``
cycles through all examples instead (class shares follow the training side).

``METHODS`` maps each ``--augment`` name to its domain: 'waveform' methods go through
``augment_waveforms`` (the features of the new clips are computed afterwards like any clip),
'features' methods through ``augment_features`` on padded log-Mel ``[N, F, n_mels]`` dB.
'none' adds nothing; 'vae' is synthesis by the per-class VAEs and is done elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
import warnings
from typing import Iterator, Optional, Sequence

import numpy as np

METHODS = {
    "none": "none",
    "vae": "waveform",
    "classic": "waveform",
    "specaugment": "features",
    "mixup": "waveform",
}


@dataclasses.dataclass(frozen=True)
class ClassicConfig:
    """Waveform augmentation with audiomentations, in this order, per added example:

    * Gain, uniform in ``gain_db`` dB (always applied).
    * Circular time shift by up to ``max_shift_fraction`` of the clip either way (always
      applied; a clip is a window cut from a quasi-stationary drilling sound, so its start is
      arbitrary), with a ``fade_seconds`` cross-fade at the seam to avoid a click.
    * Pitch shift, uniform in +-``max_semitones`` (with probability ``p_pitch``; 0.5 semitone
      is about 3 % in frequency, a small change of spindle speed), by librosa's phase
      vocoder (audiomentations' default engine, signalsmith-stretch, is not installed).
    * Gaussian noise at an SNR uniform in ``snr_db`` dB (always applied).
    * If the peak then exceeds full scale (1.0), the clip is scaled down to peak 1.0, so
      every output stays in [-1, 1] without hard clipping.

    Left out: TimeStretch (on a 20-40 ms clip of a steady sound tempo means nothing, and to
    keep the length it crops or zero-pads the tail, which changes the 1-2 Mel frames the
    classifiers see); PolarityInversion and Reverse (leave the power spectrum, hence the
    log-Mel input, unchanged: no new information); filters/EQ and distortion (would alter
    the very spectral bands that carry the class); room impulse responses and background
    noise (no such recordings here, and any realistic IR is longer than the clip).
    """

    gain_db: tuple[float, float] = (-6.0, 6.0)
    max_shift_fraction: float = 0.5
    fade_seconds: float = 0.001
    max_semitones: float = 0.5
    p_pitch: float = 0.5
    snr_db: tuple[float, float] = (20.0, 30.0)


@dataclasses.dataclass(frozen=True)
class SpecAugmentConfig:
    """Masks on log-Mel dB ``[F, n_mels]`` (Park et al. 2019, without time warping).

    ``n_freq_masks`` masks, each of a width uniform in [1, ``max_bands``] bands at a uniform
    position, set to ``fill_db`` or, by default, to that clip's own minimum (its dB floor =
    zero power on the clip's scale, the same value ``features.extract`` pads with).
    Time masks (``n_time_masks``, width in [1, ``max_frames``]) only make sense with more
    than one frame; with the paper's settings a clip has 1 or 2 frames, and masking one of
    two frames makes a 4000-sample clip look like a padded 2000-sample one, i.e. it imitates
    the clip-length cue that is confounded with the class. So they are off by default and,
    when on, are applied only to clips with >= 2 real frames and never cover all of them.
    """

    n_freq_masks: int = 2
    max_bands: int = 4
    n_time_masks: int = 0
    max_frames: int = 1
    fill_db: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class MixupConfig:
    """Label-preserving ("same-class") mixup on the waveform.

    New clip = lam * x_source + (1 - lam) * x_partner with lam ~ Beta(alpha, alpha) folded to
    lam >= 0.5 (the source dominates and stays the example's ``source_idx``). The partner is
    another training example of the SAME class and the SAME length (so the length/class mix
    of the training side is unchanged); only when no such partner exists is a same-class
    example of another length used, tiled or cut to the source's length, and only when the
    class has one example is the partner the source itself. Labels stay hard, so every
    downstream classifier (and the sklearn baselines) can use the new examples as they are.
    Waveform rather than log-Mel: a convex mix of waveforms is a physical superposition of
    two sounds and stays within [-1, 1], while averaging dB values has no physical meaning.
    """

    alpha: float = 0.4


def _check_common(labels, n_add: int, rng) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if not isinstance(n_add, (int, np.integer)) or n_add < 0:
        raise ValueError(f"n_add must be a non-negative integer, got {n_add!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return labels


def choose_sources(labels, n_add: int, rng: np.random.Generator, balanced: bool = True):
    """Indices [n_add] of the training examples the added examples are made from.

    See the module docstring for the policy. Grouped by class in class-index order.
    """
    labels = _check_common(labels, n_add, rng)
    if balanced:
        classes = np.unique(labels)
        counts = np.full(classes.size, n_add // classes.size)
        counts[: n_add % classes.size] += 1
        pools = [np.flatnonzero(labels == c) for c in classes]
    else:
        counts, pools = [n_add], [np.arange(labels.size)]
    out = []
    for count, pool in zip(counts, pools):
        reps = -(-int(count) // pool.size)
        out.append(
            np.concatenate([rng.permutation(pool) for _ in range(reps)])[:count]
            if count
            else np.zeros(0, np.int64)
        )
    return np.concatenate(out).astype(np.int64)


@contextlib.contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seeds Python's ``random`` and NumPy's legacy global RNG, restoring both afterwards.

    audiomentations draws its parameters from ``random`` and its noise from ``np.random``
    (global state). Each added example gets its own seed drawn from the caller's
    ``np.random.Generator``; seeding around each call makes the output a function of that
    Generator alone, and restoring the states leaves other code unaffected.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@functools.lru_cache(maxsize=1)
def _warm_up_pitch_shift() -> None:
    """Runs librosa's pitch shift once. Its first call in a process draws from Python's
    ``random`` (lazy imports), which would make the first augmented clip differ from later
    runs with the same seed; the draw is made here, outside any seeded section."""
    import librosa

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_fft=.*too large")
        librosa.effects.pitch_shift(
            np.zeros(2000, np.float32), sr=96000, n_steps=0.1, res_type="soxr_hq"
        )


def _classic_pipeline(config: ClassicConfig):
    import audiomentations as am  # optional dependency, only needed for 'classic'

    if config.p_pitch > 0:
        _warm_up_pitch_shift()
    return am.Compose(
        [
            am.Gain(min_gain_db=config.gain_db[0], max_gain_db=config.gain_db[1], p=1.0),
            am.Shift(
                min_shift=-config.max_shift_fraction,
                max_shift=config.max_shift_fraction,
                shift_unit="fraction",
                rollover=True,
                fade_duration=config.fade_seconds,
                p=1.0,
            ),
            am.PitchShift(
                min_semitones=-config.max_semitones,
                max_semitones=config.max_semitones,
                method="librosa_phase_vocoder",
                p=config.p_pitch,
            ),
            am.AddGaussianSNR(min_snr_db=config.snr_db[0], max_snr_db=config.snr_db[1], p=1.0),
        ]
    )


def classic_one(x: np.ndarray, sample_rate: int, seed: int, pipeline) -> np.ndarray:
    """One classic augmentation of clip x [T] (float, in [-1, 1]) -> [T] float32 in [-1, 1]."""
    with seeded_global_random(seed), warnings.catch_warnings():
        # librosa warns that its 2048-point STFT is longer than a 2000-sample clip.
        warnings.filterwarnings("ignore", message="n_fft=.*too large")
        y = pipeline(samples=np.asarray(x, np.float32), sample_rate=sample_rate)
    y = np.asarray(y, np.float32)[: x.shape[0]]
    if y.shape[0] < x.shape[0]:
        y = np.pad(y, (0, x.shape[0] - y.shape[0]))
    peak = float(np.max(np.abs(y)))
    if peak > 1.0:
        y = y / np.float32(peak)
    return np.clip(y, -1.0, 1.0)  # guards float rounding only: peak is already <= 1


def mixup_waveforms(
    waveforms: Sequence[np.ndarray],
    labels,
    n_add: int,
    rng: np.random.Generator,
    config: MixupConfig = MixupConfig(),
    balanced: bool = True,
):
    """Same-class mixup (see ``MixupConfig``).

    Returns (new_waveforms list of float32 [T_source], new_labels [n_add], source_idx
    [n_add], partner_idx [n_add]).
    """
    if config.alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {config.alpha}")
    labels = np.asarray(labels)
    sources = choose_sources(labels, n_add, rng, balanced)
    lengths = np.array([w.shape[0] for w in waveforms])
    new, partners = [], []
    for s in sources:
        same_class = (labels == labels[s]) & (np.arange(labels.size) != s)
        candidates = np.flatnonzero(same_class & (lengths == lengths[s]))
        if candidates.size == 0:
            candidates = np.flatnonzero(same_class)
        p = int(rng.choice(candidates)) if candidates.size else int(s)
        lam = rng.beta(config.alpha, config.alpha)
        lam = max(lam, 1.0 - lam)
        xs = np.asarray(waveforms[s], np.float64)
        xp = np.resize(np.asarray(waveforms[p], np.float64), xs.shape)  # tiles or cuts
        new.append((lam * xs + (1.0 - lam) * xp).astype(np.float32))
        partners.append(p)
    return new, labels[sources], sources, np.asarray(partners, np.int64)


def _check_waveforms(waveforms, labels, sample_rate: int) -> None:
    if len(waveforms) != np.asarray(labels).shape[0]:
        raise ValueError(f"{len(waveforms)} waveforms but {np.asarray(labels).shape[0]} labels")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    for i, w in enumerate(waveforms):
        w = np.asarray(w)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"waveform {i} must be a non-empty 1-D array, got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"waveform {i} holds non-finite values")


def augment_waveforms(
    method: str,
    waveforms: Sequence[np.ndarray],
    labels,
    n_add: int,
    rng: np.random.Generator,
    sample_rate: int,
    config=None,
    balanced: bool = True,
):
    """Adds ``n_add`` waveforms made from the training clips by ``method``.

    Args:
      method: 'none', 'classic' or 'mixup' (``METHODS[method] == 'waveform'``; 'vae' is
        synthesis by the VAEs and is not done here).
      waveforms: N training clips, float [T_i] in [-1, 1]; lengths may differ.
      labels: [N] integer labels.
      n_add: number of examples to add (0 allowed).
      rng: the only source of randomness; the same Generator state gives the same output.
      sample_rate: Hz.
      config: ``ClassicConfig`` / ``MixupConfig`` (defaults when None).
      balanced: split n_add evenly across classes (see module docstring).

    Returns (new_waveforms: list of n_add float32 [T_source] (each keeps its source's
    length), new_labels: [n_add] int64 (the source's label), source_idx: [n_add] int64).
    """
    labels = _check_common(labels, n_add, rng)
    if method not in METHODS:
        raise ValueError(f"unknown augmentation {method!r}; choose from {tuple(METHODS)}")
    if method == "vae":
        raise ValueError("'vae' augmentation is synthesis by the per-class VAEs, not done here")
    if METHODS[method] == "features":
        raise ValueError(f"{method!r} works on log-Mel features: use augment_features")
    _check_waveforms(waveforms, labels, sample_rate)
    if method == "none" or n_add == 0:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    if method == "mixup":
        new, new_labels, sources, _ = mixup_waveforms(
            waveforms, labels, n_add, rng, config or MixupConfig(), balanced
        )
        return new, new_labels.astype(np.int64), sources
    config = config or ClassicConfig()
    pipeline = _classic_pipeline(config)
    sources = choose_sources(labels, n_add, rng, balanced)
    seeds = rng.integers(0, 2**32, size=sources.size)
    new = [
        classic_one(np.asarray(waveforms[s]), sample_rate, seed, pipeline)
        for s, seed in zip(sources, seeds)
    ]
    return new, labels[sources].astype(np.int64), sources


def specaugment_one(
    x: np.ndarray, rng: np.random.Generator, config: SpecAugmentConfig, n_frames: int
) -> np.ndarray:
    """Masks one log-Mel clip x [F, M] (dB); frames >= n_frames are padding and left alone."""
    y = np.array(x, dtype=np.float32, copy=True)
    fill = np.float32(x.min() if config.fill_db is None else config.fill_db)
    n_bands = x.shape[1]
    for _ in range(config.n_freq_masks):
        width = int(rng.integers(1, min(config.max_bands, n_bands) + 1))
        start = int(rng.integers(0, n_bands - width + 1))
        y[:n_frames, start : start + width] = fill
    if n_frames >= 2:
        for _ in range(config.n_time_masks):
            width = int(rng.integers(1, min(config.max_frames, n_frames - 1) + 1))
            start = int(rng.integers(0, n_frames - width + 1))
            y[start : start + width, :] = fill
    return y


def augment_features(
    method: str,
    X,
    labels,
    n_add: int,
    rng: np.random.Generator,
    config: Optional[SpecAugmentConfig] = None,
    n_frames=None,
    balanced: bool = True,
):
    """Adds ``n_add`` log-Mel examples made from the training features by ``method``.

    Args:
      method: 'none' or 'specaugment' (``METHODS[method] == 'features'``).
      X: [N, F, M] log-Mel dB of the training clips (padded to F frames).
      labels: [N] integer labels.
      n_add, rng, balanced: as in ``augment_waveforms``.
      config: ``SpecAugmentConfig`` (default when None).
      n_frames: optional [N] number of real (unpadded) frames per clip; default F for all.
        Masks never touch padding frames.

    Returns (X_new [n_add, F, M] float32, y_new [n_add] int64, source_idx [n_add] int64).
    """
    labels = _check_common(labels, n_add, rng)
    if method not in METHODS:
        raise ValueError(f"unknown augmentation {method!r}; choose from {tuple(METHODS)}")
    if METHODS[method] != "features" and method != "none":
        raise ValueError(f"{method!r} works on {METHODS[method]}s, not log-Mel features")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[0] != labels.size:
        raise ValueError(f"X must be [N={labels.size}, F, n_mels], got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X holds non-finite values")
    if n_frames is None:
        n_frames = np.full(labels.size, X.shape[1])
    n_frames = np.asarray(n_frames)
    if n_frames.shape != labels.shape or n_frames.min() < 1 or n_frames.max() > X.shape[1]:
        raise ValueError(f"n_frames must be [N] in [1, {X.shape[1]}], got {n_frames}")
    if method == "none" or n_add == 0:
        return (
            np.zeros((0,) + X.shape[1:], np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
    config = config or SpecAugmentConfig()
    if config.max_bands < 1 or config.max_frames < 1:
        raise ValueError(f"max_bands and max_frames must be >= 1, got {config}")
    sources = choose_sources(labels, n_add, rng, balanced)
    X_new = np.stack([specaugment_one(X[s], rng, config, int(n_frames[s])) for s in sources])
    return X_new, labels[sources].astype(np.int64), sources
