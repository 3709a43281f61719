"""Pure-Python twin of the C++ parser (csrc/toolcall/): the readable specification and the fallback.

    from tl_fast.reward._py_parse import parse
    parse("[get_weather(city='Paris')]", "auto")  # -> [RawCall(name, arguments, positional, span)]

This module: input checks, format detection and the text helpers the readers share. The readers live beside
it: _py_pycalls.py (Python-call syntax, through `ast.parse`, never `eval`), _py_json.py (JSON calls, call
objects, OpenAI messages and responses), _py_formats.py (Hermes <tool_call>, Llama, Mistral, ReAct). Errors
raise `Fail(offset, reason)` with a UTF-8 byte offset; tests hold this twin and the native core equal.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, NamedTuple

MAX_INPUT_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_CALLS = 256
SPACE = " \t\n\r\f\v"
# Format names -> readers; "openai" and "hermes" name the JSON and <tool_call> readers too.
FORMATS = {
    "auto": "auto",
    "python": "python",
    "json": "json",
    "openai": "json",
    "tool_call": "tagged",
    "hermes": "tagged",
    "llama": "llama",
    "mistral": "mistral",
    "react": "react",
}
_FIXED_SPECIAL = {"</s>", "<eos>", "<end_of_turn>", "<eot>", "<end_of_text>"}
_SURROGATE = re.compile("[\ud800-\udfff]")


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


class Text:
    """The input and its char -> UTF-8 byte offsets (the API reports byte offsets), built on first need."""

    def __init__(self, s: str):
        self.s = s
        self._ascii = s.isascii()
        self._bytes: list[int] | None = None

    def b(self, i: int) -> int:
        if self._ascii:
            return i
        if self._bytes is None:
            sizes = (1 if c < "\x80" else 2 if c < "\u0800" else 3 if c < "\U00010000" else 4 for c in self.s)
            self._bytes = list(accumulate(sizes, initial=0))
        return self._bytes[i]


class Reader:
    """The calls read so far from one text; depth > 0 while reading a chat message's content string."""

    def __init__(self, t: Text, depth: int = 0):
        self.t = t
        self.calls: list[RawCall] = []
        self.depth = depth

    def add(self, name: str, arguments: dict, positional: list, begin: int, end: int) -> None:
        """One call; begin / end are char offsets into the text."""
        if len(self.calls) >= MAX_CALLS:
            raise Fail(self.t.b(begin), "more calls than the limit")
        self.calls.append(RawCall(name, arguments, positional, (self.t.b(begin), self.t.b(end))))

    def add_bytes(self, name: str, arguments: dict, positional: list, span: tuple[int, int]) -> None:
        """One call whose span is already in byte offsets."""
        if len(self.calls) >= MAX_CALLS:
            raise Fail(span[0], "more calls than the limit")
        self.calls.append(RawCall(name, arguments, positional, span))

    def no_call_or_fail(self, b: int, e: int, error: Fail) -> None:
        """No reader found a call: "no call" when [b, e) is prose, else the error."""
        if not is_prose(self.t.s, b, e):
            raise error
        self.calls.clear()


def has_surrogate(s: str) -> bool:
    return _SURROGATE.search(s) is not None


def check_input(text: str) -> Fail | None:
    """The checks every entry point makes first (size, UTF-8, NUL), in the C++ core's order."""
    if len(text) > MAX_INPUT_BYTES:  # every character takes at least a byte: no encoding needed to reject
        return Fail(0, "input longer than the limit")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        return Fail(0, "input longer than the limit")
    m = _SURROGATE.search(text)
    if m:
        return Fail(len(text[: m.start()].encode("utf-8", "surrogatepass")), "invalid UTF-8")
    nul = text.find("\0")
    if nul >= 0:
        return Fail(len(text[:nul].encode()), "null byte in the input")
    return None


def parse(text: str, fmt: str = "auto") -> list[RawCall]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    error = check_input(text)
    if error is not None:
        raise error
    r = Reader(Text(text))
    b, e = strip_special(text, 0, len(text))
    dispatch(r, FORMATS[fmt], b, e)
    return r.calls


def dispatch(r: Reader, reader: str, b: int, e: int) -> None:
    from tl_fast.reward import _py_formats as formats

    if reader == "auto":
        read_auto(r, b, e)
    elif reader in ("python", "json"):
        read_plain(r, b, e, only=reader)
    else:
        {"tagged": formats.read_tagged, "llama": formats.read_llama, "mistral": formats.read_mistral}.get(
            reader, formats.read_react
        )(r, b, e)


def first_marker(s: str, b: int, e: int) -> str | None:
    """The reader of the first format marker in [b, e), or None."""
    found = [
        (s.find("<tool_call>", b, e), "tagged"),
        (s.find("[TOOL_CALLS]", b, e), "mistral"),
        (s.find("<|python_tag|>", b, e), "llama"),
        (s.find("<function=", b, e), "llama"),
        (find_line_key(s, b, e, "Action:"), "react"),
    ]
    at = [(p, name) for p, name in found if p >= 0]
    return min(at)[1] if at else None


