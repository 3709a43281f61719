"""Readers for the three trajectory formats, into `Trajectory` records, with every skipped record counted.

    trajs, report = load_trajectories("rotllama_gpt4_trajectories.jsonl.gz")       # format="auto"
    trajs, report = load_trajectories(hf_dataset, format="openai", strict=True)    # stop at the first bad one

Formats (detected per record with format="auto"):
  rotllama  {"id", "conversations": [{"from": "system"|"user"|"assistant"|"function", "value"}]}; the system
            prompt holds a JSON tool list; assistant turns are ReAct "Thought:/Action:/Action Input: {json}".
  tl_raw    TL-Training's raw data: {"id", "conversations": [{"role", "content"}]}; system content = JSON tool
            list; assistant content = "name\n{json args}"; tool outputs have role "function".
  openai    {"messages": [...], "tools": [...]}: assistant "tool_calls" (arguments as JSON text or object),
            "tool" role for outputs.
Sources: a .json / .jsonl file (optionally .gz), a directory saved by `datasets.save_to_disk`, a
`datasets.Dataset`, or a list of dicts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_fast._io import read_text
from tl_fast.data.types import Call, Message, Tool, Trajectory

FORMATS = ("auto", "rotllama", "tl_raw", "openai")


class MalformedRecord(ValueError):
    """A record that cannot become a Trajectory; `reason` is the short key it is counted under."""

    def __init__(self, reason: str, detail: str, index: int | None = None):
        self.reason, self.detail, self.index = reason, detail, index
        where = "" if index is None else f"record {index}: "
        super().__init__(f"{where}{reason}: {detail}")


@dataclass
class LoadReport:
    """Counts of a load: nothing is dropped without a reason."""

    records_in: int = 0
    trajectories_out: int = 0
    assistant_turns: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> records
    formats: Counter = field(default_factory=Counter)  # detected format -> records

    def rows(self) -> list[tuple[str, int]]:
        rows = [("records in", self.records_in)]
        rows += [(f"format {k}", v) for k, v in sorted(self.formats.items())]
        rows += [(f"dropped: {k}", v) for k, v in sorted(self.dropped.items())]
        rows += [("trajectories out", self.trajectories_out), ("assistant turns", self.assistant_turns)]
        return rows


# ---------------------------------------------------------------------------------------------- reading files


def iter_records(source: Any) -> Iterator[Any]:
    """Yields raw records; an undecodable JSONL line is yielded as a MalformedRecord to be counted."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            import datasets

            yield from datasets.load_from_disk(str(path))
            return
        if not path.is_file():
            raise FileNotFoundError(f"trajectory source {str(path)!r} is neither a file nor a directory")
        text = read_text(path)
        stem = path.name[:-3] if path.name.endswith(".gz") else path.name
        if not stem.endswith(".jsonl"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None  # maybe JSON lines under a .json name
            if data is not None:
                yield from data if isinstance(data, list) else [data]
                return
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield MalformedRecord("bad_json", f"line {lineno}: {exc}")
        return
    yield from source  # datasets.Dataset or any iterable of dicts


# ---------------------------------------------------------------------------------------------- per format


def detect_format(record: dict[str, Any]) -> str:
    if isinstance(record.get("messages"), list):
        return "openai"
    conv = record.get("conversations")
    if isinstance(conv, list) and conv and isinstance(conv[0], dict):
        if "from" in conv[0]:
            return "rotllama"
        if "role" in conv[0]:
            return "tl_raw"
    raise MalformedRecord("unknown_format", f"keys {sorted(record)[:6]}: no 'messages' or 'conversations'")


def _tools_from_list(items: Any, allow_empty: bool = False) -> list[Tool]:
    if allow_empty and (items is None or items == []):
        return []
    if not isinstance(items, list) or not items:
        raise MalformedRecord("bad_tool_list", "the tool list is empty or not a list")
    try:
        return [Tool.from_schema(t) for t in items]
    except ValueError as exc:
        raise MalformedRecord("bad_tool_list", str(exc)) from None


def tools_from_system_prompt(text: str) -> list[Tool]:
    """The JSON tool list embedded in a ReAct system prompt: the first `[` that decodes to a list of tools."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\[\s*\{", text):
        try:
            items, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(items, list) and all(isinstance(t, dict) and "name" in t for t in items):
            return _tools_from_list(items)
    raise MalformedRecord("bad_tool_list", "no JSON tool list in the system prompt")


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise MalformedRecord("bad_call", f"{where}: arguments are not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise MalformedRecord("bad_call", f"{where}: arguments must be an object, got {type(raw).__name__}")
    return raw


_REACT = re.compile(
    r"\A\s*Thought:(?P<thought>.*?)\nAction:(?P<name>[^\n]*)\nAction Input:(?P<args>.*)\Z", re.S
)
_BEGIN_SUFFIX = re.compile(r"\s*\nBegin!\s*\Z")  # the ReAct prompt's end marker, not part of the query


def _react_call(text: str, where: str) -> Message:
    m = _REACT.match(text)
    if m is None:
        raise MalformedRecord("bad_call", f"{where}: not 'Thought:/Action:/Action Input:'")
    name = m["name"].strip()
    if not name:
        raise MalformedRecord("bad_call", f"{where}: empty Action")
    return Message(
        "assistant", calls=(Call(name, _arguments(m["args"].strip(), where)),), thought=m["thought"].strip()
    )


def parse_rotllama(record: dict[str, Any]) -> Trajectory:
    conv = record["conversations"]
    if conv[0].get("from") != "system":
        raise MalformedRecord("bad_tool_list", "the first turn is not the system prompt")
    tools = tools_from_system_prompt(str(conv[0].get("value", "")))
    messages = []
    for i, turn in enumerate(conv[1:], 1):
        role, value = turn.get("from"), turn.get("value")
        if not isinstance(value, str):
            raise MalformedRecord("bad_turn", f"turn {i}: 'value' is not a string")
        if role == "user":
            messages.append(Message("user", _BEGIN_SUFFIX.sub("", value) if not messages else value))
        elif role == "assistant":
            messages.append(_react_call(value, f"turn {i}"))
        elif role == "function":
            messages.append(Message("tool", value))
        else:
            raise MalformedRecord("bad_turn", f"turn {i}: unknown role {role!r}")
    return Trajectory(str(record.get("id", "")), tools, messages, str(record.get("source", "")))


def parse_tl_raw(record: dict[str, Any]) -> Trajectory:
    conv = record["conversations"]
    if conv[0].get("role") != "system":
        raise MalformedRecord("bad_tool_list", "the first turn is not the system tool list")
    try:
        tools = _tools_from_list(json.loads(conv[0].get("content", "")))
    except (json.JSONDecodeError, TypeError):
        raise MalformedRecord("bad_tool_list", "system content is not a JSON tool list") from None
    messages = []
    for i, turn in enumerate(conv[1:], 1):
        role, content = turn.get("role"), turn.get("content")
        if not isinstance(content, str):
            raise MalformedRecord("bad_turn", f"turn {i}: 'content' is not a string")
        if role == "user":
            messages.append(Message("user", content))
        elif role == "assistant":
            name, _, args = content.partition("\n")
            if not name.strip():
                raise MalformedRecord("bad_call", f"turn {i}: empty tool name")
            call = Call(name.strip(), _arguments(args, f"turn {i}"))
            messages.append(Message("assistant", calls=(call,)))
        elif role in ("function", "tool", "observation"):
            messages.append(Message("tool", content))
        else:
            raise MalformedRecord("bad_turn", f"turn {i}: unknown role {role!r}")
    return Trajectory(str(record.get("id", "")), tools, messages, str(record.get("source", "")))


def parse_openai(record: dict[str, Any]) -> Trajectory:
    tools = _tools_from_list(record.get("tools"), allow_empty=True)  # plain chat turns may offer no tool
    messages = []
    for i, msg in enumerate(record["messages"]):
        if not isinstance(msg, dict):
            raise MalformedRecord("bad_turn", f"message {i} is not an object")
        role, content = msg.get("role"), msg.get("content") or ""
        if not isinstance(content, str):
            raise MalformedRecord("bad_turn", f"message {i}: content is not a string")
        if role == "system":
            continue  # the renderer writes its own system prompt from `tools`
        if role == "user":
            messages.append(Message("user", content))
        elif role == "assistant":
            calls = []
            for j, tc in enumerate(msg.get("tool_calls") or []):
                fn = tc.get("function", tc) if isinstance(tc, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                    raise MalformedRecord("bad_call", f"message {i} tool_call {j}: no function name")
                calls.append(Call(fn["name"], _arguments(fn.get("arguments", {}), f"message {i} call {j}")))
            if not calls and not content.strip():
                raise MalformedRecord("bad_call", f"message {i}: assistant turn with neither calls nor text")
            messages.append(Message("assistant", "" if calls else content, tuple(calls)))
        elif role in ("tool", "function"):
            messages.append(Message("tool", content))
        else:
            raise MalformedRecord("bad_turn", f"message {i}: unknown role {role!r}")
    return Trajectory(str(record.get("id", "")), tools, messages, str(record.get("source", "")))


_PARSERS = {"rotllama": parse_rotllama, "tl_raw": parse_tl_raw, "openai": parse_openai}


def parse_record(record: Any, format: str = "auto") -> tuple[Trajectory, str]:
    """One raw record -> (Trajectory, format); raises MalformedRecord with the reason it is counted under."""
    if isinstance(record, MalformedRecord):
        raise record
    if not isinstance(record, dict):
        raise MalformedRecord("not_an_object", f"got {type(record).__name__}")
    fmt = detect_format(record) if format == "auto" else format
    if fmt not in _PARSERS:
        raise ValueError(f"unknown trajectory format {format!r}; expected one of {FORMATS}")
    try:
        traj = _PARSERS[fmt](record)
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise MalformedRecord("bad_structure", f"{type(exc).__name__}: {exc}") from None
    if not any(m.role == "user" for m in traj.messages):
        raise MalformedRecord("no_user_turn", "no user message")
    if not any(m.role == "assistant" for m in traj.messages):
        raise MalformedRecord("no_assistant_turn", "no assistant message")
    return traj, fmt


def load_trajectories(
    source: Any, format: str = "auto", strict: bool = False
) -> tuple[list[Trajectory], LoadReport]:
    """Reads every record of `source`; malformed ones are counted by reason, or raise at once with
    `strict`."""
    if format not in FORMATS:
        raise ValueError(f"unknown trajectory format {format!r}; expected one of {FORMATS}")
    report, out = LoadReport(), []
    for index, record in enumerate(_as_iterable(source)):
        report.records_in += 1
        try:
            traj, fmt = parse_record(record, format)
        except MalformedRecord as exc:
            if strict:
                raise MalformedRecord(exc.reason, exc.detail, index) from None
            report.dropped[exc.reason] += 1
            continue
        if not traj.id:
            traj.id = f"record{index}"
        report.formats[fmt] += 1
        report.assistant_turns += sum(m.role == "assistant" for m in traj.messages)
        out.append(traj)
    report.trajectories_out = len(out)
    return out, report


def _as_iterable(source: Any) -> Iterable[Any]:
    return iter_records(source)
