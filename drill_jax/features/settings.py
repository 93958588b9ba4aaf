"""The one feature path: ``FeatureSettings`` and ``extract(settings, clips)``.

Training, every evaluation protocol, saved detectors, the features job and streaming all
turn sounds into log-Mel features through ``extract``, with every choice in one frozen
``FeatureSettings``: the band (a high-pass, a low-pass, both, or none), the filter design,
the Mel window / overlap / FFT / bands / frequency range, the dB clipping and the clip
length that fixes the number of frames. Defaults are the paper's (Tran et al. 2022):
1-22 kHz band-pass, 1999-sample periodic Hann window, 512 overlap, 1999-point FFT,
32 HTK Mel bands over 0 .. sample_rate / 2, 80 dB clipping.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np

from drill_jax.data import clips as clips_lib
from drill_jax.features import filters, mel

PAPER_BAND_HZ = (1000.0, 22000.0)

Band = Optional[tuple]  # (low Hz or None, high Hz or None), or None for no filtering


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
    """How a clip becomes log-Mel features. Units: Hz, samples, dB.

    Attributes:
      sample_rate: rate of the audio (Hz).
      band_hz: (low, high) edges in Hz of the zero-phase band-pass applied first: a
        MATLAB ``highpass`` at ``low`` then a ``lowpass`` at ``high``. One edge None
        applies the other filter alone; None (no tuple) applies no filter. Both edges must
        lie strictly inside (0, sample_rate / 2).
      filter_design: 'auto' (MATLAB's choice per clip length), 'fir' or 'iir'.
      filter_method: how an IIR design runs: 'recursive' (SciPy's sosfiltfilt; fastest on
        a CPU) or 'fft' (the same numbers by FFTs for the whole batch, ``fftfilt``).
      window_samples: samples of the periodic Hann window of each Mel frame.
      overlap_samples: samples shared by consecutive frames (hop = window - overlap).
      n_fft: FFT length (>= window_samples).
      n_mels: Mel bands.
      fmin, fmax: Mel band range in Hz (fmax None = sample_rate / 2).
      top_db: each clip's log-Mel is clipped at its own maximum minus top_db (None = no
        clipping).
      power: 2.0 = power spectrum, 1.0 = magnitude.
      window_normalization: divide the spectrum by sum(window) (MATLAB's default).
      clip_samples: length of the longest clip; fixes ``n_frames``. Shorter clips are
        padded at the frame level with their own dB floor; longer ones are an error.
        None = the longest clip of each ``extract`` call.
    """

    sample_rate: int = 96000
    band_hz: Band = PAPER_BAND_HZ
    filter_design: str = "auto"
    filter_method: str = "recursive"
    window_samples: int = clips_lib.PAPER_CLIP_SAMPLES
    overlap_samples: int = 512
    n_fft: int = clips_lib.PAPER_CLIP_SAMPLES
    n_mels: int = 32
    fmin: float = 0.0
    fmax: Optional[float] = None
    top_db: Optional[float] = 80.0
    power: float = 2.0
    window_normalization: bool = True
    clip_samples: Optional[int] = None

    def __post_init__(self):
        if int(self.sample_rate) <= 0:
            raise ValueError(f"sample_rate: must be positive, got {self.sample_rate}")
        nyquist = self.sample_rate / 2
        if self.band_hz is not None:
            if len(self.band_hz) != 2 or self.band_hz == (None, None):
                raise ValueError(
                    f"band_hz: need (low, high) with at least one edge, got {self.band_hz}"
                )
            for edge in self.band_hz:
                if edge is None:
                    continue
                if not edge > 0:
                    raise ValueError(f"band_hz: edge {edge} Hz must be positive")
                if edge >= nyquist:
                    raise ValueError(
                        f"band_hz: edge {edge:g} Hz is at or above the Nyquist limit "
                        f"{nyquist:g} Hz (sample rate {self.sample_rate} Hz)"
                    )
            low, high = self.band_hz
            if low is not None and high is not None and not low < high:
                raise ValueError(f"band_hz: low edge {low:g} Hz must be below high {high:g} Hz")
        if self.filter_design not in filters.DESIGNS:
            raise ValueError(
                f"filter_design: must be one of {filters.DESIGNS}, got {self.filter_design!r}"
            )
        if self.filter_method not in filters.METHODS:
            raise ValueError(
                f"filter_method: must be one of {filters.METHODS}, got {self.filter_method!r}"
            )
        if self.fmax is not None and self.fmax > nyquist:
            raise ValueError(
                f"fmax: {self.fmax:g} Hz is above the Nyquist limit {nyquist:g} Hz "
                f"(sample rate {self.sample_rate} Hz)"
            )
        if self.top_db is not None and self.top_db < 0:
            raise ValueError(f"top_db: must be non-negative or None, got {self.top_db}")
        _mel_config(self)  # validates the Mel settings (window, overlap, FFT, bands, range)
        if self.clip_samples is not None and self.clip_samples < self.window_samples:
            raise ValueError(
                f"clip_samples: {self.clip_samples} is shorter than the Mel window "
                f"({self.window_samples} samples)"
            )

    @property
    def mel(self) -> mel.MelConfig:
        """The Mel spectrogram parameters (``mel.MelConfig``)."""
        return _mel_config(self)

    @property
    def bandpass(self) -> bool:
        """True when a filter is applied before the Mel features."""
        return self.band_hz is not None

    @property
    def n_frames(self) -> int:
        """Mel frames per clip of ``clip_samples`` samples."""
        if self.clip_samples is None:
            raise ValueError("clip_samples is not set: n_frames depends on the clips")
        return self.mel.n_frames(self.clip_samples)

    def frames(self, n_samples: int) -> int:
        """Mel frames of a clip of ``n_samples`` samples (no padding)."""
        return self.mel.n_frames(int(n_samples))

    @property
    def clip_seconds(self) -> Optional[float]:
        return None if self.clip_samples is None else self.clip_samples / self.sample_rate

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["band_hz"] = None if self.band_hz is None else list(self.band_hz)
        if self.clip_samples is not None:
            out["n_frames"] = self.n_frames
            out["clip_seconds"] = self.clip_seconds
        return out

    @staticmethod
    def from_json(obj: dict) -> "FeatureSettings":
        obj = dict(obj)
        obj.pop("n_frames", None)
        obj.pop("clip_seconds", None)
        names = {f.name for f in dataclasses.fields(FeatureSettings)}
        unknown = set(obj) - names
        if unknown:
            raise ValueError(f"feature settings have unknown fields {sorted(unknown)}")
        if obj.get("band_hz") is not None:
            obj["band_hz"] = tuple(None if v is None else float(v) for v in obj["band_hz"])
        return FeatureSettings(**obj)

    @staticmethod
    def from_v1_json(obj: dict) -> "FeatureSettings":
        """Settings stored by detector format version 1 (nested 'mel', 'bandpass' flag)."""
        m = obj["mel"]
        band = tuple(float(v) for v in obj["band_hz"]) if obj.get("bandpass", True) else None
        return FeatureSettings(
            sample_rate=int(obj["sample_rate"]),
            band_hz=band,
            filter_design=obj.get("filter_design", "auto"),
            window_samples=int(m["win_length"]),
            overlap_samples=int(m["overlap"]),
            n_fft=int(m["n_fft"]),
            n_mels=int(m["n_mels"]),
            fmin=float(m["fmin"]),
            fmax=m.get("fmax"),
            top_db=obj.get("top_db"),
            power=float(m.get("power", 2.0)),
            window_normalization=bool(m.get("window_normalization", True)),
            clip_samples=int(obj["clip_samples"]),
        )


@functools.lru_cache(maxsize=32)
def _mel_config(s: FeatureSettings) -> mel.MelConfig:
    return mel.MelConfig(
        sample_rate=int(s.sample_rate),
        win_length=s.window_samples,
        overlap=s.overlap_samples,
        n_fft=s.n_fft,
        n_mels=s.n_mels,
        fmin=s.fmin,
        fmax=s.fmax,
        power=s.power,
        window_normalization=s.window_normalization,
    )


def make_band_filter(
    band_hz: Band, sample_rate: float, design: str = "auto", method: str = "recursive"
) -> Optional[filters.FilterFn]:
    """The filter of ``band_hz``: f(x: [..., T]) -> [..., T] float32, or None for no filter.

    (low, high): ``filters.make_bandpass``; (low, None): ``make_highpass``; (None, high):
    ``make_lowpass``.
    """
    if band_hz is None:
        return None
    low, high = band_hz
    if low is not None and high is not None:
        return filters.make_bandpass(low, high, sample_rate, design=design, method=method)
    if low is not None:
        return filters.make_highpass(low, sample_rate, design=design, method=method)
    return filters.make_lowpass(high, sample_rate, design=design, method=method)


@functools.lru_cache(maxsize=8)
def band_filter(settings: FeatureSettings) -> Optional[filters.FilterFn]:
    """``make_band_filter`` of the settings, designed once per settings (~0.5 s) and cached:
    f(x: [..., T]) -> [..., T] float32, or None when ``band_hz`` is None."""
    return make_band_filter(
        settings.band_hz, settings.sample_rate, settings.filter_design, settings.filter_method
    )


Clips = Union[np.ndarray, Sequence[np.ndarray]]


def extract(settings: FeatureSettings, clips: Clips) -> np.ndarray:
    """Band-pass + log-Mel dB of clips. [N, T] or N arrays [T_i] -> [N, n_frames, n_mels].

    ``n_frames`` = ``settings.n_frames`` (frames of ``clip_samples``), or the frames of the
    longest clip when ``clip_samples`` is None. Clips of equal length are filtered and
    transformed as one batch; a clip with fewer frames is padded at the end with its own
    minimum (its dB floor), so its own frames are exactly those of the clip alone
    (``frames_per_clip`` tells how many are real). Raises ValueError for an empty set, a
    clip that is not 1-D, holds non-finite samples, is shorter than the Mel window, or is
    longer than ``clip_samples``.
    """
    items = _check_clips(clips)
    lengths = [c.shape[0] for c in items]
    longest = settings.clip_samples or max(lengths)
    if max(lengths) > longest:
        i = int(np.argmax(lengths))
        raise ValueError(
            f"clip {i} has {lengths[i]} samples, more than clip_samples={longest} "
            "(crop the sounds first)"
        )
    n_frames = settings.frames(longest)
    band = band_filter(settings)
    out = np.empty((len(items), n_frames, settings.n_mels), np.float32)
    for length in sorted(set(lengths)):
        idx = [i for i, n in enumerate(lengths) if n == length]
        batch = np.stack([items[i] for i in idx])
        if band is not None:
            batch = band(batch)
        feats = mel.log_mel(batch, settings.mel, settings.top_db)  # [b, f, M]
        f = feats.shape[1]
        out[idx, :f] = feats
        if f < n_frames:
            out[idx, f:] = feats.min(axis=(1, 2))[:, None, None]
    return out


def frames_per_clip(settings: FeatureSettings, clips: Clips) -> np.ndarray:
    """Real (unpadded) Mel frames of each clip. [N] int64."""
    return np.array([settings.frames(np.shape(c)[-1]) for c in clips], np.int64)


def _check_clips(clips: Any) -> list:
    if isinstance(clips, np.ndarray):
        if clips.ndim != 2:
            raise ValueError(f"expected clips [N, T] or a list of 1-D clips, got {clips.shape}")
        items = list(clips)
    else:
        items = list(clips)
    if not items:
        raise ValueError("no clips given")
    out = []
    for i, c in enumerate(items):
        c = np.asarray(c)
        if c.ndim != 1:
            raise ValueError(f"clip {i} must be 1-D [T], got shape {c.shape}")
        if not (np.issubdtype(c.dtype, np.floating) or np.issubdtype(c.dtype, np.integer)):
            raise ValueError(f"clip {i}: expected real samples, got dtype {c.dtype}")
        c = c.astype(np.float32, copy=False)
        if not np.all(np.isfinite(c)):
            raise ValueError(f"clip {i} holds non-finite samples")
        out.append(c)
    return out
