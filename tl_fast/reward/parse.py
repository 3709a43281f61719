"""Parse a model's tool call(s) without evaluating anything.

    from tl_fast.reward import parse_tool_calls
    [call] = parse_tool_calls("[get_weather(city='Paris', days=3)]")
    call.name, call.arguments, call.span        # 'get_weather', {'city': 'Paris', 'days': 3}, (1, 34)

Formats (format="auto" detects them; name one to force it):
  "python"     Python-call syntax `f(a=1)`: dotted names, positional arguments, nested lists/dicts/tuples,
               signed numbers, every string literal form, JSON's true/false/null; several calls as
               `[f(), g()]`, one per line or `;` (BFCL prompt mode, Llama-3.2 pythonic, TL-Training);
  "json"       {"name", "arguments" | "parameters"} (arguments an object or a JSON string), lists of them,
  ("openai")   OpenAI tool calls {"type": "function", "function": {...}}, chat-completions assistant messages
               {"role", "content", "tool_calls"} and responses {"choices": [{"message": ...}]} (first choice);
               objects separated by whitespace or `;`;
  "tool_call"  Hermes / Qwen `<tool_call>{json}</tool_call>` blocks, several per message;
  ("hermes")
  "llama"      Llama-3.x `<|python_tag|>` + JSON `{"name", "parameters"}` (`;`-separated) or Python calls,
               and `<function=name>{json}</function>`;
  "mistral"    `[TOOL_CALLS] [{...}]` (v2/v3), `[TOOL_CALLS]name{json}`, `[TOOL_CALLS]name[ARGS]{json}`;
  "react"      `Action: name` + `Action Input: {json}`.
Code fences and chat special tokens at either end are stripped; a text that parses as a plain call is one,
even when a string in it holds a format marker. A message whose tool_calls are empty is read from its text
content.

"No call" is not an error: an empty list, a message without calls, or text with no format marker and no line
that starts like a call (`name(`, `[`, `{`) -- prose, an empty answer -- gives []. A malformed call raises
ParseError (a ValueError) with a byte offset and a reason; nothing else escapes. Limits: inputs over 1 MiB,
nesting deeper than 64, more than 256 calls, integers outside 64 bits are errors. Names follow Python's rules
(PEP 3131, NFKC). The C++ core (csrc/toolcall/) serves the calls; the pure-Python twin (_py_parse.py) is the
fallback and the specification, selected with backend="python".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tl_fast._native_glue import native_module
from tl_fast.reward import _py_parse

FORMATS = ("auto", "python", "json", "openai", "tool_call", "hermes", "llama", "mistral", "react")


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
    """All tool calls in `text` (in order); [] when it makes no call; ParseError when it holds a malformed
    call.

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
