"""Dataclass fields as flags and YAML values (tl_fast._flags): kinds, choices, none, bool spellings, and the
field types other issues may add (Literal choices; types with no flag form stay YAML-only)."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from tl_fast._cli import UserError
from tl_fast._flags import FlagParser, add_section, field_specs, given_values, sections_from_dict


@dataclass
class Demo:
    algorithm: Literal["ppo", "grpo"] = "ppo"
    group_size: int | None = None
    clip: float = 0.2
    on: bool = True
    weights: list[float] = field(default_factory=list)  # no flag form


def parse(argv):
    parser = FlagParser(prog="demo")
    specs = add_section(parser, field_specs("x", Demo, "x_"), "x")
    return given_values(parser.parse_args(argv), specs)


def test_kinds_and_spellings():
    got = parse(["--x-algorithm", "grpo", "--x-group-size", "8", "--x-clip", "1", "--no-x-on"])
    assert got == {"algorithm": "grpo", "group_size": 8, "clip": 1.0, "on": False}
    assert parse(["--x-group-size", "none", "--x-on", "false"]) == {"group_size": None, "on": False}
    assert parse([]) == {}  # defaults are the dataclass's, not re-stated by the parser


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--x-algorithm", "dapo"], "--x-algorithm 'dapo': expected one of ppo, grpo"),
        (["--x-group-size", "8.5"], "--x-group-size '8.5': expected an integer or none"),
        (["--x-on", "maybe"], "--x-on 'maybe': expected bool"),
        (["--x-weights", "1"], "unknown flag --x-weights"),
        (["--x-clp", "1"], "unknown flag --x-clp (did you mean --x-clip?)"),
    ],
)
def test_bad_values_name_the_flag(argv, message):
    with pytest.raises(UserError, match=message.replace("(", "\\(").replace(")", "\\)").replace("?", "\\?")):
        parse(argv)


def test_yaml_takes_every_field_and_checks_it():
    specs = {"x": field_specs("x", Demo, "x_")}
    got = sections_from_dict({"x": {"weights": [1.0, 2.0], "clip": 1, "algorithm": "grpo"}}, specs, "f.yaml")
    assert got == {"x": {"weights": [1.0, 2.0], "clip": 1.0, "algorithm": "grpo"}}
    with pytest.raises(UserError, match="f.yaml: x.clip 'wide': expected a number"):
        sections_from_dict({"x": {"clip": "wide"}}, specs, "f.yaml")
    with pytest.raises(UserError, match="f.yaml: unknown section 'y'"):
        sections_from_dict({"y": {}}, specs, "f.yaml")
