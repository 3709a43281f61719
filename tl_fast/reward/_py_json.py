"""JSON calls for the Python twin (csrc/toolcall/format_json.cpp, json.cpp): JSON values with the C++ core's
limits,
call objects (the one reader of them), OpenAI chat-completions messages and responses."""

from __future__ import annotations

import json
from typing import Any

from tl_fast.reward._py_parse import (
    MAX_DEPTH,
    Fail,
    Reader,
    Text,
    has_surrogate,
    read_auto,
    skip_space,
    strip_special,
)

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_JSON_SPACE = " \t\n\r"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def check_json(v: Any, depth: int = 0) -> Any:
    """The C++ core's limits on a decoded value: nesting, 64-bit integers, no lone surrogates."""
    if depth > MAX_DEPTH:
        raise ValueError("JSON nested deeper than the limit")
    if isinstance(v, bool) or v is None or isinstance(v, float):
        return v
    if isinstance(v, int):
        if not _INT_MIN <= v <= _INT_MAX:
            raise ValueError("JSON integer outside the 64-bit range")
        return v
    if isinstance(v, str):
        if has_surrogate(v):
            raise ValueError("lone surrogate in a JSON string")
        return v
    if isinstance(v, list):
        for item in v:
            check_json(item, depth + 1)
        return v
    for k, item in v.items():
        check_json(k, depth + 1)
        check_json(item, depth + 1)
    return v


def _depth_ok(s: str, b: int, e: int) -> bool:
    """Bracket depth outside strings stays within MAX_DEPTH + 1 (json's recursion would go far deeper), over
    the
    value starting at b (the scan stops where it closes, so reading many values stays linear)."""
    depth, i, in_str = 0, b, False
    if b >= e or s[b] not in "[{":
        return True
    while i < e and (depth > 0 or i == b):
        c = s[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH + 1:
                return False
        elif c in "]}":
            depth -= 1
        i += 1
    return True


def decode(s: str) -> Any:
    """json.loads of a whole string (surrounding JSON whitespace allowed) within the limits; ValueError
    else."""
    try:
        return check_json(_DECODER.decode(s))
    except RecursionError:
        raise ValueError("JSON nested deeper than the limit") from None


def json_value(t: Text, prefix: str, b: int, e: int) -> tuple[Any, int]:
    """One JSON value at b (JSON whitespace skipped) within prefix = t.s[:e]; (value, end)."""
    while b < e and prefix[b] in _JSON_SPACE:
        b += 1
    if not _depth_ok(prefix, b, e):
        raise Fail(t.b(b), "JSON nested deeper than the limit")
    try:
        value, end = _DECODER.raw_decode(prefix, b)
        check_json(value)
    except json.JSONDecodeError as exc:
        raise Fail(t.b(min(exc.pos, e)), "invalid JSON") from None
    except (ValueError, RecursionError) as exc:
        raise Fail(t.b(b), str(exc) or "invalid JSON") from None
    return value, end


def call_object(v: Any) -> tuple[str, dict]:
    """(name, arguments) of {"name", "arguments" | "parameters"} with the arguments an object, a JSON string
    of
    one, or null; OpenAI's {"type": "function", "function": {...}} is unwrapped. ValueError(reason)
    otherwise."""
    if not isinstance(v, dict):
        raise ValueError("a JSON call must be an object")
    obj = v
    if "name" not in obj and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str):
        raise ValueError('a JSON call needs a string "name"')
    args = obj["arguments"] if "arguments" in obj else obj.get("parameters")
    if isinstance(args, str):  # OpenAI sends arguments as a JSON string
        try:
            args = decode(args)
        except ValueError:
            raise ValueError('"arguments" string is not JSON') from None
    if args is None:
        return name, {}
    if not isinstance(args, dict):
        raise ValueError("JSON call arguments must be an object")
    if not all(isinstance(k, str) for k in args):
        raise ValueError("argument names must be strings")
    return name, dict(args)


def call_from_arguments(r: Reader, name: str, args: Any, begin: int, end: int) -> None:
    """A call whose name was read elsewhere (ReAct, Mistral, Llama <function=...>) and its JSON arguments."""
    if not isinstance(args, dict):
        raise Fail(r.t.b(begin), "call arguments must be a JSON object")
    r.add(name, dict(args), [], begin, end)


def _add_call_object(r: Reader, v: Any, begin: int, end: int) -> None:
    try:
        name, args = call_object(v)
    except ValueError as exc:
        raise Fail(r.t.b(begin), str(exc)) from None
    r.add(name, args, [], begin, end)


def _message_calls(r: Reader, m: dict, begin: int, end: int) -> None:
    """An assistant message: its tool_calls, else a legacy function_call, else the calls in its text
    content."""
    tc = m.get("tool_calls")
    if tc is not None:
        if not isinstance(tc, list):
            raise Fail(r.t.b(begin), '"tool_calls" must be a list')
        if tc:
            for item in tc:
                _add_call_object(r, item, begin, end)
            return
    if isinstance(m.get("function_call"), dict):
        _add_call_object(r, m["function_call"], begin, end)
        return
    content = m.get("content")
    if not isinstance(content, str) or r.depth > 0:
        return
    inner = Reader(
        Text(content), r.depth + 1
    )  # a model served without a tool parser leaves calls in the text
    try:
        read_auto(inner, *strip_special(content, 0, len(content)))
    except Fail as exc:
        raise Fail(r.t.b(begin), f"message content: {exc.reason}") from None
    for call in inner.calls:
        r.add(call.name, call.arguments, call.positional, begin, end)


def _item_calls(r: Reader, v: Any, begin: int, end: int) -> None:
    if isinstance(v, dict) and "choices" in v:  # a chat-completions response: its first choice
        choices = v["choices"]
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            raise Fail(r.t.b(begin), 'a response needs "choices": [{"message": {...}}]')
        _message_calls(r, message, begin, end)
    elif isinstance(v, dict) and ("tool_calls" in v or "function_call" in v or "role" in v):
        _message_calls(r, v, begin, end)
    else:
        _add_call_object(r, v, begin, end)


def read_json_calls(r: Reader, b: int, e: int) -> None:
    """JSON values separated by whitespace or ';' (Llama-3.x), each a call, a list of calls, a message or a
    response."""
    s = r.t.s
    prefix = s[:e]
    pos = skip_space(s, b, e)
    if pos == e:
        raise Fail(r.t.b(pos), "no JSON call found")
    while pos < e:
        start = pos
        value, pos = json_value(r.t, prefix, pos, e)
        for item in value if isinstance(value, list) else [value]:
            _item_calls(r, item, start, pos)
        pos = skip_space(s, pos, e)
        if pos < e and s[pos] == ";":
            pos = skip_space(s, pos + 1, e)
