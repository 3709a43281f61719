"""Pure-Python twin of csrc/toolcall.cpp: the readable specification of the parser and its fallback.

    from tl_fast.reward._py_parse import parse
    parse("[get_weather(city='Paris')]", "auto")  # -> [RawCall(name, arguments, positional, span)]

Python syntax goes through `ast.parse` (never `eval`); a node outside the literal subset is an error.
JSON goes through `json` with the same limits as the C++ core. Errors raise `Fail(offset, reason)` with a
byte offset; tests hold this module and the native core equal on the same inputs.
"""

from __future__ import annotations

import ast
import json
import warnings
from typing import Any, NamedTuple

MAX_INPUT_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_CALLS = 256
_INT_MAX = 2**63 - 1
_SPACE = " \t\n\r\f\v"
_JSON_SPACE = " \t\n\r"
_FIXED_SPECIAL = {"</s>", "<eos>", "<end_of_turn>", "<eot>", "<end_of_text>"}


class Fail(Exception):
    def __init__(self, offset: int, reason: str):
        super().__init__(f"{reason} at byte {offset}")
        self.offset = offset
        self.reason = reason


class RawCall(NamedTuple):
    name: str
    arguments: dict[str, Any]
    positional: list[Any]
    span: tuple[int, int]


class _Text:
    """The input with char -> UTF-8 byte offset conversion (the API reports byte offsets)."""

    def __init__(self, s: str):
        self.s = s
        self._bytes = [0]
        for ch in s:
            self._bytes.append(self._bytes[-1] + len(ch.encode("utf-8", "surrogatepass")))

    def b(self, i: int) -> int:
        return self._bytes[i]


def parse(text: str, fmt: str = "auto") -> list[RawCall]:
    if fmt not in ("auto", "python", "json", "tool_call", "react"):
        raise ValueError(f"unknown format {fmt!r}; expected auto, python, json, tool_call or react")
    t = _Text(text)
    if t.b(len(text)) > MAX_INPUT_BYTES:
        raise Fail(0, "input longer than the limit")
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            raise Fail(t.b(i), "invalid UTF-8")
    if "\0" in text:
        raise Fail(t.b(text.index("\0")), "null byte in the input")
    b, e = _strip_special(text, 0, len(text))
    calls: list[RawCall] = []
    if fmt == "python":
        _python_calls(t, b, e, calls)
    elif fmt == "json":
        _json_calls(t, b, e, calls)
    elif fmt == "tool_call":
        _tagged(t, b, e, calls)
    elif fmt == "react":
        _react(t, b, e, calls)
    else:
        tagged = text.find("<tool_call>", b, e) >= 0
        if not tagged and _find_line_key(text, b, e, "Action:") < 0:
            _plain(t, b, e, calls)
            return calls
        try:  # a plain call or JSON that parses wins: "<tool_call>" or "Action:" inside its strings is text
            _plain(t, b, e, calls)
            return calls
        except Fail:
            calls.clear()
        (_tagged if tagged else _react)(t, b, e, calls)
    return calls


# ---- formats ---------------------------------------------------------------------------------------


def _is_special(tok: str) -> bool:
    if tok in _FIXED_SPECIAL:
        return True
    if len(tok) < 4 or not tok.startswith("<|") or not tok.endswith("|>"):
        return False
    return not any(c in _SPACE or c in "<>" for c in tok[2:-2])


def _strip_special(s: str, b: int, e: int) -> tuple[int, int]:
    changed = True
    while changed:
        changed = False
        while b < e and s[b] in _SPACE:
            b += 1
        while e > b and s[e - 1] in _SPACE:
            e -= 1
        if e > b and s[e - 1] == ">":
            lt = s.rfind("<", 0, e)
            if lt >= b and _is_special(s[lt:e]):
                e, changed = lt, True
        if e > b and s[b] == "<":
            gt = s.find(">", b, e)
            if gt >= 0 and _is_special(s[b : gt + 1]):
                b, changed = gt + 1, True
    return b, e


