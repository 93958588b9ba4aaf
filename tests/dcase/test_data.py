"""DCASE file names, layout scanning, attributes csv and loading with bad files."""

import os

import numpy as np
import pytest

from drill_jax.data import dcase
from drill_jax.data import dcase_synth as synth


@pytest.mark.parametrize(
    "name, expected",
    [
        ("normal_id_00_00000000.wav", ("00", "source", None, 0, ())),
        ("anomaly_id_04_00000012.wav", ("04", "source", None, 1, ())),
        ("section_02_target_test_anomaly_0003_strength_1_ambient.wav",
         ("02", "target", "test", 1, (("attr", "strength_1_ambient"),))),
        ("section_00_source_train_normal_0000_car_A1_spd_28V_mic_1.wav",
         ("00", "source", "train", 0, (("car", "A1"), ("spd", "28V"), ("mic", "1")))),
        ("section_00_target_train_normal_0009_noAttributes.wav",
         ("00", "target", "train", 0, ())),
        ("section_01_source_test_normal_0001.wav", ("01", "source", "test", 0, ())),
        ("section_00_0042.wav", ("00", None, None, None, ())),
    ],
)
def test_parse_name_every_convention(name, expected):
    f = dcase.parse_name(name)
    assert (f["section"], f["domain"], f["split"], f["label"], f["attributes"]) == expected


def test_parse_name_rejects_other_names_in_one_line():
    with pytest.raises(ValueError, match=r"^drill\.wav: not a DCASE file name") as err:
        dcase.parse_name("drill.wav")
    assert "\n" not in str(err.value)


def test_scan_and_load_tree_with_bad_file_and_attribute_csv(tmp_path):
    root = synth.make_tree(str(tmp_path), ("fan",), ("00",), counts=(3, 1, 1), seconds=0.2)
    train = os.path.join(root, "fan", "train")
    open(os.path.join(train, "section_00_source_train_normal_0099_speed_1.wav"), "wb").write(
        b"not a wav")
    open(os.path.join(train, "readme_notes.wav"), "wb").write(b"x")
    with open(os.path.join(root, "fan", "attributes_00.csv"), "w") as f:
        f.write("file_name,d1p,d1v\nfan/train/section_00_source_train_normal_0000_speed_1.wav,"
                "load,7\n")
    infos, bad = dcase.scan_machine(root, "fan")
    assert [b.path for b in bad] == [os.path.join(train, "readme_notes.wav")]
    assert sum(i.split == "train" for i in infos) == 5 and sum(i.split == "test" for i in infos) == 4
    by_name = {i.name: i for i in infos}
    assert by_name["section_00_source_train_normal_0000_speed_1.wav"].attributes == (("load", "7"),)
    assert by_name["section_00_source_train_normal_0001_speed_2.wav"].attributes == (("speed", "2"),)
    data, kept, unreadable = dcase.load_files(infos)
    assert len(unreadable) == 1 and "0099" in unreadable[0].path
    assert len(data) == len(kept) == 8 and data.sample_rate == 16000
    assert data.class_names[data.positive_index] == "anomaly"
    np.testing.assert_array_equal(data.labels, [i.label for i in kept])
    assert dcase.machine_types(root) == ["fan"]


def test_missing_folders_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dcase.machine_types(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no <machine_type>/train/"):
        dcase.machine_types(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no train/ folder"):
        dcase.scan_machine(str(tmp_path), "fan")


def test_metadata_classes_use_attributes_else_domain():
    infos = [
        dcase.FileInfo("a", "fan", "train", "00", "source", 0, (("speed", "1"),)),
        dcase.FileInfo("b", "fan", "train", "00", "target", 0, ()),
        dcase.FileInfo("c", "fan", "train", "01", "source", 0, (("speed", "1"),)),
        dcase.FileInfo("d", "fan", "train", "00", "source", 0, (("speed", "1"),)),
    ]
    idx, names = dcase.metadata_classes(infos)
    assert names == ("section_00|speed_1", "section_00|target", "section_01|speed_1")
    np.testing.assert_array_equal(idx, [0, 1, 2, 0])
