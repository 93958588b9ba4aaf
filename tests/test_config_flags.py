"""Tests for experiments/config_flags.py: flags generated from a dataclass, values parsed as the
dataclass expects, presets composed with explicit flags, errors naming the flag."""

import dataclasses
from typing import Optional

import pytest
from absl import flags

from drill_jax import config_tree
from experiments import config_flags, flag_parsers


@dataclasses.dataclass(frozen=True)
class _Toy:
    """A config.

    Attributes:
      cf_methods: method names, 'none' included.
      cf_crops: crops, 'none' = no crop.
      cf_rate: a positive rate.
      cf_top: optional level (none = off).
      cf_band: band edges.
      cf_on: a switch.
    """

    cf_methods: tuple = ("none", "vae")
    cf_crops: tuple = (None, 2000)
    cf_rate: float = 1.0
    cf_top: Optional[float] = 80.0
    cf_band: Optional[tuple] = (1.0, 2.0)
    cf_on: bool = True

    def __post_init__(self):
        if self.cf_rate <= 0:
            raise ValueError(f"cf_rate: must be positive, got {self.cf_rate}")


GROUP = config_flags.define(
    _Toy, rename={"cf_on": "cf_switch"}, parsers={"cf_band": flag_parsers.parse_band}
)


@pytest.fixture
def parse():
    def run(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["prog", *args])

    yield run
    flags.FLAGS.unparse_flags()


def test_defaults_help_and_types(parse):
    parse()
    assert GROUP.build() == _Toy()
    assert flags.FLAGS["cf_rate"].help == "a positive rate."
    assert "cf_switch" in flags.FLAGS and "cf_on" not in flags.FLAGS


def test_values_are_parsed_as_the_dataclass_expects(parse):
    parse(
        "--cf_methods=none,mixup",
        "--cf_crops=none,1000",
        "--cf_top=none",
        "--cf_band=,7000",
        "--nocf_switch",
    )
    toy = GROUP.build()
    assert toy.cf_methods == ("none", "mixup")  # names stay strings
    assert toy.cf_crops == (None, 1000)
    assert toy.cf_top is None and toy.cf_band == (None, 7000.0) and toy.cf_on is False


def test_presets_compose_with_explicit_flags_and_errors_name_the_flag(parse):
    preset = _Toy(cf_rate=5.0, cf_top=10.0)
    parse("--cf_top=20")
    toy = GROUP.build(preset)
    assert toy.cf_rate == 5.0 and toy.cf_top == 20.0  # preset kept, explicit flag wins
    parse("--cf_rate=-1")
    with pytest.raises(ValueError, match=r"^--cf_rate: must be positive"):
        GROUP.build()


def test_docstring_help_splits_shared_entries():
    @dataclasses.dataclass
    class Doc:
        """X.

        Attributes:
          a, b: shared text
            continued.
          c: own.
        """

        a: int = 0
        b: int = 0
        c: int = 0

    assert config_tree.docstring_help(Doc) == {
        "a": "shared text continued.",
        "b": "shared text continued.",
        "c": "own.",
    }


@dataclasses.dataclass(frozen=True)
class _Part:
    seed: int = 1
    width: int = 4


@dataclasses.dataclass(frozen=True)
class _Whole:
    part: _Part = _Part()
    seed: int = 0
    name: str = "a"


def test_a_top_field_or_part_resolves_to_itself_and_builds_whole():
    assert config_tree.resolve(_Whole, "seed") == ("seed",)  # not the part's seed
    assert config_tree.resolve(_Whole, "width") == ("part", "width")
    assert config_tree.resolve(_Whole, "part") == ("part",)
    built = config_tree.build_nested(_Whole, _Whole(seed=5), {("part",): _Part(seed=9)})
    assert built == _Whole(part=_Part(seed=9), seed=5)


def test_changes_lists_the_differing_leaves_by_path():
    other = _Whole(part=_Part(width=8), name="b")
    assert config_tree.changes(_Whole(), other) == {"part.width": 8, "name": "b"}
    assert config_tree.changes(other, other) == {}


def test_data_flags_are_generated_from_load_options(parse):
    from drill_jax import data
    from experiments import common

    common.define_data_flags("/tmp/unused")
    parse()
    assert common.load_options_from_flags() == data.LoadOptions()
    assert flags.FLAGS["hop_seconds"].help.startswith("seconds between clip starts")
    parse("--sample_rate=none", "--classes=normal,anomaly", "--clip_seconds=0.5", "--skip_bad")
    opts = common.load_options_from_flags()
    assert opts.sample_rate is None and opts.classes == ("normal", "anomaly")
    assert opts.clip_seconds == 0.5 and opts.skip_bad and opts.hop_seconds is None
    parse("--hop_seconds=-1")
    with pytest.raises(ValueError, match="hop_seconds must be positive"):
        common.load_options_from_flags()