def _add(calls: list[RawCall], call: RawCall) -> None:
    if len(calls) >= MAX_CALLS:
        raise Fail(call.span[0], "more calls than the limit")
    calls.append(call)


def _id_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_") or not c.isascii()


def _plain(t: _Text, b: int, e: int, calls: list[RawCall]) -> None:
    s = t.s
    fence = _find_line_key(s, b, e, "```")
    if fence >= 0:  # the body of the first code fence opening a line; an optional language tag is skipped
        p = q = fence + 3
        while q < e and _id_char(s[q]):
            q += 1
        if q == e or s[q] in "\n\r ":
            p = q
        close = s.find("```", p, e)
        b, e = p, (e if close < 0 else close)
    while b < e and s[b] in _SPACE:
        b += 1
    while e > b and s[e - 1] in _SPACE:
        e -= 1
    if b == e:
        raise Fail(t.b(b), "no tool call found")
    if _starts_json(s, b, e):
        _json_calls(t, b, e, calls)
    else:
        _python_calls(t, b, e, calls)


def _starts_json(s: str, b: int, e: int) -> bool:
    while b < e and s[b] in _SPACE:
        b += 1
    if b < e and s[b] == "{":
        return True
    if b < e and s[b] == "[":
        n = b + 1
        while n < e and s[n] in _SPACE:
            n += 1
        return n < e and s[n] == "{"
    return False


def _tagged(t: _Text, b: int, e: int, calls: list[RawCall]) -> None:
    s = t.s
    start = s.find("<tool_call>", b, e)
    if start < 0:
        raise Fail(t.b(b), "no <tool_call> block found")
    while start >= 0:
        body = start + len("<tool_call>")
        close = s.find("</tool_call>", body, e)
        _plain(t, body, e if close < 0 else close, calls)
        if close < 0:
            break
        start = s.find("<tool_call>", close + len("</tool_call>"), e)


def _find_line_key(s: str, b: int, e: int, key: str) -> int:
    p = s.find(key, b, e)
    while p >= 0:
        q = p
        while q > b and s[q - 1] in " \t":
            q -= 1
        if q == 0 or q == b or s[q - 1] in "\n\r":
            return p
        p = s.find(key, p + 1, e)
    return -1


def _react(t: _Text, b: int, e: int, calls: list[RawCall]) -> None:
    s = t.s
    action = _find_line_key(s, b, e, "Action:")
    if action < 0:
        raise Fail(t.b(b), "no 'Action:' line found")
    while action >= 0:
        nxt = _find_line_key(s, action + 7, e, "Action:")
        block_end = e if nxt < 0 else nxt
        name_e = action + 7
        while name_e < block_end and s[name_e] not in "\n\r":
            name_e += 1
        name = s[action + 7 : name_e].strip(_SPACE)
        if not name:
            raise Fail(t.b(action), "empty tool name after 'Action:'")
        name_e = action + 7 + len(s[action + 7 : name_e].rstrip(_SPACE))
        inp = _find_line_key(s, name_e, block_end, "Action Input:")
        if inp < 0:
            raise Fail(t.b(action), "'Action:' without 'Action Input:'")
        arg_b = inp + 13
        while arg_b < block_end and s[arg_b] in _SPACE:
            arg_b += 1
        arg_e = block_end
        for stop in ("Observation:", "Thought:", "```"):  # ``` closes a fenced answer
            p = _find_line_key(s, arg_b, arg_e, stop)
            if p >= 0:
                arg_e = p
        while arg_e > arg_b and s[arg_e - 1] in _SPACE:
            arg_e -= 1
        args, end = _json_value(t, arg_b, arg_e)
        rest = end
        while rest < arg_e and s[rest] in _SPACE:
            rest += 1
        if rest != arg_e:
            raise Fail(t.b(end), "text after the Action Input JSON")
        if not isinstance(args, dict):
            raise Fail(t.b(arg_b), "Action Input must be a JSON object")
        _add(calls, RawCall(name, args, [], (t.b(action), t.b(end))))
        action = nxt