def read_auto(r: Reader, b: int, e: int) -> None:
    marked = first_marker(r.t.s, b, e)
    if marked is None:
        read_plain(r, b, e)
        return
    trial = Reader(r.t, r.depth)  # a plain call or JSON that parses wins: a marker inside its strings is text
    try:
        read_plain(trial, b, e)
    except Fail:
        trial.calls = []
    if trial.calls:
        r.calls[:] = trial.calls
        return
    dispatch(r, marked, b, e)


def read_plain(r: Reader, b: int, e: int, only: str = "any", prose_ok: bool = True) -> None:
    """The body of the first code fence (if any), read as JSON calls when it starts with '{' or '[{' (or
    `only`
    says so), else as Python calls; prose is no call when `prose_ok`."""
    from tl_fast.reward import _py_json, _py_pycalls

    s = r.t.s
    fence = find_line_key(s, b, e, "```")
    if fence >= 0:  # an optional language tag is skipped
        p = q = fence + 3
        while q < e and id_char(s[q]):
            q += 1
        if q == e or s[q] in "\n\r ":
            p = q
        close = s.find("```", p, e)
        b, e = p, (e if close < 0 else close)
    b, e = skip_space(s, b, e), trim_end(s, b, e)
    if b >= e:
        if not prose_ok:
            raise Fail(r.t.b(b), "no tool call found")
        return
    json = only == "json" or (only == "any" and starts_json(s, b, e))
    try:
        (_py_json.read_json_calls if json else _py_pycalls.read_python_calls)(r, b, e)
    except Fail as error:
        if not prose_ok:
            raise
        r.no_call_or_fail(b, e, error)


# ---- text helpers ------------------------------------------------------------------------------------------


def id_start(c: str) -> bool:
    """A character a name may be scanned from (as the C++ lexer's bytes): ASCII letter, '_', or non-ASCII."""
    return c.isascii() and (c.isalpha() or c == "_") or not c.isascii()


def id_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_") or not c.isascii()


def skip_space(s: str, b: int, e: int) -> int:
    while b < e and s[b] in SPACE:
        b += 1
    return b


def trim_end(s: str, b: int, e: int) -> int:
    while e > b and s[e - 1] in SPACE:
        e -= 1
    return e


def starts_json(s: str, b: int, e: int) -> bool:
    b = skip_space(s, b, e)
    if b < e and s[b] == "{":
        return True
    if b < e and s[b] == "[":
        n = skip_space(s, b + 1, e)
        return n < e and s[n] == "{"
    return False


def find_line_key(s: str, b: int, e: int, key: str) -> int:
    """Start of the first line in [b, e) that begins with `key` after optional spaces/tabs, or -1."""
    p = s.find(key, b, e)
    while p >= 0:
        q = p
        while q > b and s[q - 1] in " \t":
            q -= 1
        if q == 0 or q == b or s[q - 1] in "\n\r":
            return p
        p = s.find(key, p + 1, e)
    return -1


def _is_special(tok: str) -> bool:
    if tok == "<|python_tag|>":  # not stripped: it marks a Llama tool call (_py_formats.read_llama)
        return False
    if tok in _FIXED_SPECIAL:
        return True
    if len(tok) < 4 or not tok.startswith("<|") or not tok.endswith("|>"):
        return False
    return not any(c in SPACE or c in "<>" for c in tok[2:-2])


def strip_special(s: str, b: int, e: int) -> tuple[int, int]:
    """Whitespace and chat special tokens (<|eot_id|>, <end_of_turn>, </s>, ...) stripped at both ends."""
    changed = True
    while changed:
        changed = False
        b, e = skip_space(s, b, e), trim_end(s, b, e)
        if e > b and s[e - 1] == ">":
            lt = s.rfind("<", 0, e)
            if lt >= b and _is_special(s[lt:e]):
                e, changed = lt, True
        if e > b and s[b] == "<":
            gt = s.find(">", b, e)
            if gt >= 0 and _is_special(s[b : gt + 1]):
                b, changed = gt + 1, True
    return b, e


def is_prose(s: str, b: int, e: int) -> bool:
    """No line of [b, e) starts (after blanks) with '[', '{' or a call head `name(` / `a.b(`: text that holds
    no
    call attempt (prose, an empty answer) is "no call" rather than a malformed call."""
    p = b
    while p < e:
        while p < e and s[p] in " \t\f\v":
            p += 1
        if p < e and s[p] in "[{":
            return False
        q = p
        while q < e and id_start(s[q]):
            q += 1
            while q < e and id_char(s[q]):
                q += 1
            if q < e and s[q] == "(":
                return False
            if q + 1 < e and s[q] == "." and id_start(s[q + 1]):
                q += 1
            else:
                break
        while p < e and s[p] not in "\n\r":
            p += 1
        while p < e and s[p] in "\n\r":
            p += 1
    return True
