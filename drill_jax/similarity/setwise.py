"""Set-level similarity of synthesized sounds to the real sounds of their class.

Four measures, each with a real-vs-real reference so that a number can be read on its own:

* Best match: for each synthesized sound, the real sound with the largest peak ``|xcorr|``
  (MATLAB 'coeff', over the common part; ``pairwise.xcorr_coeff``), and the distribution of
  those peaks. Reference: each real sound's best match among the *other* real sounds.
* Memorisation (nearest-neighbour distance ratio): ``ratio(s) = d(s, NN_train(s)) / scale`` with
  ``scale`` = the median over training sounds t of ``d(t, NN_train\\{t}(t))``. A ratio near 0 means
  a near-copy of one training sound; ~1 means as far from the training set as training sounds are
  from each other. Two distances: ``1 - max_lag |xcorr|`` (waveform shape, shift and sign
  invariant) and the Euclidean distance between log-Mel vectors (dB, ``log_mel_vectors``).
  Reference: the same ratio for each training sound against the other training sounds
  (leave-one-out; its median is 1 by construction). ``class_similarity`` reports it twice: against
  the generator's training sounds, and against all real sounds of the class (the paper's code
  decoded its synthesized sounds from held-out sounds, which then joined the classifier's data).
* Fréchet distance between Gaussian fits of log-Mel vectors,
  ``|mu_r - mu_s|^2 + tr(C_r + C_s - 2 (C_r C_s)^(1/2))`` (dB^2). The estimate is biased upward
  for small sets, so the reference compares equal sizes: a random half A of the real set against
  k other real sounds and against k synthesized sounds (``frechet_with_reference``).
* Two-sample classifier test (``two_sample.classifier_test``) on log-Mel vectors: balanced
  accuracy near 0.5 = the classifier cannot tell the sets apart.
* The Fréchet distance and the two-sample test are also run on the spectral shape (each log-Mel
  vector minus its mean over bands), so that a mere level difference can be told apart from a
  different spectrum; ``level_db`` gives the mean band level of each set and
  ``band_difference_db`` [n_mels] the mean synthesized minus mean real log-Mel, band by band.

Log-Mel vectors: the first ``length`` samples (1999, the VAE's input) of every sound, band-passed
and turned into ONE log-Mel frame by ``features.extract``. Taking the same span from every
sound also removes the clip-length confound (2000 vs 4000 samples) from the comparison.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Optional, Sequence

import numpy as np
import scipy.spatial.distance

from drill_jax import data, features
from drill_jax.similarity import pairwise, two_sample

VAE_LENGTH = data.PAPER_CLIP_SAMPLES


@dataclasses.dataclass(frozen=True)
class BestMatches:
    """Best-matching reference sound for each query sound. Each field is [M].

    index: into the reference set; peak: signed xcorr coefficient of largest magnitude;
    abs_peak: ``|peak|``; lag: its lag in samples (MATLAB convention, see pairwise.py).
    """

    index: np.ndarray
    peak: np.ndarray
    abs_peak: np.ndarray
    lag: np.ndarray


@dataclasses.dataclass(frozen=True)
class NNRatio:
    """Nearest-neighbour distance ratios of M query sounds against a training set.

    ratio [M]; nn_index [M] index into the training set; nn_distance [M];
    scale: the median leave-one-out NN distance among training sounds;
    train_ratio [N]: each training sound's own leave-one-out ratio (the reference).
    """

    ratio: np.ndarray
    nn_index: np.ndarray
    nn_distance: np.ndarray
    scale: float
    train_ratio: np.ndarray


def crop_set(waveforms: Sequence[np.ndarray], length: Optional[int] = None) -> np.ndarray:
    """Stacks the first ``length`` samples of each sound: list of [T_i] -> [N, length] float64.

    ``length`` defaults to the shortest sound; a sound shorter than ``length`` raises ValueError.
    """
    if len(waveforms) == 0:
        raise ValueError("empty set of sounds")
    lengths = [np.asarray(w).shape[-1] for w in waveforms]
    if any(np.asarray(w).ndim != 1 for w in waveforms):
        raise ValueError("every sound must be a 1-D signal")
    length = min(lengths) if length is None else int(length)
    if min(lengths) < length:
        raise ValueError(f"a sound has {min(lengths)} samples, fewer than the {length} compared")
    return np.stack([np.asarray(w, np.float64)[:length] for w in waveforms])


def summarize(values) -> dict:
    """n, mean, std, min, quartiles and max of a 1-D sample (floats, JSON-ready)."""
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        raise ValueError("cannot summarise an empty sample")
    q = np.percentile(v, [0, 25, 50, 75, 100])
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(q[0]),
        "q25": float(q[1]),
        "median": float(q[2]),
        "q75": float(q[3]),
        "max": float(q[4]),
    }


def best_matches(
    query: np.ndarray, reference: np.ndarray, exclude_self: bool = False
) -> BestMatches:
    """Best match by peak ``|xcorr|`` of each row of ``query`` [M, L] in ``reference`` [N, L].

    With ``exclude_self`` (query is reference) a sound cannot match itself.
    """
    peaks, lags = pairwise.peak_xcorr_matrix(query, reference)
    score = np.abs(peaks)
    if exclude_self:
        _check_square(score)
        np.fill_diagonal(score, -np.inf)
    index = np.argmax(score, axis=1)
    peak = np.take_along_axis(peaks, index[:, None], axis=1)[:, 0]
    lag = np.take_along_axis(lags, index[:, None], axis=1)[:, 0]
    return BestMatches(index=index, peak=peak, abs_peak=np.abs(peak), lag=lag)


def xcorr_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - max_lag |xcorr_coeff|`` between rows of [M, L] and [N, L]: [M, N] in [0, 1]."""
    return 1.0 - np.abs(pairwise.peak_xcorr_matrix(a, b)[0])


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of [M, D] and [N, D]: [M, N]."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need [M, D] and [N, D] arrays, got {a.shape} and {b.shape}")
    return scipy.spatial.distance.cdist(a, b)