# ---- JSON --------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _check_json(v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("JSON nested deeper than the limit")
    if isinstance(v, bool) or v is None or isinstance(v, float):
        return v
    if isinstance(v, int):
        if not -(2**63) <= v <= _INT_MAX:
            raise ValueError("JSON integer outside the 64-bit range")
        return v
    if isinstance(v, str):
        if any("\ud800" <= c <= "\udfff" for c in v):
            raise ValueError("lone surrogate in a JSON string")
        return v
    if isinstance(v, list):
        for item in v:
            _check_json(item, depth + 1)
        return v
    for k, item in v.items():
        _check_json(k, depth + 1)
        _check_json(item, depth + 1)
    return v


def _json_depth_ok(s: str, b: int, e: int) -> bool:
    """Bracket depth outside strings stays within MAX_DEPTH + 1 (json's recursion would go far deeper)."""
    depth, i, in_str = 0, b, False
    while i < e:
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


def _json_value(t: _Text, b: int, e: int) -> tuple[Any, int]:
    s = t.s
    while b < e and s[b] in _JSON_SPACE:
        b += 1
    if not _json_depth_ok(s, b, e):
        raise Fail(t.b(b), "JSON nested deeper than the limit")
    try:
        value, end = _DECODER.raw_decode(s[:e], b)
        _check_json(value)
    except json.JSONDecodeError as exc:
        raise Fail(t.b(min(exc.pos, e)), "invalid JSON") from None
    except (ValueError, RecursionError) as exc:
        raise Fail(t.b(b), str(exc) or "invalid JSON") from None
    return value, end


def _call_from_json(t: _Text, v: Any, begin: int, end: int, calls: list[RawCall]) -> None:
    obj = v
    if isinstance(obj, dict) and "name" not in obj and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name") if isinstance(obj, dict) else None
    if not isinstance(name, str):
        raise Fail(t.b(begin), 'a JSON call needs a string "name"')
    args = obj.get("arguments", obj.get("parameters"))
    if isinstance(args, str):  # OpenAI sends arguments as a JSON string
        try:
            args = _check_json(_DECODER.decode(args.strip(_JSON_SPACE)))
        except (ValueError, RecursionError):
            raise Fail(t.b(begin), '"arguments" string is not JSON') from None
    if args is not None and not isinstance(args, dict):
        raise Fail(t.b(begin), "JSON call arguments must be an object")
    _add(calls, RawCall(name, dict(args or {}), [], (t.b(begin), t.b(end))))


def _json_calls(t: _Text, b: int, e: int, calls: list[RawCall]) -> None:
    s = t.s
    while b < e and s[b] in _SPACE:
        b += 1
    if b == e:
        raise Fail(t.b(b), "no JSON call found")
    while b < e:
        start = b
        value, b = _json_value(t, b, e)
        for item in value if isinstance(value, list) else [value]:
            _call_from_json(t, item, start, b, calls)
        while b < e and s[b] in _SPACE:
            b += 1


# ---- Python-call syntax -------------------------------------------------------------------------------


def _split_statements(t: _Text, b: int, e: int) -> list[tuple[int, int]]:
    """[b, e) cut at newlines and ';' outside brackets and strings (what the C++ parser treats as
    statement ends); also enforces the bracket-depth limit and rejects \\N{...} escapes."""
    s = t.s
    segments, start, depth, i = [], b, 0, b
    while i < e:
        c = s[i]
        if c == "#":
            while i < e and s[i] not in "\n\r":
                i += 1
            continue
        if c == "\\" and i + 1 < e and s[i + 1] in "\n\r":
            i += 2
            continue
        if c in "'\"":
            j = i - 1
            raw = False
            while j >= b and _id_char(s[j]) and i - j <= 2:
                raw = raw or s[j] in "rR"
                j -= 1
            quote = s[i : i + 3] if s[i : i + 3] in ("'''", '"""') else c
            i += len(quote)
            while i < e and not s.startswith(quote, i):
                if s[i] == "\\":
                    if not raw and s[i + 1 : i + 2] == "N":
                        raise Fail(t.b(i), "\\N{...} escapes are not supported")
                    i += 1
                elif len(quote) == 1 and s[i] in "\n\r":
                    raise Fail(t.b(i), "unterminated string literal")
                i += 1
            i += len(quote)
            continue
        if c in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise Fail(t.b(i), "nesting deeper than the limit")
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and c in "\n\r;":
            segments.append((start, i))
            start = i + 1
        i += 1
    segments.append((start, e))
    return segments


