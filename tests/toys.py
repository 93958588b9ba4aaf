"""Data made in the tests: small synthetic datasets shared by several test modules."""

import numpy as np

from drill_jax import data


def toy_dataset(n_per_class=12, seed=0):
    """Two classes of 2000/4000-sample noise clips at 96 kHz; class 0 is louder."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for c in range(2):
        for i in range(n_per_class):
            n = 2000 if (i + c) % 3 else 4000
            waves.append((0.5 - 0.4 * c) * rng.uniform(-1, 1, n).astype(np.float32))
            labels.append(c)
    n = len(waves)
    return data.Dataset(
        waveforms=tuple(waves),
        sample_rate=96000,
        labels=np.array(labels),
        class_names=("anomaly", "normal"),
        paths=tuple(f"/toy/{i}.wav" for i in range(n)),
        groups=np.arange(n),
        starts=np.zeros(n, np.int64),
    )
