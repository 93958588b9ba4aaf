"""Filter responses and Mel parity with librosa, as quoted in docs/paper-differences.md:
`python -m experiments.feature_checks`."""

from __future__ import annotations

import numpy as np
import scipy.signal
from absl import app

from drill_jax import data, features
from drill_jax.features import filters


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    for response, edge in (("highpass", 1000.0), ("lowpass", 22000.0)):
        fd = filters.design_filter(response, edge, 96000)
        for design in ("fir", "iir"):
            f, g = filters.frequency_response(fd, design, 65536)
            db = 20 * np.log10(np.maximum(np.abs(g), 1e-12))
            high = response == "highpass"
            passband = f >= fd.passband_hz if high else f <= fd.passband_hz
            stopband = f <= fd.stopband_hz if high else f >= fd.stopband_hz
            print(
                f"{response} {design}: stop edge {fd.stopband_hz:.0f} Hz, FIR taps {fd.taps.size}, "
                f"passband max deviation {np.max(np.abs(db[passband])):.4f} dB, "
                f"stop band >= {-np.max(db[stopband]):.2f} dB"
            )
    import librosa  # only this check needs it

    config = features.MelConfig()
    window = scipy.signal.get_window("hann", config.win_length)
    bank = librosa.filters.mel(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=0.0,
        fmax=config.sample_rate / 2,
        htk=True,
        norm="slaney",
    )
    worst = 0.0
    for w in data.load_dataset().waveforms:
        ours = features.mel_spectrogram(w[None], config)[0]
        spec = (
            np.abs(
                librosa.stft(
                    w,
                    n_fft=config.n_fft,
                    hop_length=config.hop,
                    win_length=config.win_length,
                    window=window,
                    center=False,
                )
            )
            ** 2
        )
        ref = (bank @ spec).T / np.sum(window) ** 2
        worst = max(worst, float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-30))))
    print(f"Mel power of the 134 bundled sounds vs librosa: max relative difference {worst:.2e}")


if __name__ == "__main__":
    app.run(main)
