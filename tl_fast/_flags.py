"""Config dataclasses as command-line flags and YAML values, through one converter, with one-line errors.

    parser = FlagParser(prog="python -m tl_fast.train", description=__doc__)
    specs = add_section(parser, "sft", SFTConfig, prefix="sft_")      # --sft-lr, --sft-max-steps, ...
    given = given_values(parser.parse_args(argv), specs)              # only what the user typed
    values = load_yaml_sections("run.yaml", {"sft": specs})           # same converter, same messages

Flags are generated from the fields (type, default, `metadata["help"]`), so every CLI that shares a
dataclass shares its flag names. A field's metadata may add `choices` (allowed strings) and `normalize`
(a function mapping an accepted spelling to the stored value, raising ValueError/UserError otherwise).
`X | None` fields take `none`; bools take `--x`, `--x true|false` and `--no-x`; `tuple[str, ...]` fields
become `--x-file PATH` (one entry per line, `#` comments); `Literal["a", "b"]` gives choices; any other type
has no flag and is taken from YAML as given. Every parse error is a `UserError`, so
`run_cli` prints it on one line with exit status 2. Imports nothing heavy: `--help` stays fast.
"""

from __future__ import annotations

import argparse
import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from tl_fast._cli import UserError

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True)
class FieldSpec:
    """How one dataclass field is spelled on the command line and converted from text or YAML."""

    section: str
    name: str
    flag: str  # "--sft-lr"
    kind: str  # bool | int | float | str | lines
    optional: bool
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    normalize: Callable[[Any], Any] | None = None
    aliases: tuple[str, ...] = ()  # other spellings, e.g. --reward for --ppo-reward

    def describe(self) -> str:
        kind = {"lines": "a list of strings", "int": "an integer", "float": "a number"}.get(
            self.kind, self.kind
        )
        if self.choices:
            kind = "one of " + ", ".join(self.choices)
        return kind + (" or none" if self.optional else "")


def _kind(hint) -> tuple[str, bool, tuple | None]:
    """(kind, optional, Literal choices). A type with no flag form is 'any': YAML only, taken as given."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return "any", optional, None
        hint = args[0]
    if typing.get_origin(hint) is typing.Literal and all(isinstance(a, str) for a in typing.get_args(hint)):
        return "str", optional, typing.get_args(hint)
    if typing.get_origin(hint) is tuple and typing.get_args(hint) in ((str, ...), ()):
        return "lines", optional, None
    names = {bool: "bool", int: "int", float: "float", str: "str"}
    return names.get(hint, "any"), optional, None


def field_specs(section: str, klass, prefix: str = "", skip: Iterable[str] = ()) -> dict[str, FieldSpec]:
    """{field name: FieldSpec} for every field of `klass` not in `skip`."""
    hints = typing.get_type_hints(klass)
    out = {}
    for f in fields(klass):
        if f.name in skip:
            continue
        kind, optional, literal = _kind(hints[f.name])
        flag = "--" + (prefix + f.name).replace("_", "-") + ("-file" if kind == "lines" else "")
        choices = tuple(f.metadata["choices"]) if "choices" in f.metadata else literal
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        help_ = f.metadata.get("help", "")
        aliases = tuple(f.metadata.get("aliases", ()))  # e.g. --reward for --ppo-reward
        out[f.name] = FieldSpec(section, f.name, flag, kind, optional, default, help_, choices,
                                f.metadata.get("normalize"), aliases)  # fmt: skip
    return out


def convert(spec: FieldSpec, value: Any, where: str) -> Any:
    """`value` (flag text or a YAML value) as the field stores it; UserError naming `where` otherwise."""

    def bad() -> UserError:
        return UserError(f"{where} {value!r}: expected {spec.describe()}")

    if spec.kind == "any":  # no flag form: a YAML value as given
        return value
    if value is None or (
        isinstance(value, str) and spec.optional and value.strip().lower() in ("none", "null")
    ):
        if spec.optional:
            return None
        raise bad()
    if spec.kind == "bool":
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise bad()
    elif spec.kind == "int":
        if isinstance(value, str):
            try:
                value = int(value.strip().replace("_", ""))
            except ValueError:
                raise bad() from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
    elif spec.kind == "float":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad() from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
    elif spec.kind == "lines":
        if isinstance(value, str):  # a flag names a file of entries
            path = Path(value).expanduser()
            if not path.is_file():
                raise UserError(f"{where} {value}: no such file")
            lines = path.read_text(encoding="utf-8").splitlines()
            value = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad()
        value = tuple(value)
    elif not isinstance(value, str):
        raise bad()
    if spec.choices is not None and value not in spec.choices:
        raise bad()
    if spec.normalize is not None:
        try:
            value = spec.normalize(value)
        except (ValueError, UserError) as exc:
            raise UserError(f"{where} {value!r}: {exc}") from None
    return value


class _Bool(argparse.Action):
    """--x, --x true|false, --no-x."""

    def __init__(self, option_strings, dest, spec: FieldSpec, **kwargs):
        self.spec = spec
        super().__init__(option_strings, dest, nargs="?", metavar="BOOL", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string.startswith("--no-"):
            if values is not None:
                raise UserError(f"{option_string} takes no value (use {self.spec.flag} {values})")
            setattr(namespace, self.dest, False)
        else:
            setattr(
                namespace, self.dest, True if values is None else convert(self.spec, values, option_string)
            )


def _default_text(spec: FieldSpec) -> str:
    if spec.kind == "lines":
        return f"{len(spec.default)} built-in entries"
    if spec.kind == "bool":
        return str(spec.default).lower()
    return "none" if spec.default is None else str(spec.default)


def add_section(
    parser: argparse.ArgumentParser,
    specs: dict[str, FieldSpec],
    title: str,
    description: str | None = None,
    note: Callable[[FieldSpec], str] = lambda spec: "",
) -> dict[str, FieldSpec]:
    """Adds one argument group of flags; their values land as `section.name` and only when given."""
    group = parser.add_argument_group(title, description)
    for spec in specs.values():
        if spec.kind == "any":  # set in a --config YAML only
            continue
        help_ = f"{spec.help} (default: {_default_text(spec)}){note(spec)}".replace("%", "%%")
        dest = f"{spec.section}.{spec.name}"
        if spec.kind == "bool":
            no = "--no-" + spec.flag[2:]
            group.add_argument(spec.flag, no, dest=dest, action=_Bool, spec=spec, default=argparse.SUPPRESS,
                               help=help_)  # fmt: skip
        else:
            metavar = {"lines": "PATH", "int": "INT", "float": "FLOAT"}.get(spec.kind, "STR")
            if spec.choices:
                metavar = "{" + ",".join(spec.choices) + "}"
            group.add_argument(
                spec.flag,
                *spec.aliases,
                dest=dest,
                type=lambda text, spec=spec: convert(spec, text, spec.flag),
                default=argparse.SUPPRESS,
                metavar=metavar,
                help=help_,
            )
    return specs


def given_values(namespace: argparse.Namespace, specs: dict[str, FieldSpec]) -> dict[str, Any]:
    """{field name: value} of the flags of one section that were given on the command line."""
    ns = vars(namespace)
    return {name: ns[f"{s.section}.{name}"] for name, s in specs.items() if f"{s.section}.{name}" in ns}


def suggest(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest candidate, else ''."""
    candidates = list(candidates)
    # learning-rate is spelled lr here, as in the paper's scripts' short forms
    probe = word.replace("learning-rate", "lr").replace("learning_rate", "lr")
    close = difflib.get_close_matches(probe, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=34, width=110)