def _python_calls(t: _Text, b: int, e: int, calls: list[RawCall]) -> None:
    s = t.s
    for seg_b, seg_e in _split_statements(t, b, e):
        while seg_b < seg_e and (s[seg_b] in _SPACE or s[seg_b] == "#"):  # leading blanks and comments
            if s[seg_b] == "#":
                while seg_b < seg_e and s[seg_b] not in "\n\r":
                    seg_b += 1
            else:
                seg_b += 1
        if seg_b == seg_e:
            continue
        source = s[seg_b:seg_e]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes warn, then keep the backslash (as C++ does)
                tree = ast.parse(source, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise Fail(t.b(seg_b), f"invalid Python call syntax ({getattr(exc, 'msg', exc)})") from None
        line_starts = [0]
        for k, ch in enumerate(source):
            if ch == "\n":
                line_starts.append(k + 1)
        base = t.b(seg_b)
        src_bytes = _Text(source)

        def offset(lineno: int, col: int, src_bytes=src_bytes, line_starts=line_starts, base=base) -> int:
            return base + src_bytes.b(line_starts[lineno - 1]) + col

        body = tree.body
        for node in body.elts if isinstance(body, ast.List) else [body]:
            _add(calls, _call_from_node(node, offset))


def _call_from_node(node: ast.expr, offset) -> RawCall:
    begin = offset(node.lineno, node.col_offset)
    name = _dotted(node.func) if isinstance(node, ast.Call) else None
    if name is None:
        raise Fail(begin, "expected a call like name(arg=value)")
    seen = set()
    for kw in node.keywords:
        if kw.arg is None:
            raise Fail(begin, "starred arguments are not supported")
        if kw.arg in seen:  # ast.parse accepts it; Python's compiler (and we) do not
            raise Fail(offset(kw.value.lineno, kw.value.col_offset), "keyword argument repeated")
        seen.add(kw.arg)
    positional = [_literal(a, offset) for a in node.args]
    arguments = {kw.arg: _literal(kw.value, offset) for kw in node.keywords}
    return RawCall(name, arguments, positional, (begin, offset(node.end_lineno, node.end_col_offset)))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _literal(node: ast.expr, offset, depth: int = 0) -> Any:
    """The literal subset: constants, signed numbers, lists, tuples, dicts; true/false/null as names."""

    def fail(reason: str):
        raise Fail(offset(node.lineno, node.col_offset), reason)

    if depth > MAX_DEPTH:
        fail("nesting deeper than the limit")
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str):
            if any("\ud800" <= c <= "\udfff" for c in v):
                fail("lone surrogate escape")
            return v
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return v
        if isinstance(v, int):
            if v > _INT_MAX:
                fail("integer literal too large")
            return v
        fail("bytes, complex and '...' are not supported")
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[node.id]
        fail("a bare name is not a value (quote strings)")
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            fail("operators are not evaluated")
        if not isinstance(node.operand, (ast.Constant, ast.UnaryOp)):
            fail("a sign applies to numbers only")
        v = _literal(node.operand, offset, depth + 1)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail("a sign applies to numbers only")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.List):
        return [_literal(x, offset, depth + 1) for x in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(x, offset, depth + 1) for x in node.elts)
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                fail("unpacking in a dict or set is not supported")
            key = _literal(k, offset, depth + 1)
            if isinstance(key, (list, dict)) or (isinstance(key, tuple) and not _hashable(key)):
                raise Fail(offset(k.lineno, k.col_offset), "unhashable dict key")
            out[key] = _literal(v, offset, depth + 1)
        return out
    if isinstance(node, ast.Starred):
        fail("starred elements are not supported")
    fail(f"{type(node).__name__} is not a literal value")


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True
