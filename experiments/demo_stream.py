"""Streaming demo on a recording made of HELD-OUT real sounds: `python -m experiments.demo_stream`.

1. Splits the sounds (stratified, by recording group) into a training part and a held-out
   part; trains each detector of --models on the training part only (label-free models on
   its normal sounds only) and saves them under <out_dir>/models/<model>/.
2. Builds <out_dir>/demo.wav: held-out NORMAL audio with anomaly events of --event_seconds
   made of held-out ANOMALY sounds, at known times (<out_dir>/ground_truth.json).
3. Streams the WAV, chunk by chunk, through each detector with its alert settings, exactly
   as `python -m experiments.detect --stream` does (``detection.stream_eval.replay``).
4. Reports detected events and their delay, false alerts, window-level rates, alerted time,
   the latency per window (p50/p99) and the real-time factor: <out_dir>/demo_stream.json.
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from drill_jax import data, files
from drill_jax.detection import alarms, build, deploy, registry, stream_eval
from drill_jax.detection import detector as detector_lib
from experiments import common, config_flags, flag_groups

common.define_data_flags("runs/demo_stream")
flag_groups.define_feature_flags()
FLAGS = flags.FLAGS
_TEST_FRACTION = flags.DEFINE_float("test_fraction", 0.3, "Held-out fraction of the sounds.")
_MODELS = flags.DEFINE_list("models", ["clip_classical", "ensemble"], "Registry models.")
_PLAN = config_flags.define(
    stream_eval.StreamPlan, defaults=stream_eval.StreamPlan(event_seconds=(0.1, 0.3, 1.0))
)
_ALARM = config_flags.define(  # defaults: each detector's recorded settings
    alarms.AlarmConfig,
    ("on_windows", "off_windows", "smooth_windows"),
    defaults=alarms.AlarmConfig(threshold=0.0),
)
_TRAIN = config_flags.define(build.TrainConfig, ("train_hop", "seed"))
_CHUNK = flags.DEFINE_float("chunk_seconds", 0.05, "Audio read per step.")
_REPEATS = flags.DEFINE_integer(
    "timing_repeats", 3, "Stream the recording this many times; report the median-RTF run."
)


def make_recording(ds: data.Dataset, te: np.ndarray, plan, seed: int, out_dir: str):
    """demo.wav and ground_truth.json from the held-out sounds ``te``. -> (path, truth)."""
    is_anom = build.anomaly_mask(ds)
    normal = [ds.waveforms[i] for i in te if not is_anom[i]]
    anomaly_idx = [i for i in te if is_anom[i]]
    events_s = [d for d in plan.event_seconds for _ in range(plan.events_per_duration)]
    signal, events, segments = stream_eval.build_stream(
        normal,
        [ds.waveforms[i] for i in anomaly_idx],
        events_s,
        plan.gap_seconds,
        ds.sample_rate,
        np.random.default_rng(seed),
    )
    for ev in events:
        ev["files"] = [os.path.basename(ds.paths[anomaly_idx[k]]) for k in ev.pop("sounds")]
    wav = os.path.join(out_dir, "demo.wav")
    data.write_wav(wav, signal, ds.sample_rate)
    truth = {"events": events, "segments": segments}
    files.atomic_write_json(os.path.join(out_dir, "ground_truth.json"), truth)
    print(f"demo recording: {signal.size / ds.sample_rate:.1f} s, {len(events)} events -> {wav}")
    return wav, (events, segments)


def main(argv):
    del argv
    ds = common.load_data_from_flags()
    train, plan, out_dir = _TRAIN.build(), _PLAN.build(), FLAGS.out_dir
    is_anom = build.anomaly_mask(ds).astype(int)
    tr, te = data.stratified_holdout(is_anom, _TEST_FRACTION.value, train.seed, groups=ds.groups)
    if set(ds.groups[tr]) & set(ds.groups[te]):
        raise RuntimeError("held-out sounds reached training")
    print(f"split: {tr.size} training sounds, {te.size} held out")
    wav, truth = make_recording(ds, te, plan, train.seed, out_dir)
    settings = flag_groups.feature_settings_from_flags(ds.sample_rate)
    report = {"recording": wav, "events": truth[0], "split": [int(tr.size), int(te.size)]}
    report["detectors"] = {}
    for name in _MODELS.value:
        info = {"demo_split": {"train_files": [os.path.basename(ds.paths[i]) for i in tr]}}
        det = build.train(ds.subset(tr), name, registry.get(name).Config(), settings, train, info)
        detector_lib.save_detector(os.path.join(out_dir, "models", name), det)
        alarm = _ALARM.build(deploy.recorded_alarm(det))
        r = stream_eval.replay(det, wav, truth, alarm, plan, _CHUNK.value, _REPEATS.value)
        report["detectors"][name] = r
        t = r["timing"]
        print(
            f"{name:14s}: detected {r['n_detected']}/{r['n_events']} events, "
            f"{r['n_false_alerts']} false alert(s), {r['alerted_normal_fraction']:.0%} of normal "
            f"time under alert; window TPR {r['window_tpr']:.2f} FPR {r['window_fpr']:.2f}; "
            f"latency p50 {t['latency_ms_p50']:.2f} ms p99 {t['latency_ms_p99']:.2f} ms; "
            f"real-time factor {t['real_time_factor']:.3f}"
        )
    path = os.path.join(out_dir, "demo_stream.json")
    files.atomic_write_json(path, report)
    print(f"wrote {path}")


if __name__ == "__main__":
    common.run_main(main)
