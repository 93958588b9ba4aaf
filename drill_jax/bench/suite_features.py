"""Features benchmark: batched band-pass + log-Mel of N clips vs the per-clip librosa loop.

``features_suite`` times ``features.log_mel(band(clips))`` and ``features.extract``
against ``librosa_reference_features`` (scipy filters + librosa STFT / Mel / dB, one clip
at a time) and reports speed-up and the largest difference in dB.
"""

from __future__ import annotations

import time
from typing import Optional

import jax
import numpy as np
import scipy.signal

from drill_jax import data, features
from drill_jax.bench.report import all_of, at_least, at_most
from drill_jax.bench.suite_config import SAMPLE_RATE, SuiteConfig
from drill_jax.bench.timing import Timing, time_calls
from drill_jax.features import filters


def feature_clips(n: int, samples: int, seed: int = 0) -> np.ndarray:
    """[n, samples] float32 clips: bundled sounds, repeated to ``samples``, random gains."""
    ds = data.load_dataset()
    base = data.stack_fixed(list(ds.waveforms), samples, "repeat")  # [134, samples]
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, base.shape[0], n)
    gains = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    return (base[rows] * gains).astype(np.float32)


def librosa_reference_features(
    clips: np.ndarray, sample_rate: int = SAMPLE_RATE, top_db: Optional[float] = 80.0
) -> np.ndarray:
    """The per-clip loop a user would write: scipy filter, librosa STFT + Mel, dB.

    For each clip (float64): the paper's high-pass then low-pass with the designs of
    ``filters`` (IIR: ``scipy.signal.sosfiltfilt``; FIR: ``np.convolve(mode='same')``, as
    ``filters.make_bandpass`` picks them for this length), ``librosa.stft(center=False)``
    with a periodic Hann window, ``librosa.filters.mel(htk=True, norm='slaney')``, divided
    by sum(window)^2 (MATLAB window normalisation), ``librosa.power_to_db(amin=1e-20)``.
    [N, T] -> [N, frames, n_mels] float64 dB.
    """
    import librosa

    config = features.MelConfig(sample_rate=sample_rate)
    designs = [
        filters.design_filter("highpass", 1000.0, sample_rate),
        filters.design_filter("lowpass", 22000.0, sample_rate),
    ]
    fb = librosa.filters.mel(
        sr=sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=0.0,
        fmax=sample_rate / 2,
        htk=True,
        norm="slaney",
    ).astype(np.float64)
    window_sum = float(np.sum(features.periodic_hann(config)))
    out = []
    for clip in np.asarray(clips, np.float64):
        y = clip
        for fd in designs:
            if fd.select(y.shape[0]) == "fir":
                y = np.convolve(y, fd.taps, mode="same")
            else:
                y = scipy.signal.sosfiltfilt(fd.sos, y)
        stft = librosa.stft(
            y,
            n_fft=config.n_fft,
            hop_length=config.hop,
            win_length=config.win_length,
            window="hann",
            center=False,
        )
        power = (fb @ np.abs(stft) ** 2) / window_sum**2  # [n_mels, frames]
        out.append(librosa.power_to_db(power, ref=1.0, amin=features.AMIN, top_db=top_db).T)
    return np.stack(out)


def features_suite(suite: SuiteConfig) -> dict:
    """Band-pass + log-Mel of N clips: batched path vs the per-clip librosa loop."""
    clips = feature_clips(suite.feature_clips, suite.feature_samples, suite.seed)
    n = clips.shape[0]
    band = filters.make_bandpass(1000.0, 22000.0, SAMPLE_RATE)
    config = features.MelConfig(sample_rate=SAMPLE_RATE)
    batched = lambda: features.log_mel(band(clips), config)
    settings = features.FeatureSettings(sample_rate=SAMPLE_RATE)
    listed = lambda: features.extract(settings, list(clips))
    band_fft = filters.make_bandpass(1000.0, 22000.0, SAMPLE_RATE, method="fft")
    batched_fft = lambda: features.log_mel(band_fft(clips), config)
    tb = time_calls(batched, suite.feature_repeats, 1, n)
    tl = time_calls(listed, suite.feature_repeats, 1, n)
    tf = time_calls(batched_fft, suite.feature_repeats, 1, n)
    filtered = band(clips)
    ours = features.log_mel(filtered, config)  # = batched(), with the filtered clips kept
    fft_vs_recursive = float(np.max(np.abs(band_fft(clips) - filtered)) / np.max(np.abs(filtered)))
    m = n if suite.librosa_clips <= 0 else min(n, suite.librosa_clips)
    librosa_reference_features(clips[:1])  # warm-up: librosa's first calls compile (numba)
    start = time.perf_counter()
    ref = librosa_reference_features(clips[:m])
    loop_s = time.perf_counter() - start
    loop = Timing((loop_s,), None, m)
    diff = np.abs(ours[:m].astype(np.float64) - ref)
    max_rel = float(np.max(diff / np.maximum(np.abs(ref), 1e-30)))
    max_abs_db = float(np.max(diff))
    ratio = tb.items_per_s / loop.items_per_s
    ratio_list = tl.items_per_s / loop.items_per_s
    rows = [
        {
            "figure": f"features: band-pass + log-Mel, {n} clips x {suite.feature_samples}",
            "ours clips/s": tb.items_per_s,
            "ours s (median)": tb.median_s,
            "librosa loop clips/s": loop.items_per_s,
            "speed-up vs librosa": ratio,
            "max rel diff": max_rel,
            "max abs diff dB": max_abs_db,
        },
        {
            "figure": "features: features.extract (list input; JSON key clip_features)",
            "ours clips/s": tl.items_per_s,
            "ours s (median)": tl.median_s,
            "librosa loop clips/s": loop.items_per_s,
            "speed-up vs librosa": ratio_list,
        },
        {
            "figure": "features: band-pass by FFTs (exact sosfiltfilt) + log-Mel",
            "ours clips/s": tf.items_per_s,
            "ours s (median)": tf.median_s,
            "librosa loop clips/s": loop.items_per_s,
            "speed-up vs librosa": tf.items_per_s / loop.items_per_s,
            "max rel diff": fft_vs_recursive,
        },
    ]
    targets = [
        all_of(
            "features vs librosa loop",
            [
                at_least("speed-up", ratio, 100.0 if jax.default_backend() != "cpu" else 20.0),
                at_most("max rel diff", max_rel, 1e-4),
            ],
        )
    ]
    return {
        "rows": rows,
        "targets": targets,
        "figures": {
            "batched": tb.summary(),
            "clip_features": tl.summary(),
            "librosa_loop": loop.summary(),
            "librosa_clips": m,
            "speed_up": ratio,
            "speed_up_clip_features": ratio_list,
            "fft_band_pass": tf.summary(),
            "speed_up_fft_band_pass": tf.items_per_s / loop.items_per_s,
            "fft_vs_recursive_max_rel_diff": fft_vs_recursive,
            "max_rel_diff_db": max_rel,
            "max_abs_diff_db": max_abs_db,
        },
    }
