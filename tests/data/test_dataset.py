"""Tests for drill_jax.data.dataset: the bundled Valmet data and any folder-per-class layout."""

import os
import shutil

import numpy as np
import pytest
import soundfile

from drill_jax import data


@pytest.fixture(scope="module")
def valmet():
    return data.load_dataset()


def test_bundled_valmet_counts_and_confound(valmet):
    assert len(valmet) == 134 and valmet.sample_rate == 96000
    assert valmet.class_names == ("anomaly", "normal")
    assert np.bincount(valmet.labels).tolist() == [67, 67]
    lengths = valmet.lengths
    for c, (n2000, n4000) in enumerate([(46, 21), (11, 56)]):
        assert np.sum(lengths[valmet.labels == c] == 2000) == n2000
        assert np.sum(lengths[valmet.labels == c] == 4000) == n4000
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 for w in valmet.waveforms)
    assert len(np.unique(valmet.groups)) == 134 and not valmet.bad


def test_natural_order(valmet):
    names = [os.path.basename(p) for p in valmet.paths[:11]]
    assert names[:3] == ["fault_1.wav", "fault_2.wav", "fault_3.wav"]
    assert names[9] == "fault_10.wav"
    assert sorted(["a10", "a2", "a1"], key=data.natural_key) == ["a1", "a2", "a10"]


def test_manifest_hashes_match_bundled_files():
    manifest = data.read_manifest(data.BUNDLED_DATA_DIR)
    assert len(manifest) == 134
    row = manifest["anomaly/fault_1.wav"]
    path = os.path.join(data.BUNDLED_DATA_DIR, "anomaly", "fault_1.wav")
    assert data.file_sha256(path) == row["sha256"]
    assert int(row["num_samples"]) == soundfile.info(path).frames


def _copy_subset(tmp_path, n=3):
    root = tmp_path / "ds"
    for cls, prefix in [("anomaly", "fault"), ("normal", "normal")]:
        (root / cls).mkdir(parents=True)
        for i in range(1, n + 1):
            src = os.path.join(data.BUNDLED_DATA_DIR, cls, f"{prefix}_{i}.wav")
            shutil.copy(src, root / cls / f"{prefix}_{i}.wav")
    shutil.copy(os.path.join(data.BUNDLED_DATA_DIR, "manifest.csv"), root / "manifest.csv")
    return root


def test_manifest_detects_tampering(tmp_path):
    root = _copy_subset(tmp_path)
    assert len(data.load_dataset(str(root))) == 6
    target = root / "normal" / "normal_2.wav"
    x, sr = soundfile.read(target)
    soundfile.write(target, x * 0.5, sr, subtype="PCM_16")
    with pytest.raises(data.AudioError, match="SHA-256") as err:
        data.load_dataset(str(root))
    assert "normal_2.wav" in str(err.value)
    assert len(data.load_dataset(str(root), verify_manifest=False)) == 6


def test_skip_bad_collects_and_continues(tmp_path):
    root = _copy_subset(tmp_path)
    os.remove(root / "manifest.csv")
    (root / "normal" / "broken.wav").write_bytes(b"RIFF....garbage")
    soundfile.write(root / "anomaly" / "silent.wav", np.zeros(0), 96000, subtype="PCM_16")
    with pytest.raises(data.AudioError, match="fault_|broken|silent"):
        data.load_dataset(str(root))
    ds = data.load_dataset(str(root), skip_bad=True)
    assert len(ds) == 6
    reasons = {os.path.basename(b.path): b.reason for b in ds.bad}
    assert set(reasons) == {"broken.wav", "silent.wav"}
    assert "empty" in reasons["silent.wav"] and "unreadable" in reasons["broken.wav"]


def test_other_machine_layout_rate_and_cutting(tmp_path):
    """Another machine: 16 kHz stereo recordings of 1 s in three classes."""
    rng = np.random.default_rng(0)
    for cls in ["bearing", "ok", "loose"]:
        (tmp_path / cls).mkdir()
        for i in range(2):
            x = 0.1 * rng.standard_normal((16000, 2))
            soundfile.write(tmp_path / cls / f"rec_{i}.wav", x, 16000, subtype="PCM_16")
    with pytest.raises(data.AudioError, match="96000"):
        data.load_dataset(str(tmp_path), channel=0)
    ds = data.load_dataset(
        str(tmp_path), sample_rate=16000, channel=1, clip_seconds=0.25, hop_seconds=0.125
    )
    assert ds.class_names == ("bearing", "loose", "ok")
    assert len(ds) == 3 * 2 * 7 and all(w.shape == (4000,) for w in ds.waveforms)
    assert len(np.unique(ds.groups)) == 6 and ds.starts[:3].tolist() == [0, 2000, 4000]
    tr, te = data.stratified_holdout(ds.labels, 0.5, 0, ds.groups)
    assert np.intersect1d(ds.groups[tr], ds.groups[te]).size == 0
    ds48 = data.load_dataset(str(tmp_path), sample_rate=48000, resample=True, channel=0)
    assert ds48.sample_rate == 48000 and ds48.waveforms[0].shape == (48000,)


def test_classes_and_missing_folders(tmp_path):
    ds = data.load_dataset(classes=["normal", "anomaly"])
    assert ds.class_names == ("normal", "anomaly") and ds.paths[0].endswith("normal_1.wav")
    with pytest.raises(FileNotFoundError, match="no class folder"):
        data.load_dataset(classes=["nope"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_dataset(str(tmp_path / "missing"))


def test_subset(valmet):
    sub = valmet.subset([0, 67])
    assert len(sub) == 2 and sub.labels.tolist() == [0, 1] and sub.paths[1].endswith("normal_1.wav")


def test_labelled_sounds_positive_class_and_lengths():
    from drill_jax.data.dataset import Dataset

    ds = Dataset.from_arrays([np.zeros(4)] * 3, [0, 1, 1], ("normal", "anomaly"), 16000)
    assert ds.positive_index == 1  # 'anomaly' by default
    ok_bad = ("ok", "bad")
    ds = Dataset.from_arrays([np.zeros(4)] * 3, [0, 1, 1], ok_bad, 16000, positive_class="bad")
    assert ds.positive_index == 1 and ds.subset([2]).positive_class == "bad"
    assert Dataset.from_arrays([np.zeros(4)], [0], ("ok", "bad"), 16000).positive_index == 0
    with pytest.raises(ValueError, match="labels has 1 entries, 2 waveforms"):
        Dataset.from_arrays([np.zeros(4)] * 2, [0], ("ok",), 16000)
    with pytest.raises(ValueError, match="positive_class 'x'"):
        Dataset.from_arrays([np.zeros(4)], [0], ("ok",), 16000, positive_class="x")


def test_load_options_and_keyword_overrides():
    opts = data.LoadOptions(classes=("normal",), clip_seconds=1000 / 96000)
    ds = data.load_dataset(None, opts)
    assert ds.class_names == ("normal",) and len(ds) == 11 * 2 + 56 * 4
    assert all(w.shape == (1000,) for w in ds.waveforms)
    # A keyword replaces that field of the options; the rest are kept.
    half = data.load_dataset(None, opts, hop_seconds=500 / 96000)
    assert half.class_names == ("normal",) and len(half) == 11 * 3 + 56 * 7
    with pytest.raises(ValueError, match="must be positive"):
        data.LoadOptions(clip_seconds=0.0)
    with pytest.raises(TypeError, match="clip_secs"):
        data.load_dataset(clip_secs=1.0)