class DocFormatter(_Formatter):
    """Keeps the description's layout (a module docstring with its example commands)."""

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


class FlagParser(argparse.ArgumentParser):
    """argparse whose errors are UserErrors naming the closest flag; no prefix abbreviations; `--a_b` is
    read as `--a-b` (HfArgumentParser took both). `renamed` maps old flag names to their new ones."""

    def __init__(self, *args, renamed: dict[str, str] | None = None, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self.renamed = renamed or {}

    def parse_known_args(self, args=None, namespace=None):
        if args is not None:
            args = [_dashes(a) for a in args]
        return super().parse_known_args(args, namespace)

    def _all_flags(self) -> set[str]:
        out = set(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    out |= (
                        sub._all_flags() if isinstance(sub, FlagParser) else set(sub._option_string_actions)
                    )
        return out

    def error(self, message: str):
        m = re.match(r"unrecognized arguments: (.*)", message)
        if m:
            parts = []
            for token in m.group(1).split():
                if not token.startswith("-"):
                    continue
                flag = token.split("=", 1)[0]
                hint = f" (renamed {self.renamed[flag]})" if flag in self.renamed else ""
                parts.append(flag + (hint or suggest(flag, self._all_flags())))
            if parts:
                message = f"unknown flag{'s' if len(parts) > 1 else ''} {', '.join(parts)}"
        raise UserError(f"{message}; see {self.prog} --help")


def _dashes(arg: str) -> str:
    if not arg.startswith("--") or arg == "--":
        return arg
    name, eq, value = arg.partition("=")
    return name.replace("_", "-") + eq + value


def load_yaml_sections(path: str, sections: dict[str, dict[str, FieldSpec]]) -> dict[str, dict[str, Any]]:
    """{section: {field: value}} from a YAML file whose top-level keys are sections; UserError on any
    syntax error, unknown section or key, or value of the wrong kind (file, line and key named)."""
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        # the context mark is where the broken construct starts (the problem mark is often end of file)
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        what = "; ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None))))
        raise UserError(f"{path}:{where} YAML syntax error: {what or str(exc).splitlines()[0]}") from None
    return sections_from_dict(data or {}, sections, str(path))


def sections_from_dict(data: Any, sections: dict[str, dict[str, FieldSpec]], where: str) -> dict:
    """The checked, converted {section: {field: value}} of a dict grouped by section (YAML, config.yaml)."""
    if not isinstance(data, dict):
        raise UserError(
            f"{where}: expected a mapping of sections ({', '.join(sections)}), got {type(data).__name__}"
        )
    out: dict[str, dict[str, Any]] = {}
    for section, values in data.items():
        if section not in sections:
            raise UserError(
                f"{where}: unknown section {section!r}{suggest(str(section), sections)}; "
                f"expected {', '.join(sections)}"
            )
        if values is None:
            continue
        if not isinstance(values, dict):
            raise UserError(f"{where}: section {section!r} must be a mapping of field: value")
        specs = sections[section]
        for key, value in values.items():
            if key not in specs:
                raise UserError(
                    f"{where}: unknown key {section}.{key}{suggest(str(key), specs)}; "
                    f"{section} has {', '.join(specs)}"
                )
            out.setdefault(section, {})[key] = convert(specs[key], value, f"{where}: {section}.{key}")
    return out
