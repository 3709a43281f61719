"""Parse a model's tool call(s) without evaluating anything.

    from tl_fast.reward import parse_tool_calls
    [call] = parse_tool_calls("[get_weather(city='Paris', days=3)]")
    call.name, call.arguments, call.span        # 'get_weather', {'city': 'Paris', 'days': 3}, (1, 34)

Formats (format="auto" detects them, or force one): Python-call syntax ("python": `f(a=1)`, dotted names,
positional arguments, nested lists/dicts/tuples, signed numbers, single/double/triple-quoted strings with
escapes, JSON's true/false/null inside calls; several calls as `[f(), g()]` or one per line / `;`), JSON
("json": {"name", "arguments" | "parameters"}, lists of them, OpenAI's {"function": {...}}),
`<tool_call>...</tool_call>` blocks ("tool_call"), ReAct ("react": `Action: name` + `Action Input: {json}`).
Code fences (with or without a language tag) and chat special tokens at either end are stripped; a text that
parses as a plain call is one, even when a string in it holds "<tool_call>" or "Action:".

Bad input raises ParseError (a ValueError) with a byte offset and a reason; nothing else escapes. Limits:
inputs over 1 MiB, nesting deeper than 64, more than 256 calls, integers outside 64 bits are errors.
The C++ core (csrc/toolcall.cpp) serves the calls; the pure-Python twin (_py_parse.py) is the fallback and
the specification, selected with backend="python".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tl_fast._native_glue import native_module
from tl_fast.reward import _py_parse

FORMATS = ("auto", "python", "json", "tool_call", "react")


class ParseError(ValueError):
    """The text holds no readable tool call: `offset` is a byte offset into the UTF-8 input."""

    def __init__(self, offset: int, reason: str):
        super().__init__(f"{reason} (at byte {offset})")
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True)
class ToolCall:
    """One call: keyword `arguments` and `positional` arguments as Python values, `span` = byte offsets."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    positional: list[Any] = field(default_factory=list)
    span: tuple[int, int] = (0, 0)

    def bind(self, schema_param_names: list[str]) -> dict[str, Any]:
        """Keyword arguments with the positional ones named after the schema's parameters, in order."""
        if len(self.positional) > len(schema_param_names):
            raise ValueError(
                f"{self.name}: {len(self.positional)} positional arguments "
                f"for {len(schema_param_names)} parameters"
            )
        bound = dict(zip(schema_param_names, self.positional, strict=False))
        for key, value in self.arguments.items():
            if key in bound:
                raise ValueError(f"{self.name}: parameter {key!r} given by position and by keyword")
            bound[key] = value
        return bound


def parse_tool_calls(text: str, format: str = "auto", *, backend: str = "native") -> list[ToolCall]:
    """All tool calls in `text` (in order); raises ParseError on text that is not a call (an empty list
    such as "[]" or a bare comment gives []).

    backend: "native" (the C++ core; falls back to Python, warning once, where it is not built) or "python".
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if backend not in ("native", "python"):
        raise ValueError(f"unknown backend {backend!r}; expected 'native' or 'python'")
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    native = native_module() if backend == "native" else None
    if native is not None:
        ok, calls, reason = native.parse_tool_calls(text, format)
        if not ok:
            raise ParseError(calls, reason)
        return [ToolCall(name, args, positional, tuple(span)) for name, args, positional, span in calls]
    try:
        raw = _py_parse.parse(text, format)
    except _py_parse.Fail as exc:
        raise ParseError(exc.offset, exc.reason) from None
    return [ToolCall(c.name, c.arguments, c.positional, c.span) for c in raw]
