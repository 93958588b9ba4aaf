"""Using a saved detector on files and live streams (what ``experiments.detect`` runs).

Files: every recording is cut into windows (``hop`` apart, default one clip), each window is
scored once, and the file's score is its windows' scores aggregated by the detector's
``aggregate`` (default the mean), compared with the detector's FILE threshold, the unit that
threshold was chosen on. Streams: the window scores run the hysteresis alarm
(``detection.alarms``) with the detector's recorded alert settings unless overridden.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from typing import Callable, Optional

import numpy as np

from drill_jax import data, files
from drill_jax.detection import alarms, scoring, streaming
from drill_jax.detection import detector as detector_lib
from drill_jax.detection.detector import Detector

FILE_FIELDS = (
    "file",
    "score",
    "predicted_class",
    "file_threshold",
    "aggregate",
    "n_samples",
    "n_windows",
    "max_window_score",
    "flagged_windows",
)
WINDOW_FIELDS = ("file", "window", "start_sample", "score", "predicted_class")


def list_inputs(path: str) -> tuple[list[str], bool]:
    """(WAV paths, is_folder). A folder is searched recursively in natural order."""
    if os.path.isdir(path):
        found = []
        for root, dirs, names in os.walk(path):
            dirs.sort(key=data.natural_key)
            for name in sorted(names, key=data.natural_key):
                if name.lower().endswith(data.dataset.WAV_SUFFIXES):
                    found.append(os.path.join(root, name))
        if not found:
            raise ValueError(f"{path}: no .wav files in this folder")
        return found, True
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    return [path], False


def read_recordings(detector: Detector, paths, read: Callable, skip_bad: bool):
    """(kept paths, recordings [T_i], bad [AudioError]): ``read(path) -> [T]`` at the
    detector's rate; a file shorter than one clip is an AudioError too. With ``skip_bad``
    bad files are collected, otherwise the first one raises."""
    kept, recordings, bad = [], [], []
    for path in paths:
        try:
            x = read(path)
            try:
                detector_lib.fit_clip(detector, x, name=path)  # long enough for one clip
            except ValueError as err:
                raise data.AudioError(path, str(err).split(": ", 1)[-1]) from None
        except data.AudioError as err:
            if not skip_bad:
                raise
            bad.append(err)
            continue
        kept.append(path)
        recordings.append(x)
    return kept, recordings, bad


def file_rows(detector: Detector, paths, recordings, hop: Optional[int] = None):
    """(file rows, window rows) of ``FILE_FIELDS`` / ``WINDOW_FIELDS``: each file's score,
    its class by the FILE threshold, and every window's score and class by the window
    threshold."""
    if not recordings:
        return [], []
    fs, ws, starts, owner = scoring.file_scores(detector, recordings, hop)
    rows, window_rows = [], []
    for i, (path, x) in enumerate(zip(paths, recordings)):
        s, st = ws[owner == i], starts[owner == i]
        rows.append(
            {
                "file": path,
                "score": f"{fs[i]:.6g}",
                "predicted_class": detector.predicted_class([fs[i]], detector.file_threshold)[0],
                "file_threshold": f"{detector.file_threshold:.6g}",
                "aggregate": detector.aggregate,
                "n_samples": len(x),
                "n_windows": int(s.size),
                "max_window_score": f"{float(s.max()):.6g}",
                "flagged_windows": int(np.sum(s >= detector.threshold)),
            }
        )
        for k, (a, v, c) in enumerate(zip(st, s, detector.predicted_class(s))):
            row = {"file": path, "window": k, "start_sample": int(a), "score": f"{v:.6g}"}
            window_rows.append(dict(row, predicted_class=c))
    return rows, window_rows


def write_csv(path: str, rows: list, fields) -> None:
    """Rows (dicts) as a CSV with a header, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files.atomic_write_text(path, buf.getvalue())


def recorded_alarm(detector: Detector) -> alarms.AlarmConfig:
    """The detector's alert settings (``info['alarm']``, recorded by train_detector; else
    ``AlarmConfig``'s defaults) at its window threshold."""
    stored = detector.info.get("alarm") or {}
    keys = ("on_windows", "off_windows", "smooth_windows", "off_threshold")
    return alarms.AlarmConfig(threshold=detector.threshold,
                              **{k: stored[k] for k in keys if k in stored})


def open_source(detector: Detector, path: str, chunk_seconds: float, pcm, resample: bool):
    """(chunks at the detector's rate, description) for a WAV path or '-' (raw 16-bit PCM on
    stdin; ``pcm`` = (rate Hz, channels, channel)); ``resample`` converts another rate."""
    want = detector.settings.sample_rate
    rate, channels, channel = pcm
    if path == "-":
        if not rate:
            raise ValueError("raw PCM on stdin needs --stream_rate=HZ (16-bit little-endian)")
        n = max(1, int(round(chunk_seconds * rate)))
        chunks = streaming.read_pcm16_chunks(sys.stdin.buffer, n, channels, channel or 0)
        source = f"stdin (raw 16-bit PCM, {rate} Hz)"
    else:
        if os.path.isdir(path):
            raise ValueError(f"{path}: --stream takes one WAV file or '-', not a folder")
        probe_rate, _ = streaming.open_wav_stream(path, 1, channel)
        n = max(1, int(round(chunk_seconds * probe_rate)))
        rate, chunks = streaming.open_wav_stream(path, n, channel)
        source = path
    if rate != want:
        if not resample:
            raise ValueError(
                f"{source}: {rate} Hz but the detector was trained at {want} Hz; pass --resample "
                f"to resample the stream (or record at {want} Hz)"
            )
        chunks = streaming.resample_chunks(chunks, rate, want)
    return chunks, source


def stream(
    detector: Detector,
    chunks,
    hop: int,
    alarm: alarms.AlarmConfig,
    last: str = "drop",
    max_batch: int = 1,
    on_alert: Optional[Callable[[str, dict], None]] = None,
) -> dict:
    """Scores a chunked stream and runs ``alarm`` (``streaming.run_stream``'s result); the
    scoring is compiled for batches of 1 and ``max_batch`` windows before the stream starts,
    so the first chunks do not pay the compilation in their latency."""
    s = detector.settings
    scoring.warm_up(detector, max_batch)
    score = lambda c: scoring.score_clips(detector, c)
    return streaming.run_stream(
        chunks, score, s.clip_samples, hop, s.sample_rate, alarm, last, on_alert
    )
