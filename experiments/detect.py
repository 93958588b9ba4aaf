"""Score WAV files, or stream a long recording, with a saved detector (experiments.detect).

Files:  python -m experiments.detect --model=runs/detector/supervised --input=folder_or.wav
        -> CSV (file, score, predicted_class, threshold, ...) written atomically + a summary.
        A file longer than one clip is scored on every window (hop --window_hop, default
        one clip): score = the largest window score, mean_score = their mean;
        --windows_csv=PATH writes one row per window.
Stream: python -m experiments.detect --model=DIR --input=long.wav --stream
        arecord -f S16_LE -r 96000 -c 1 -t raw | python -m experiments.detect --model=DIR \
            --input=- --stream --stream_rate=96000
        -> one JSON line per alert on stdout; latency / real-time factor summary on stderr.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sys
from typing import Optional

import numpy as np
from absl import app, flags

from drill_jax import data, files
from drill_jax.detection import alarms, scoring, streaming
from drill_jax.detection import detector as detector_lib
from experiments import common, config_flags

common.define_data_flags("runs/detect")  # --resample, --channel, --skip_bad, --hop_seconds, ...
FLAGS = flags.FLAGS
_MODEL = flags.DEFINE_string("model", None, "Detector directory (from experiments.train_detector).")
_INPUT = flags.DEFINE_string("input", None, "WAV file, folder of WAVs, or '-' (raw PCM on stdin).")
_OUT = flags.DEFINE_string(
    "out",
    None,
    "CSV of file scores (default: <out_dir>/scores.csv); with --stream, a CSV of "
    "per-window scores (default: none).",
)
_THRESHOLD = flags.DEFINE_float("threshold", None, "Override the detector's threshold.")
_STREAM = flags.DEFINE_boolean("stream", False, "Stream a long recording window by window.")
_STREAM_RATE = flags.DEFINE_integer("stream_rate", None, "Sample rate (Hz) of raw PCM on stdin.")
_STREAM_CHANNELS = flags.DEFINE_integer("stream_channels", 1, "Interleaved channels on stdin.")
_ALARM = config_flags.define(
    alarms.AlarmConfig,
    ("on_windows", "off_windows", "off_threshold", "smooth_windows"),
    defaults=alarms.AlarmConfig(threshold=0.5),
    help={
        "on_windows": "Consecutive windows >= threshold that raise an alert (default: the "
        "detector's recorded setting, else 2).",
        "off_windows": "Consecutive windows below off_threshold that end an alert.",
        "off_threshold": "Lower threshold to end an alert (default: the threshold).",
        "smooth_windows": "The alarm reads the mean of the last N window scores (default: the "
        "detector's recorded setting, else 1 = none).",
    },
)
_CHUNK = flags.DEFINE_float("chunk_seconds", 0.05, "Audio read per step while streaming.")
_LAST = flags.DEFINE_enum(
    "last_window",
    "drop",
    list(data.LAST_MODES),
    "Trailing samples shorter than a window: drop or zero-pad.",
)
_ONSET = flags.DEFINE_boolean("emit_onset", False, "Also emit a JSON line when an alert starts.")
_SUMMARY = flags.DEFINE_string("summary_out", None, "Write the run summary JSON here.")
_WINDOW_HOP = flags.DEFINE_integer(
    "window_hop", None, "Files: hop (samples) between scored windows (default: one clip)."
)
_WINDOWS_CSV = flags.DEFINE_string(
    "windows_csv", None, "Files: also write every window's score to this CSV."
)
FILE_FIELDS = [
    "file",
    "score",
    "predicted_class",
    "threshold",
    "n_samples",
    "scored_samples",
    "n_windows",
    "mean_score",
    "flagged_windows",
]
WINDOW_FIELDS = ["file", "window", "start_sample", "score", "predicted_class"]


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


def score_files(
    detector: detector_lib.Detector,
    paths,
    skip_bad: bool,
    resample: bool,
    channel,
    hop: Optional[int] = None,
):
    """Reads and scores files, every window of each (``hop`` samples apart, default one
    clip). Returns (rows, window_rows, bad) with bad = [AudioError]; a file's score is its
    largest window score (its class follows from it), mean_score the mean."""
    n = detector.settings.clip_samples
    hop = int(hop or n)
    if hop < 1:
        raise ValueError(f"--window_hop must be >= 1 sample, got {hop}")
    windows, starts, kept, lengths, bad = [], [], [], [], []
    rate = detector.settings.sample_rate
    for path in paths:
        try:
            x, _ = data.read_wav(path, sample_rate=rate, resample_to_rate=resample, channel=channel)
            try:
                detector_lib.fit_clip(detector, x, name=path)  # long enough for one clip
            except ValueError as err:
                raise data.AudioError(path, str(err).split(": ", 1)[-1]) from None
        except data.AudioError as err:
            if not skip_bad:
                raise
            print(f"skipped {err}", file=sys.stderr)
            bad.append(err)
            continue
        w, st = data.window_signal(x, n, hop)
        windows.append(w)
        starts.append(st)
        kept.append(path)
        lengths.append(x.shape[0])
    rows, window_rows = [], []
    if kept:
        scores = scoring.score_clips(detector, np.concatenate(windows))
        per_file = np.split(scores, np.cumsum([len(w) for w in windows])[:-1])
        for path, length, s, st in zip(kept, lengths, per_file, starts):
            top = float(s.max())
            rows.append(
                {
                    "file": path,
                    "score": f"{top:.6g}",
                    "predicted_class": detector.predicted_class(np.array([top]))[0],
                    "threshold": f"{detector.threshold:.6g}",
                    "n_samples": length,
                    "scored_samples": n,
                    "n_windows": int(s.size),
                    "mean_score": f"{float(s.mean()):.6g}",
                    "flagged_windows": int(np.sum(s >= detector.threshold)),
                }
            )
            for k, (a, v, c) in enumerate(zip(st, s, detector.predicted_class(s))):
                window_rows.append(
                    {
                        "file": path,
                        "window": k,
                        "start_sample": int(a),
                        "score": f"{v:.6g}",
                        "predicted_class": c,
                    }
                )
    return rows, window_rows, bad


def write_csv(path: str, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files.atomic_write_text(path, buf.getvalue())


def open_source(detector: detector_lib.Detector, path: str, chunk_seconds: float):
    """(chunks at the detector's rate, description) for a WAV path or '-' (stdin raw PCM)."""
    want = detector.settings.sample_rate
    if path == "-":
        rate = _STREAM_RATE.value
        if not rate:
            raise ValueError("raw PCM on stdin needs --stream_rate=HZ (16-bit little-endian)")
        n = max(1, int(round(chunk_seconds * rate)))
        chunks = streaming.read_pcm16_chunks(
            sys.stdin.buffer, n, _STREAM_CHANNELS.value, FLAGS.channel or 0
        )
        source = f"stdin (raw 16-bit PCM, {rate} Hz)"
    else:
        if os.path.isdir(path):
            raise ValueError(f"{path}: --stream takes one WAV file or '-', not a folder")
        probe_rate, _ = streaming.open_wav_stream(path, 1, FLAGS.channel)
        n = max(1, int(round(chunk_seconds * probe_rate)))
        rate, chunks = streaming.open_wav_stream(path, n, FLAGS.channel)
        source = path
    if rate != want:
        if not FLAGS.resample:
            raise ValueError(
                f"{source}: {rate} Hz but the detector was trained at {want} Hz; pass --resample "
                f"to resample the stream (or record at {want} Hz)"
            )
        chunks = streaming.resample_chunks(chunks, rate, want)
    return chunks, source


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    if not _MODEL.value or not _INPUT.value:
        raise app.UsageError("--model and --input are required")
    detector = detector_lib.load_detector(_MODEL.value)
    threshold = detector.threshold if _THRESHOLD.value is None else _THRESHOLD.value
    if _THRESHOLD.value is not None:
        detector = dataclasses.replace(
            detector, threshold=float(threshold), threshold_rule="--threshold"
        )
    summary = {
        "model": _MODEL.value,
        "kind": detector.kind,
        "score": detector.score_name,
        "score_meaning": detector_lib.SCORE_MEANINGS[detector.score_name],
        "threshold": threshold,
        "threshold_rule": detector.threshold_rule,
    }
    if _STREAM.value:
        summary.update(stream(detector))
    else:
        if _INPUT.value == "-":
            raise ValueError("--input=- (stdin) needs --stream")
        paths, is_folder = list_inputs(_INPUT.value)
        # --skip_bad defaults to on for folders and off for one file unless given.
        skip_bad = FLAGS.skip_bad if FLAGS["skip_bad"].present else is_folder
        rows, window_rows, bad = score_files(
            detector, paths, skip_bad, FLAGS.resample, FLAGS.channel, _WINDOW_HOP.value
        )
        out = _OUT.value or os.path.join(FLAGS.out_dir, "scores.csv")
        write_csv(out, rows, FILE_FIELDS)
        if _WINDOWS_CSV.value:
            write_csv(_WINDOWS_CSV.value, window_rows, WINDOW_FIELDS)
        flagged = sum(r["predicted_class"] == detector.anomaly_class for r in rows)
        summary.update(
            n_files=len(paths),
            n_scored=len(rows),
            n_skipped=len(bad),
            n_flagged=flagged,
            csv=out,
            skipped=[str(b) for b in bad],
        )
        print(
            f"{len(rows)} file(s) scored, {flagged} flagged '{detector.anomaly_class}' "
            f"(score >= {threshold:.4g}, {detector.score_name}), {len(bad)} skipped; wrote {out}"
        )
    if _SUMMARY.value:
        files.atomic_write_json(_SUMMARY.value, summary)


def stream(detector: detector_lib.Detector) -> dict:
    """--stream: alerts as JSON lines on stdout; returns the summary (also printed to stderr)."""
    s = detector.settings
    hop_s = FLAGS.hop_seconds if FLAGS.hop_seconds is not None else s.clip_seconds / 2
    hop = int(round(hop_s * s.sample_rate))
    if hop < 1:
        raise ValueError(f"--hop_seconds={hop_s} is less than one sample")
    # The detector's own alert settings (recorded by train_detector from the long-stream
    # evaluation) unless flags override them; detectors without them use AlarmConfig's.
    # A stored alert threshold applies to streams only (files use the detector's threshold),
    # and --threshold overrides both.
    stored = detector.info.get("alarm") or {}
    threshold = detector.threshold
    if _THRESHOLD.value is None and "threshold" in stored:
        threshold = float(stored["threshold"])
    base = alarms.AlarmConfig(
        threshold=threshold,
        on_windows=int(stored.get("on_windows", alarms.AlarmConfig.on_windows)),
        off_windows=int(stored.get("off_windows", alarms.AlarmConfig.off_windows)),
        smooth_windows=int(stored.get("smooth_windows", alarms.AlarmConfig.smooth_windows)),
    )
    alarm = _ALARM.build(base, threshold=threshold)
    chunks, source = open_source(detector, _INPUT.value, _CHUNK.value)

    def emit(kind):
        def f(ev):
            print(json.dumps({"type": kind, **ev, "threshold": alarm.threshold}), flush=True)

        return f

    per_chunk = int(np.ceil(_CHUNK.value * s.sample_rate / hop)) + 1
    scoring.warm_up(detector, per_chunk)  # compile before the stream, not during it
    result = streaming.run_stream(
        chunks,
        lambda c: scoring.score_clips(detector, c),
        s.clip_samples,
        hop,
        s.sample_rate,
        alarm,
        _LAST.value,
        on_event=emit("alert"),
        on_onset=emit("onset") if _ONSET.value else None,
    )
    if _OUT.value:
        rows = [
            {
                "start_s": f"{a / s.sample_rate:.6f}",
                "end_s": f"{(a + s.clip_samples) / s.sample_rate:.6f}",
                "score": f"{v:.6g}",
                "padded": int(p),
            }
            for a, v, p in zip(result["starts"], result["scores"], result["padded"])
        ]
        write_csv(_OUT.value, rows, ["start_s", "end_s", "score", "padded"])
    t = result["timing"]
    out = {
        "source": source,
        "window_samples": s.clip_samples,
        "hop_samples": hop,
        "alarm": {
            "threshold": alarm.threshold,
            "on_windows": alarm.on_windows,
            "off_windows": alarm.off_windows,
            "off_threshold": alarm.low,
            "smooth_windows": alarm.smooth_windows,
        },
        "n_alerts": len(result["events"]),
        "alerts": result["events"],
        "timing": t,
    }
    if t.get("n_windows"):
        print(
            f"{t['n_windows']} windows ({t['audio_seconds']:.2f} s of audio), "
            f"{len(result['events'])} alert(s); latency per window p50 "
            f"{t['latency_ms_p50']:.2f} ms, "
            f"p99 {t['latency_ms_p99']:.2f} ms; real-time factor {t['real_time_factor']:.3f}",
            file=sys.stderr,
        )
    else:
        print("stream shorter than one window: nothing scored", file=sys.stderr)
    return out


if __name__ == "__main__":
    common.run_main(main)
