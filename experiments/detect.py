"""Score WAV files, or stream a long recording, with a saved detector (experiments.detect).

Files:  python -m experiments.detect --detector_dir=runs/detector/ensemble --input=DIR_OR.wav
        -> CSV (file, score, predicted_class, file_threshold, ...) + a summary. Every window
        of a file (hop --window_hop, default one clip) is scored; the file's score is their
        mean (the detector's aggregate) against its FILE threshold; --windows_csv=PATH
        writes one row per window (window threshold).
Stream: python -m experiments.detect --detector_dir=DIR --input=long.wav --stream
        arecord -f S16_LE -r 96000 -c 1 -t raw | python -m experiments.detect \
            --detector_dir=DIR --input=- --stream --stream_rate=96000
        -> one JSON line per alert on stdout; latency / real-time factor summary on stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import numpy as np
from absl import app, flags

from drill_jax import data, files
from drill_jax.detection import alarms, deploy
from drill_jax.detection import detector as detector_lib
from experiments import common, config_flags

common.define_data_flags("runs/detect")  # --resample, --channel, --skip_bad, --hop_seconds, ...
FLAGS = flags.FLAGS
_DETECTOR = flags.DEFINE_string("detector_dir", None, "Detector directory (train_detector).")
_INPUT = flags.DEFINE_string("input", None, "WAV file, folder of WAVs, or '-' (raw PCM on stdin).")
_OUT = flags.DEFINE_string(
    "out", None, "CSV of file scores (default <out_dir>/scores.csv); --stream: of window scores."
)
_THRESHOLD = flags.DEFINE_float("threshold", None, "Override the window (alert) threshold.")
_FILE_THRESHOLD = flags.DEFINE_float("file_threshold", None, "Override the file threshold.")
_STREAM = flags.DEFINE_boolean("stream", False, "Stream a long recording window by window.")
_STREAM_RATE = flags.DEFINE_integer("stream_rate", None, "Sample rate (Hz) of raw PCM on stdin.")
_STREAM_CHANNELS = flags.DEFINE_integer("stream_channels", 1, "Interleaved channels on stdin.")
_ALARM = config_flags.define(  # defaults: the detector's recorded settings
    alarms.AlarmConfig,
    ("on_windows", "off_windows", "off_threshold", "smooth_windows"),
    defaults=alarms.AlarmConfig(threshold=0.0),
)
_CHUNK = flags.DEFINE_float("chunk_seconds", 0.05, "Audio read per step while streaming.")
_LAST = flags.DEFINE_enum("last_window", "drop", list(data.LAST_MODES), "Short tail: drop/pad.")
_ONSET = flags.DEFINE_boolean("emit_onset", False, "Also emit a JSON line when an alert starts.")
_SUMMARY = flags.DEFINE_string("summary_out", None, "Write the run summary JSON here.")
_WINDOW_HOP = flags.DEFINE_integer("window_hop", None, "Files: window hop (default one clip).")
_WINDOWS_CSV = flags.DEFINE_string("windows_csv", None, "Files: also write every window's score.")


def score_files(detector: detector_lib.Detector) -> dict:
    """Files: scores, the CSVs and the summary."""
    if _INPUT.value == "-":
        raise ValueError("--input=- (stdin) needs --stream")
    paths, is_folder = deploy.list_inputs(_INPUT.value)
    # --skip_bad defaults to on for folders and off for one file unless given.
    skip_bad = FLAGS.skip_bad if FLAGS["skip_bad"].present else is_folder
    rate = detector.settings.sample_rate
    read = lambda p: data.read_wav(p, rate, FLAGS.resample, FLAGS.channel)[0]
    kept, recordings, bad = deploy.read_recordings(detector, paths, read, skip_bad)
    for err in bad:
        print(f"skipped {err}", file=sys.stderr)
    rows, window_rows = deploy.file_rows(detector, kept, recordings, _WINDOW_HOP.value)
    out = _OUT.value or os.path.join(FLAGS.out_dir, "scores.csv")
    deploy.write_csv(out, rows, deploy.FILE_FIELDS)
    if _WINDOWS_CSV.value:
        deploy.write_csv(_WINDOWS_CSV.value, window_rows, deploy.WINDOW_FIELDS)
    flagged = sum(r["predicted_class"] == detector.anomaly_class for r in rows)
    print(
        f"{len(rows)} file(s) scored, {flagged} flagged '{detector.anomaly_class}' (file score "
        f">= {detector.file_threshold:.4g}), {len(bad)} skipped; wrote {out}"
    )
    summary = dict(n_files=len(paths), n_scored=len(rows), n_skipped=len(bad), n_flagged=flagged)
    return dict(summary, csv=out, skipped=[str(b) for b in bad])


def stream(detector: detector_lib.Detector) -> dict:
    """--stream: alerts as JSON lines on stdout; returns the summary (also printed to stderr)."""
    s = detector.settings
    hop_s = FLAGS.hop_seconds if FLAGS.hop_seconds is not None else s.clip_seconds / 2
    hop = int(round(hop_s * s.sample_rate))
    if hop < 1:
        raise ValueError(f"--hop_seconds={hop_s} is less than one sample")
    alarm = _ALARM.build(deploy.recorded_alarm(detector))
    pcm = (_STREAM_RATE.value, _STREAM_CHANNELS.value, FLAGS.channel)
    chunks, source = deploy.open_source(detector, _INPUT.value, _CHUNK.value, pcm, FLAGS.resample)

    def emit(kind, ev):
        if kind == "alert" or _ONSET.value:
            print(json.dumps({"type": kind, **ev, "threshold": alarm.threshold}), flush=True)

    per_chunk = int(np.ceil(_CHUNK.value * s.sample_rate / hop)) + 1
    result = deploy.stream(detector, chunks, hop, alarm, _LAST.value, per_chunk, emit)
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
        deploy.write_csv(_OUT.value, rows, ["start_s", "end_s", "score", "padded"])
    t = result["timing"]
    if t.get("n_windows"):
        print(
            f"{t['n_windows']} windows ({t['audio_seconds']:.2f} s of audio), "
            f"{len(result['events'])} alert(s); latency per window p50 {t['latency_ms_p50']:.2f} "
            f"ms, p99 {t['latency_ms_p99']:.2f} ms; real-time factor {t['real_time_factor']:.3f}",
            file=sys.stderr,
        )
    else:
        print("stream shorter than one window: nothing scored", file=sys.stderr)
    return {
        "source": source,
        "window_samples": s.clip_samples,
        "hop_samples": hop,
        "alarm": dataclasses.asdict(alarm),
        "n_alerts": len(result["events"]),
        "alerts": result["events"],
        "timing": t,
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    if not _DETECTOR.value or not _INPUT.value:
        raise app.UsageError("--detector_dir and --input are required")
    detector = detector_lib.load_detector(_DETECTOR.value)
    for flag, field in ((_THRESHOLD, "threshold"), (_FILE_THRESHOLD, "file_threshold")):
        if flag.value is not None:
            new = {field: float(flag.value), f"{field}_rule": f"--{field}"}
            detector = dataclasses.replace(detector, **new)
    keys = ("model", "score_name", "threshold", "threshold_rule", "file_threshold")
    summary = {"detector_dir": _DETECTOR.value, **{k: getattr(detector, k) for k in keys}}
    summary.update(stream(detector) if _STREAM.value else score_files(detector))
    if _SUMMARY.value:
        files.atomic_write_json(_SUMMARY.value, summary)


if __name__ == "__main__":
    common.run_main(main)