def _check_square(d: np.ndarray) -> None:
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"need a square [N, N] matrix, got {d.shape}")


def nn_distance_ratio(d_query_train: np.ndarray, d_train_train: np.ndarray) -> NNRatio:
    """Memorisation check from distances query->train [M, N] and train->train [N, N].

    See the module docstring. Needs N >= 2 and a positive typical NN distance among training
    sounds (otherwise the training set holds duplicates only and the ratio is undefined).
    """
    d_qt = np.asarray(d_query_train, np.float64)
    d_tt = np.array(d_train_train, np.float64)
    _check_square(d_tt)
    if d_qt.ndim != 2 or d_qt.shape[1] != d_tt.shape[0]:
        raise ValueError(f"query distances {d_qt.shape} do not match {d_tt.shape[0]} train sounds")
    if d_tt.shape[0] < 2:
        raise ValueError("need at least 2 training sounds")
    np.fill_diagonal(d_tt, np.inf)
    train_nn = d_tt.min(axis=1)
    scale = float(np.median(train_nn))
    if not scale > 0.0:
        raise ValueError("typical nearest-neighbour distance among training sounds is 0")
    nn_index = np.argmin(d_qt, axis=1)
    nn_distance = d_qt[np.arange(d_qt.shape[0]), nn_index]
    return NNRatio(
        ratio=nn_distance / scale,
        nn_index=nn_index,
        nn_distance=nn_distance,
        scale=scale,
        train_ratio=train_nn / scale,
    )


