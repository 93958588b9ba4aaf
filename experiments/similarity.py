"""How close synthesized sounds are to real ones: the paper's pair analysis, set-level measures
and the held-out realism test.

python -m experiments.similarity --synth_dir=runs/vae/synth --out_dir=runs/similarity
python -m experiments.similarity --synth_dir=runs/vae/synth --realism_only --out_dir=runs/real
python -m experiments.similarity --a=X.wav --b=Y.wav --out_dir=runs/similarity_pair
"""

from absl import app, flags, logging

from drill_jax import files
from drill_jax.similarity import realism
from drill_jax.similarity import report as similarity_report
from experiments import common, flag_groups

_SYNTH_DIR = flags.DEFINE_string("synth_dir", None, "Synthesized sounds: <dir>/<class>/*.wav.")
_A = flags.DEFINE_string("a", None, "First WAV of a single-pair comparison (with --b).")
_B = flags.DEFINE_string("b", None, "Second WAV of a single-pair comparison (with --a).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for the reference halves, CV folds, permutations.")
_TRAIN_SPLIT = flags.DEFINE_enum(
    "train_split",
    "paper",
    ["paper", "all"],
    "Generator training sounds for the memorisation check and the held-out realism test.",
)
_FIGURES = flags.DEFINE_boolean("figures", True, "Draw each class's best-matching pair.")
_PAIRS = flags.DEFINE_multi_string(
    "pair", [], "Extra pair to draw, 'synth_class/file.wav:real_class/file.wav' (repeatable)."
)
_REALISM_ONLY = flags.DEFINE_boolean(
    "realism_only",
    False,
    "Only the held-out realism test against the paper's test list (realism.json / .md).",
)

common.define_data_flags("runs/similarity")
flag_groups.define_feature_flags()
FLAGS = flags.FLAGS
_CONFIG_FLAGS = (
    "synth_dir",
    "data_dir",
    "sample_rate",
    "resample",
    "channel",
    "clip_seconds",
    "classes",
    "skip_bad",
    "seed",
    "train_split",
    "figures",
    "pair",
    "realism_only",
)


def _compare_pair(out_dir: str) -> None:
    if _SYNTH_DIR.value is not None:
        raise app.UsageError("give either --synth_dir or --a/--b, not both")
    result = similarity_report.compare_files(
        _A.value, _B.value, out_dir, sample_rate=FLAGS.sample_rate or None
    )
    logging.info(
        "peak xcorr %.4f at lag %d samples; %d coherence peaks > 0.05; wrote %s",
        result["xcorr_peak"],
        result["xcorr_peak_lag_samples"],
        result["coherence_num_peaks"],
        out_dir,
    )


def _pairs() -> list:
    pairs = []
    for spec in _PAIRS.value:
        if spec.count(":") != 1:
            raise app.UsageError(f"--pair must be 'synth:real', got {spec!r}")
        pairs.append(tuple(spec.split(":")))
    return pairs


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    out_dir = FLAGS.out_dir
    if (_A.value is None) != (_B.value is None):
        raise app.UsageError("--a and --b go together")
    if _A.value is not None:
        return _compare_pair(out_dir)
    if _SYNTH_DIR.value is None:
        raise app.UsageError("need --synth_dir (or --a and --b)")
    files.atomic_write_json(f"{out_dir}/config.json", {k: FLAGS[k].value for k in _CONFIG_FLAGS})
    dataset = common.load_data_from_flags()
    if _REALISM_ONLY.value:
        config = realism.RealismConfig(seed=_SEED.value)
        result = similarity_report.score_realism(
            _SYNTH_DIR.value, dataset, out_dir, config, FLAGS.skip_bad
        )
        logging.info("%s\nwrote %s/realism.json and realism.md", realism.markdown(result), out_dir)
        return
    config = similarity_report.ReportConfig(
        train_split=_TRAIN_SPLIT.value, skip_bad=FLAGS.skip_bad, figures=_FIGURES.value
    )
    report = similarity_report.build_report(
        _SYNTH_DIR.value,
        dataset,
        out_dir,
        seed=_SEED.value,
        config=config,
        settings=flag_groups.feature_settings_from_flags(dataset.sample_rate),
        pairs=_pairs(),
    )
    for bad in report["skipped_synth_files"]:
        logging.warning("skipped %s", bad)
    logging.info("wrote %s/report.json, report.md and %d figures", out_dir, len(report["figures"]))


if __name__ == "__main__":
    common.run_main(main)
