"""Marker formats for the Python twin (csrc/toolcall/format_tagged.cpp, format_llama.cpp, format_mistral.cpp,
format_react.cpp): Hermes / Qwen <tool_call>, Llama-3.x <|python_tag|> and <function=...>, Mistral
[TOOL_CALLS],
ReAct. Each reads [b, e) of r.t.s into r (char offsets)."""

from __future__ import annotations

from tl_fast.reward._py_json import call_from_arguments, decode, json_value, read_json_calls
from tl_fast.reward._py_parse import (
    SPACE,
    Fail,
    Reader,
    find_line_key,
    read_plain,
    skip_space,
    strip_special,
    trim_end,
)


def read_tagged(r: Reader, b: int, e: int) -> None:
    """Hermes / Qwen: `<tool_call>{json}</tool_call>` blocks, several per message; the last may be
    unclosed."""
    s = r.t.s
    start = s.find("<tool_call>", b, e)
    if start < 0:
        r.no_call_or_fail(b, e, Fail(r.t.b(b), "no <tool_call> block found"))
        return
    while start >= 0:
        body = start + len("<tool_call>")
        close = s.find("</tool_call>", body, e)
        body_end = e if close < 0 else close
        if skip_space(s, body, body_end) == body_end:
            raise Fail(r.t.b(start), "empty <tool_call> block")
        read_plain(r, body, body_end, prose_ok=False)
        if close < 0:
            break
        start = s.find("<tool_call>", close + len("</tool_call>"), e)


def _parse_json_at(r: Reader, b: int, e: int):
    """The whole of [b, e) as one JSON value (parse_json in the C++ core)."""
    try:
        return decode(r.t.s[b:e])
    except ValueError:
        raise Fail(r.t.b(b), "invalid JSON") from None


def _function_blocks(r: Reader, start: int, e: int) -> None:
    s = r.t.s
    while start >= 0:
        name_b = start + len("<function=")
        gt = s.find(">", name_b, e)
        if gt < 0:
            raise Fail(r.t.b(start), "<function= without '>'")
        close = s.find("</function>", gt + 1, e)
        body_e = e if close < 0 else close
        name_e = trim_end(s, name_b, gt)
        if skip_space(s, name_b, name_e) != name_b or name_b == name_e:
            raise Fail(r.t.b(start), "empty or spaced name in <function=...>")
        args_b = skip_space(s, gt + 1, body_e)
        args = _parse_json_at(r, args_b, trim_end(s, args_b, body_e))
        end = e if close < 0 else close + len("</function>")
        call_from_arguments(r, s[name_b:name_e], args, start, end)
        if close < 0:
            break
        start = s.find("<function=", end, e)


def read_llama(r: Reader, b: int, e: int) -> None:
    """Llama 3.x: `<|python_tag|>` then JSON objects (';'-separated) or Python calls; `<function=name>{json}`
    blocks; else the plain JSON / pythonic forms."""
    s = r.t.s
    start = s.find("<function=", b, e)
    if start >= 0:
        _function_blocks(r, start, e)
        return
    tag = s.find("<|python_tag|>", b, e)
    if tag < 0:
        read_plain(r, b, e)
        return
    while tag >= 0:
        nxt = s.find("<|python_tag|>", tag + len("<|python_tag|>"), e)
        body_b, body_e = strip_special(s, tag + len("<|python_tag|>"), e if nxt < 0 else nxt)
        if body_b == body_e:
            raise Fail(r.t.b(tag), "nothing after <|python_tag|>")
        read_plain(r, body_b, body_e, prose_ok=False)
        tag = nxt


def _named_call(r: Reader, b: int, e: int) -> None:
    """Mistral v11+: `name{json}`, `name[ARGS]{json}`, `name[CALL_ID]id[ARGS]{json}`."""
    s = r.t.s
    q = b
    while q < e and s[q] not in "{[" and s[q] not in SPACE:
        q += 1
    if q == b:
        raise Fail(r.t.b(b), "expected a tool name after [TOOL_CALLS]")
    name = s[b:q]
    q = skip_space(s, q, e)
    if s.startswith("[CALL_ID]", q, e):
        args_at = s.find("[ARGS]", q, e)
        if args_at < 0:
            raise Fail(r.t.b(q), "[CALL_ID] without [ARGS]")
        q = args_at
    if s.startswith("[ARGS]", q, e):
        q = skip_space(s, q + len("[ARGS]"), e)
    call_from_arguments(r, name, _parse_json_at(r, q, e), b, e)


def read_mistral(r: Reader, b: int, e: int) -> None:
    """Mistral: `[TOOL_CALLS] [{"name", "arguments"}, ...]` (v2/v3) or one `[TOOL_CALLS]name{json}` per
    call."""
    s = r.t.s
    marker = s.find("[TOOL_CALLS]", b, e)
    if marker < 0:
        r.no_call_or_fail(b, e, Fail(r.t.b(b), "no [TOOL_CALLS] found"))
        return
    while marker >= 0:
        nxt = s.find("[TOOL_CALLS]", marker + len("[TOOL_CALLS]"), e)
        seg_end = e if nxt < 0 else nxt
        seg_b = skip_space(s, marker + len("[TOOL_CALLS]"), seg_end)
        seg_e = trim_end(s, seg_b, seg_end)
        if seg_b == seg_e:
            raise Fail(r.t.b(marker), "nothing after [TOOL_CALLS]")
        if s[seg_b] in "[{":
            read_json_calls(r, seg_b, seg_e)
        else:
            _named_call(r, seg_b, seg_e)
        marker = nxt


def read_react(r: Reader, b: int, e: int) -> None:
    """ReAct: `Action: name` then `Action Input: {json}` (up to `Observation:` / `Thought:` or the next
    action)."""
    s = r.t.s
    action = find_line_key(s, b, e, "Action:")
    if action < 0:
        r.no_call_or_fail(b, e, Fail(r.t.b(b), "no 'Action:' line found"))
        return
    while action >= 0:
        nxt = find_line_key(s, action + 7, e, "Action:")
        block_end = e if nxt < 0 else nxt
        name_e = action + 7
        while name_e < block_end and s[name_e] not in "\n\r":
            name_e += 1
        name_b = skip_space(s, action + 7, name_e)
        name_e = trim_end(s, name_b, name_e)
        if name_b == name_e:
            raise Fail(r.t.b(action), "empty tool name after 'Action:'")
        inp = find_line_key(s, name_e, block_end, "Action Input:")
        if inp < 0:
            raise Fail(r.t.b(action), "'Action:' without 'Action Input:'")
        arg_b = skip_space(s, inp + 13, block_end)
        arg_e = block_end
        for stop in ("Observation:", "Thought:", "```"):  # ``` closes a fenced answer
            p = find_line_key(s, arg_b, arg_e, stop)
            if p >= 0:
                arg_e = p
        arg_e = trim_end(s, arg_b, arg_e)
        args, end = json_value(r.t, s[:arg_e], arg_b, arg_e)
        if skip_space(s, end, arg_e) != arg_e:
            raise Fail(r.t.b(end), "text after the Action Input JSON")
        if not isinstance(args, dict):
            raise Fail(r.t.b(arg_b), "Action Input must be a JSON object")
        call_from_arguments(r, s[name_b:name_e], args, action, end)
        action = nxt