def _gaussian_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need [n >= 2, D] feature vectors, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("non-finite feature values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0.0, None))[None, :]) @ v.T


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of [n, D] and [m, D] feature vectors (units^2).

    ``tr((C_x C_y)^(1/2))`` is computed as the trace of the square root of the symmetric PSD
    matrix ``C_x^(1/2) C_y C_x^(1/2)`` (same eigenvalues), which is stable for singular
    covariances (n <= D).
    """
    mx, cx = _gaussian_fit(x)
    my, cy = _gaussian_fit(y)
    if mx.shape != my.shape:
        raise ValueError(f"feature sizes differ: {mx.shape[0]} vs {my.shape[0]}")
    sx = _psd_sqrt(cx)
    m = sx @ cy @ sx
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)))
    fd = float(np.sum((mx - my) ** 2) + np.trace(cx) + np.trace(cy) - 2.0 * cross)
    return max(fd, 0.0)


def frechet_with_reference(
    real: np.ndarray, synth: np.ndarray, rng: np.random.Generator, repeats: int = 20
) -> dict:
    """FD(real, synth) on the full sets plus the equal-size reference (module docstring).

    Each repeat splits the real set into a random half A (n // 2 sounds) and the rest; with
    ``k = min(n // 2, m)``, ``half_vs_half = FD(A, k other real sounds)`` and
    ``half_vs_synth = FD(A, k synthesized sounds)``, so both sides have the same sizes and the
    small-sample bias cancels in the ratio. Returns dict(real_vs_synth (full sets),
    half_vs_half {mean, std}, half_vs_synth {mean, std}, ratio = mean(half_vs_synth) /
    mean(half_vs_half), half_size, compared_size, repeats). Needs >= 4 real sounds.
    """
    real = np.asarray(real, np.float64)
    synth = np.asarray(synth, np.float64)
    if real.shape[0] < 4:
        raise ValueError(
            f"need at least 4 real sounds for the half-vs-half reference, got {real.shape[0]}"
        )
    half = real.shape[0] // 2
    k = min(half, synth.shape[0])
    if k < 2:
        raise ValueError(f"need at least 2 synthesized sounds, got {synth.shape[0]}")
    hh, hs = [], []
    for _ in range(repeats):
        perm = rng.permutation(real.shape[0])
        a, b = real[perm[:half]], real[perm[half : half + k]]
        hh.append(frechet_distance(a, b))
        hs.append(frechet_distance(a, synth[rng.permutation(synth.shape[0])[:k]]))
    hh, hs = np.array(hh), np.array(hs)
    return {
        "real_vs_synth": frechet_distance(real, synth),
        "half_vs_half": {"mean": float(hh.mean()), "std": float(hh.std())},
        "half_vs_synth": {"mean": float(hs.mean()), "std": float(hs.std())},
        "ratio": float(hs.mean() / hh.mean()) if hh.mean() > 0 else float("inf"),
        "half_size": int(half),
        "compared_size": int(k),
        "repeats": int(repeats),
    }


def coherence_stats(pairs: Sequence[tuple[np.ndarray, np.ndarray]], sample_rate: int) -> dict:
    """Mean over frequency and maximum of the coherence (``pairwise.coherence``) of each pair:
    dict(mean_coherence summary, max_coherence summary, num_peaks summary (> 0.05))."""
    if len(pairs) == 0:
        raise ValueError("no pairs")
    mean, peak, count = [], [], []
    for a, b in pairs:
        coh = pairwise.coherence(a, b, sample_rate)
        mean.append(coh.cxy.mean())
        peak.append(coh.cxy.max())
        count.append(pairwise.coherence_peaks(coh).freqs.shape[0])
    return {
        "mean_coherence": summarize(mean),
        "max_coherence": summarize(peak),
        "num_peaks": summarize(count),
    }


def coherence_null(
    length: int, sample_rate: int, rng: np.random.Generator, num_pairs: int = 200
) -> dict:
    """``coherence_stats`` of pairs of independent white-noise signals of ``length`` samples:
    what the 8-segment estimator gives for two unrelated sounds (its bias ~ 1/segments and its
    chance maxima)."""
    pairs = [(rng.standard_normal(length), rng.standard_normal(length)) for _ in range(num_pairs)]
    return coherence_stats(pairs, sample_rate)


def log_mel_vectors(
    waveforms: Sequence[np.ndarray],
    sample_rate: int,
    length: int = VAE_LENGTH,
    settings: Optional[features.FeatureSettings] = None,
) -> np.ndarray:
    """One log-Mel frame (dB) of the first ``length`` samples of each sound: [N, n_mels].

    ``features.extract`` with ``settings`` (default: the paper's at ``sample_rate``).
    """
    clips = crop_set(waveforms, length).astype(np.float32)
    settings = settings or features.FeatureSettings(sample_rate=int(sample_rate))
    settings = dataclasses.replace(settings, clip_samples=clips.shape[1])
    return np.asarray(features.extract(settings, clips)[:, 0], np.float64)


def spectral_shape(log_mel: np.ndarray) -> np.ndarray:
    """Log-Mel vectors [N, n_mels] (dB) minus each vector's mean over bands: the level-free
    spectral shape (a gain change of a sound shifts every band by the same number of dB)."""
    log_mel = np.asarray(log_mel, np.float64)
    if log_mel.ndim != 2:
        raise ValueError(f"need [N, n_mels] log-Mel vectors, got shape {log_mel.shape}")
    return log_mel - log_mel.mean(axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Repeats:
    """cv: repeats of the 5-fold two-sample test; fd: random halves of the Fréchet reference."""

    cv: int = 4
    fd: int = 20


def memorisation_summary(d_query_train: np.ndarray, d_train_train: np.ndarray) -> dict:
    """``nn_distance_ratio`` as JSON: {ratio (summary), fraction_below_0.5, train_loo_ratio,
    train_loo_fraction_below_0.5, scale, distinct_nearest_train_sounds}."""
    nn = nn_distance_ratio(d_query_train, d_train_train)
    return {
        "ratio": summarize(nn.ratio),
        "fraction_below_0.5": float(np.mean(nn.ratio < 0.5)),
        "train_loo_ratio": summarize(nn.train_ratio),
        "train_loo_fraction_below_0.5": float(np.mean(nn.train_ratio < 0.5)),
        "scale": nn.scale,
        "distinct_nearest_train_sounds": int(np.unique(nn.nn_index).shape[0]),
    }


def memorisation_table(distances: dict, train_mask: np.ndarray) -> dict:
    """Memorisation ratios against the training sounds and against all real sounds.

    distances: {name: (synth->real [M, N], real->real [N, N])}; train_mask: [N] bool.
    Returns {'train' | 'all_real': {name: ``memorisation_summary``}}.
    """
    memo = {"train": {}, "all_real": {}}
    sets = (("train", np.flatnonzero(train_mask)), ("all_real", np.arange(train_mask.shape[0])))
    for (ref, t), (name, (d_sr, d_rr)) in itertools.product(sets, distances.items()):
        memo[ref][name] = memorisation_summary(d_sr[:, t], d_rr[np.ix_(t, t)])
    return memo


def _log_mel_measures(s_mel, r_mel, seed: int, repeats: Repeats) -> dict:
    """Level, band differences, Fréchet and two-sample tests of log-Mel vectors and of their
    spectral shape: synthesized [M, D] vs real [N, D]."""
    rng = np.random.default_rng(seed)
    s_shape, r_shape = spectral_shape(s_mel), spectral_shape(r_mel)
    return {
        "level_db": {"real": summarize(r_mel.mean(axis=1)), "synth": summarize(s_mel.mean(axis=1))},
        "band_difference_db": (s_mel.mean(axis=0) - r_mel.mean(axis=0)).tolist(),
        "frechet_log_mel": frechet_with_reference(r_mel, s_mel, rng, repeats.fd),
        "two_sample_log_mel": two_sample.classifier_test(
            r_mel, s_mel, n_repeats=repeats.cv, seed=seed
        ),
        "frechet_log_mel_shape": frechet_with_reference(r_shape, s_shape, rng, repeats.fd),
        "two_sample_log_mel_shape": two_sample.classifier_test(
            r_shape, s_shape, n_repeats=repeats.cv, seed=seed
        ),
    }


def class_similarity(
    synth: Sequence[np.ndarray],
    real: Sequence[np.ndarray],
    sample_rate: int,
    train_mask: Optional[np.ndarray] = None,
    seed: int = 0,
    length: Optional[int] = None,
    settings: Optional[features.FeatureSettings] = None,
    repeats: Repeats = Repeats(),
) -> dict:
    """All set-level measures for one class: synthesized sounds vs the real sounds of the class.

    Args:
      synth: M synthesized sounds [T_i]; real: N real sounds [T_j] (same class).
      sample_rate: Hz.
      train_mask: [N] bool, the real sounds the generator was trained on (the memorisation
        check's training set); default all real sounds.
      seed: for the random halves of the Fréchet reference and the CV folds.
      length: samples compared (default: the shortest sound, e.g. 1999 for VAE output).
      settings: log-Mel settings (default: the paper's); repeats: of the CV and Fréchet halves.
    Returns a JSON-ready dict; ``best_index`` [M] and ``best_peak`` [M] give each synthesized
    sound's best-matching real sound.
    """
    n_real = len(real)
    if len(synth) < 2 or n_real < 4:
        raise ValueError(f"need >= 2 synthesized and >= 4 real sounds, got {len(synth)}, {n_real}")
    train_mask = np.ones(n_real, bool) if train_mask is None else np.asarray(train_mask, bool)
    if train_mask.shape != (n_real,) or train_mask.sum() < 2:
        raise ValueError("train_mask must be [N] bool with at least 2 training sounds")
    if length is None:
        length = min(min(len(w) for w in synth), min(len(w) for w in real))
    s_wave, r_wave = crop_set(synth, length), crop_set(real, length)
    peaks, lags = pairwise.peak_xcorr_matrix(s_wave, r_wave)
    best = np.argmax(np.abs(peaks), axis=1)
    best_peak = peaks[np.arange(len(best)), best]
    real_loo = best_matches(r_wave, r_wave, exclude_self=True)
    top = int(np.argmax(np.abs(best_peak)))
    s_mel = log_mel_vectors(synth, sample_rate, length, settings)
    r_mel = log_mel_vectors(real, sample_rate, length, settings)
    distances = {
        "xcorr": (1.0 - np.abs(peaks), xcorr_distances(r_wave, r_wave)),
        "log_mel": (euclidean_distances(s_mel, r_mel), euclidean_distances(r_mel, r_mel)),
    }
    return {
        "num_synth": len(synth),
        "num_real": n_real,
        "num_train": int(train_mask.sum()),
        "length": int(length),
        "best_match_abs_xcorr": summarize(np.abs(best_peak)),
        "real_loo_best_match_abs_xcorr": summarize(real_loo.abs_peak),
        "distinct_best_matches": int(np.unique(best).shape[0]),
        "best_pair": {
            "synth_index": top,
            "real_index": int(best[top]),
            "xcorr_peak": float(best_peak[top]),
            "lag_samples": int(lags[top, best[top]]),
        },
        "coherence_best_match": coherence_stats(
            [(s_wave[i], r_wave[best[i]]) for i in range(len(best))], sample_rate
        ),
        "coherence_real_loo_best_match": coherence_stats(
            [(r_wave[i], r_wave[real_loo.index[i]]) for i in range(n_real)], sample_rate
        ),
        "memorisation": memorisation_table(distances, train_mask),
        **_log_mel_measures(s_mel, r_mel, seed, repeats),
        "best_index": best.tolist(),
        "best_peak": best_peak.tolist(),
    }
