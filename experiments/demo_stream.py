"""Streaming demo on a recording made of HELD-OUT real sounds: `python -m experiments.demo_stream`.

1. Splits the sounds (stratified, by recording group) into a training part and a held-out
   part; trains the supervised (jax_cnn) and the unsupervised (VAE on normal sounds only)
   detectors on the training part and saves both under <out_dir>/models/.
2. Builds <out_dir>/demo.wav: runs of held-out NORMAL sounds with runs of held-out ANOMALY
   sounds inserted at known times (<out_dir>/ground_truth.json), written as 16-bit PCM.
3. Streams the WAV, chunk by chunk, through each detector with the hysteresis alarm,
   exactly as `python -m experiments.detect --stream` does.
4. Reports which inserted anomalies were flagged (an alert overlapping the event), false
   alarms (alerts overlapping no event), the onset delay, window-level rates, the latency
   per window (p50/p99) and the real-time factor: <out_dir>/demo_stream.json.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np
from absl import flags

from drill_jax import data, files
from drill_jax.classify import cnn
from drill_jax.detection import alarms, scoring, streaming, supervised, unsupervised
from drill_jax.detection import detector as detector_lib
from drill_jax.vae import trainer
from experiments import common, config_flags

common.define_data_flags("runs/demo_stream")
common.define_feature_flags()
FLAGS = flags.FLAGS
_TEST_FRACTION = flags.DEFINE_float("test_fraction", 0.3, "Held-out fraction of the sounds.")
_EVENTS = flags.DEFINE_integer("n_events", 6, "Anomaly events inserted.")
_ANOM_RUN = flags.DEFINE_integer("anomaly_run", 3, "Anomaly sounds per event.")
_NORMAL_RUN = flags.DEFINE_integer("normal_run", 10, "Normal sounds between events.")
_HOP_WINDOWS = flags.DEFINE_float("hop_fraction", 0.5, "Hop as a fraction of the window.")
_ALARM = config_flags.define(
    alarms.AlarmConfig,
    ("on_windows", "off_windows"),
    defaults=alarms.AlarmConfig(threshold=0.5),
    help={
        "on_windows": "Consecutive windows >= threshold that raise an alert.",
        "off_windows": "Consecutive windows below it that end an alert.",
    },
)
_CHUNK = flags.DEFINE_float("chunk_seconds", 0.05, "Audio read per step.")
_ANOMALY = config_flags.define(
    unsupervised.AnomalyConfig,
    ("input_repr", "train_hop"),
    choices={"input_repr": detector_lib.INPUT_REPRS},
    help={
        "input_repr": "Unsupervised VAE input.",
        "train_hop": "Train both detectors on every window of each training sound at this hop "
        "(samples); default: first clip of each sound only.",
    },
)
_VAE = config_flags.define(
    trainer.VAEConfig,
    ("epochs",),
    rename={"epochs": "vae_epochs"},
    help={"epochs": "VAE epochs (default: by --input_repr)."},
)
_CLASSIFIER = config_flags.define(
    cnn.ClassifierConfig, ("epochs",), help={"epochs": "Classifier epochs."}
)
_SEED = flags.DEFINE_integer("seed", 0, "Root seed (split, recording, training).")
_REPEATS = flags.DEFINE_integer(
    "timing_repeats", 3, "Stream the recording this many times; report the median-RTF run."
)
_REUSE = flags.DEFINE_boolean(
    "reuse_models", False, "Load <out_dir>/models/* (same seed and split) instead of training."
)


def build_recording(
    ds: data.Dataset,
    test_idx: np.ndarray,
    positive_index: int,
    n_events: int,
    anomaly_run: int,
    normal_run: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[dict], list[dict]]:
    """Concatenates held-out sounds: normal runs with ``n_events`` anomaly runs in between.

    Returns (signal [T], events [{'start', 'end' (s), 'files'}], segments [{'file',
    'label', 'start', 'end'}]). Anomaly sounds are used without repetition while they last;
    normal sounds cycle through a shuffled order.
    """
    rate = ds.sample_rate
    normal = rng.permutation(test_idx[ds.labels[test_idx] != positive_index])
    anom = rng.permutation(test_idx[ds.labels[test_idx] == positive_index])
    if normal.size == 0 or anom.size == 0:
        raise ValueError("the held-out part needs both normal and anomaly sounds")
    pieces, segments, events = [], [], []
    pos, ni, ai = 0, 0, 0

    def add(i, label):
        nonlocal pos
        w = np.asarray(ds.waveforms[i], np.float32)
        pieces.append(w)
        segments.append(
            {
                "file": os.path.basename(ds.paths[i]),
                "label": label,
                "start": pos / rate,
                "end": (pos + w.size) / rate,
            }
        )
        pos += w.size

    for e in range(n_events + 1):
        for _ in range(normal_run):
            add(normal[ni % normal.size], "normal")
            ni += 1
        if e == n_events:
            break
        start = pos
        names = []
        for _ in range(anomaly_run):
            add(anom[ai % anom.size], "anomaly")
            names.append(segments[-1]["file"])
            ai += 1
        events.append({"event": e, "start": start / rate, "end": pos / rate, "files": names})
    return np.concatenate(pieces), events, segments


def match_alerts(
    alerts: list[dict], events: list[dict], on_windows: int, hop_s: float, window_s: float
) -> dict:
    """Which events an alert overlaps, false alarms, and onset delays (seconds).

    The alert is known ON at the end of the window that completes its on-run:
    onset = alert start + (on_windows - 1) * hop + window.
    """
    flagged = []
    used = set()
    for ev in events:
        hits = [
            k for k, a in enumerate(alerts) if a["start"] < ev["end"] and a["end"] > ev["start"]
        ]
        used.update(hits)
        onset = [alerts[k]["start"] + (on_windows - 1) * hop_s + window_s for k in hits]
        flagged.append(
            {
                "event": ev["event"],
                "start": ev["start"],
                "end": ev["end"],
                "flagged": bool(hits),
                "onset_delay_s": (min(onset) - ev["start"]) if hits else None,
                "peak_score": max((alerts[k]["peak_score"] for k in hits), default=None),
            }
        )
    false_alarms = [a for k, a in enumerate(alerts) if k not in used]
    return {
        "events": flagged,
        "n_flagged": sum(f["flagged"] for f in flagged),
        "n_events": len(events),
        "false_alarms": false_alarms,
        "n_false_alarms": len(false_alarms),
    }


def alerted_time(alerts: list[dict], segments: list[dict]) -> dict:
    """Seconds of normal and anomaly sound covered by alerts, and the normal fraction."""
    out = {"normal": 0.0, "anomaly": 0.0}
    total = {"normal": 0.0, "anomaly": 0.0}
    for s in segments:
        total[s["label"]] += s["end"] - s["start"]
        for a in alerts:
            out[s["label"]] += max(0.0, min(a["end"], s["end"]) - max(a["start"], s["start"]))
    return {
        "alerted_normal_seconds": out["normal"],
        "alerted_normal_fraction": out["normal"] / total["normal"],
        "alerted_anomaly_fraction": out["anomaly"] / total["anomaly"],
    }


def window_rates(scores, starts, window, rate, threshold, segments) -> dict:
    """Window-level rates: windows entirely inside anomaly sounds vs entirely inside normal
    runs (windows straddling a normal/anomaly boundary are left out)."""
    lab = np.zeros(int(round(segments[-1]["end"] * rate)), np.int8)
    for s in segments:
        if s["label"] == "anomaly":
            lab[int(round(s["start"] * rate)) : int(round(s["end"] * rate))] = 1
    inside = np.array([lab[a : a + window].mean() for a in starts])
    hi = np.asarray(scores) >= threshold
    pure_a, pure_n = inside == 1.0, inside == 0.0
    return {
        "n_windows_anomaly": int(pure_a.sum()),
        "n_windows_normal": int(pure_n.sum()),
        "window_tpr": float(hi[pure_a].mean()) if pure_a.any() else None,
        "window_fpr": float(hi[pure_n].mean()) if pure_n.any() else None,
    }


def stream_file(detector: detector_lib.Detector, path: str, hop: int, alarm, chunk_seconds: float):
    """The --stream loop of experiments.detect on a WAV file."""
    s = detector.settings
    rate, chunks = streaming.open_wav_stream(path, int(round(chunk_seconds * s.sample_rate)))
    detector_lib.check_rate(detector, rate, path)
    per_chunk = int(np.ceil(chunk_seconds * s.sample_rate / hop)) + 1
    scoring.warm_up(detector, per_chunk)  # compile before the stream, not during it
    return streaming.run_stream(
        chunks,
        lambda c: scoring.score_clips(detector, c),
        s.clip_samples,
        hop,
        s.sample_rate,
        alarm,
    )


def main(argv):
    del argv
    ds = common.load_data_from_flags()
    if "anomaly" not in ds.class_names:
        raise ValueError(f"the demo needs a class named 'anomaly' (classes: {ds.class_names})")
    pos = ds.class_names.index("anomaly")
    out_dir = FLAGS.out_dir
    seed = _SEED.value
    tr, te = data.stratified_holdout(ds.labels, _TEST_FRACTION.value, seed, groups=ds.groups)
    assert not set(ds.groups[tr]) & set(ds.groups[te]), "held-out sounds reached training"
    clip = int(ds.lengths.min())
    settings = common.feature_settings_from_flags(ds.sample_rate)
    key = jax.random.key(seed)
    ccfg = _CLASSIFIER.build(seed=seed)
    acfg = _ANOMALY.build(clip_samples=clip)
    split_info = {
        "train_files": [os.path.basename(ds.paths[i]) for i in tr],
        "held_out_files": [os.path.basename(ds.paths[i]) for i in te],
    }
    print(f"split: {tr.size} training sounds, {te.size} held out; clip {clip} samples")
    models = os.path.join(out_dir, "models")
    if _REUSE.value:
        # Same seed and test_fraction => the same split the saved models were trained on.
        sup, uns = (
            detector_lib.load_detector(os.path.join(models, n), ds.sample_rate)
            for n in ("supervised", "unsupervised")
        )
        trained_on = sup.info.get("demo_split", {}).get("train_files")
        if trained_on != split_info["train_files"]:
            raise ValueError(f"{models}: the saved models were trained on another split")
    else:
        sup = supervised.train_supervised_detector(
            [ds.waveforms[i] for i in tr],
            ds.labels[tr],
            ds.class_names,
            ds.sample_rate,
            pos,
            clip,
            ccfg,
            jax.random.fold_in(key, 0),
            info={"demo_split": split_info},
            train_hop=acfg.train_hop,
            settings=settings,
        )
        acfg = dataclasses.replace(acfg, vae=_VAE.build(acfg.vae_config, seed=seed))
        tr_normal = tr[ds.labels[tr] != pos]
        uns = unsupervised.train_unsupervised_detector(
            [ds.waveforms[i] for i in tr_normal],
            ds.sample_rate,
            acfg,
            jax.random.fold_in(key, 1),
            ds.class_names,
            pos,
            info={"demo_split": split_info},
            settings=settings,
        )
        for name, det in (("supervised", sup), ("unsupervised", uns)):
            detector_lib.save_detector(os.path.join(models, name), det)
    rng = np.random.default_rng(seed)
    signal, events, segments = build_recording(
        ds, te, pos, _EVENTS.value, _ANOM_RUN.value, _NORMAL_RUN.value, rng
    )
    wav = os.path.join(out_dir, "demo.wav")
    data.write_wav(wav, signal, ds.sample_rate)
    files.atomic_write_json(
        os.path.join(out_dir, "ground_truth.json"), {"events": events, "segments": segments}
    )
    print(
        f"demo recording: {signal.size / ds.sample_rate:.2f} s, {len(events)} anomaly events "
        f"({_ANOM_RUN.value} held-out anomaly sounds each) -> {wav}"
    )
    hop = max(1, int(round(clip * _HOP_WINDOWS.value)))
    alarm_cfg = _ALARM.build(threshold=0.5)  # the threshold is each detector's own, below
    report = {
        "recording": {
            "path": wav,
            "seconds": signal.size / ds.sample_rate,
            "sample_rate": ds.sample_rate,
            "events": events,
        },
        "window_samples": clip,
        "hop_samples": hop,
        "alarm": {"on_windows": alarm_cfg.on_windows, "off_windows": alarm_cfg.off_windows},
        "train_hop": sup.info.get("train_hop"),
        "input_repr": acfg.input_repr,
        "split": {
            "n_train": int(tr.size),
            "n_held_out": int(te.size),
            "test_fraction": _TEST_FRACTION.value,
            "seed": seed,
        },
        "detectors": {},
    }
    for name, det in (("supervised", sup), ("unsupervised", uns)):
        alarm = _ALARM.build(threshold=det.threshold)
        runs = [stream_file(det, wav, hop, alarm, _CHUNK.value) for _ in range(_REPEATS.value)]
        for r in runs[1:]:  # scoring is deterministic: every run raises the same alerts
            np.testing.assert_allclose(r["scores"], runs[0]["scores"], rtol=1e-6)
        # Timings vary with the machine's load: keep the run with the median real-time factor.
        order = np.argsort([r["timing"]["real_time_factor"] for r in runs])
        result = runs[int(order[len(runs) // 2])]
        match = match_alerts(
            result["events"], events, alarm.on_windows, hop / ds.sample_rate, clip / ds.sample_rate
        )
        rates = window_rates(
            result["scores"], result["starts"], clip, ds.sample_rate, det.threshold, segments
        )
        report["detectors"][name] = {
            "model": det.model,
            "score": det.score_name,
            "threshold": det.threshold,
            "threshold_rule": det.threshold_rule,
            **match,
            **rates,
            **alerted_time(result["events"], segments),
            "n_alerts": len(result["events"]),
            "alerts": result["events"],
            "timing": result["timing"],
            "timing_all_runs": [r["timing"] for r in runs],
        }
        t = result["timing"]
        print(
            f"{name:12s}: flagged {match['n_flagged']}/{match['n_events']} inserted anomalies "
            f"{[e['event'] for e in match['events'] if e['flagged']]}, "
            f"{match['n_false_alarms']} false alarm(s) of {len(result['events'])} alert(s), "
            f"{alerted_time(result['events'], segments)['alerted_normal_fraction']:.0%} of normal "
            f"time under alert; window TPR {rates['window_tpr']:.2f} "
            f"FPR {rates['window_fpr']:.2f}; latency p50 {t['latency_ms_p50']:.2f} ms "
            f"p99 {t['latency_ms_p99']:.2f} ms; real-time factor {t['real_time_factor']:.3f}"
        )
        rows = "start_s,end_s,score\n" + "".join(
            f"{a / ds.sample_rate:.6f},{(a + clip) / ds.sample_rate:.6f},{v:.6g}\n"
            for a, v in zip(result["starts"], result["scores"])
        )
        files.atomic_write_text(os.path.join(out_dir, f"window_scores_{name}.csv"), rows)
    path = os.path.join(out_dir, "demo_stream.json")
    files.atomic_write_json(path, report)
    print(f"wrote {path}")


if __name__ == "__main__":
    common.run_main(main)
