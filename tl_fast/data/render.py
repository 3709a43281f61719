"""Rendering: tool lists, canonical calls and whole conversations as text, with character spans for PKT.

    rc = render_call("get_weather", {"city": "Paris", "days": 3})   # get_weather(city='Paris', days=3)
    rc.name_span, rc.args[0].value_span                             # (0, 11), (17, 24)
    r = render_sample(sample, RenderConfig(), tokenizer)            # prompt + target text, target/call spans
    prompt = render_prompt(sample.tools, sample.history, RenderConfig(), tokenizer)   # for PPO / evaluation

Canonical call syntax (SFT targets, PPO gold, evaluation prompts), parsed back by `tl_fast.parse_tool_calls`:
  python  name(arg='value', n=3, flag=True, xs=[1, 'a'], d={'k': None})  -- Python literals: strings in single
          quotes with backslash escapes, so `ast.literal_eval` of each value gives it back. Several calls are
          written one per line.
  json    {"name": "name", "arguments": {"arg": "value"}}; several calls as a JSON list.
Tool lists: "python" writes each tool as a Python signature with a docstring (the TL-CodeLLaMA-2 model card
format); "json" writes the JSON-schema list. Chat templates: "paper" is the TL-CodeLLaMA-2 template
(`System: ...\nUser: ...\nAssistant: ...\nOutput: ...`, EOS after the trained turn, `\nAssistant:` as the
generation prompt); "tokenizer" uses `tokenizer.apply_chat_template` with the tool list as the system message.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from tl_fast.data.config import RenderConfig
from tl_fast.data.types import Call, Message, Sample, Tool

Span = tuple[int, int]  # [start, end) character offsets

# ---------------------------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class ArgSpan:
    name: str
    name_span: Span
    value_span: Span


@dataclass(frozen=True)
class RenderedCall:
    """A call's text with the spans of its tool name and of each argument's name and value."""

    text: str
    name: str
    name_span: Span
    args: tuple[ArgSpan, ...] = ()

    def shifted(self, offset: int) -> RenderedCall:
        sh = lambda s: (s[0] + offset, s[1] + offset)
        args = tuple(ArgSpan(a.name, sh(a.name_span), sh(a.value_span)) for a in self.args)
        return replace(self, name_span=sh(self.name_span), args=args)


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def python_literal(value: Any) -> str:
    """A JSON value as a Python literal that `ast.literal_eval` reads back; strings always single-quoted."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot render the non-finite number {value!r} as a literal")
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in _ESCAPES:
                out.append(_ESCAPES[ch])
            elif not ch.isprintable():
                out.append(repr(ch)[1:-1])  # \x07, \u2028, ...
            else:
                out.append(ch)
        return "'" + "".join(out) + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{python_literal(str(k))}: {python_literal(v)}" for k, v in value.items()) + "}"
        )
    raise ValueError(f"cannot render a value of type {type(value).__name__} as a literal")


_PY_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")
_PY_ARG = re.compile(r"[A-Za-z_]\w*\Z")


def render_call(name: str, arguments: dict[str, Any], style: str = "python") -> RenderedCall:
    """One call as text plus spans; raises ValueError when `style="python"` cannot spell a name."""
    if style == "python":
        if not _PY_NAME.match(name):
            raise ValueError(f"tool name {name!r} is not a Python (dotted) identifier; use style='json'")
        parts, args, pos = [name, "("], [], len(name) + 1
        for i, (key, value) in enumerate(arguments.items()):
            if not _PY_ARG.match(key):
                raise ValueError(
                    f"argument name {key!r} of {name!r} is not a Python identifier; use style='json'"
                )
            if i:
                parts.append(", ")
                pos += 2
            literal = python_literal(value)
            args.append(
                ArgSpan(key, (pos, pos + len(key)), (pos + len(key) + 1, pos + len(key) + 1 + len(literal)))
            )
            parts += [key, "=", literal]
            pos += len(key) + 1 + len(literal)
        parts.append(")")
        return RenderedCall("".join(parts), name, (0, len(name)), tuple(args))
    if style == "json":
        head = '{"name": '
        enc_name = json.dumps(name, ensure_ascii=False)
        text = head + enc_name + ', "arguments": {'
        name_span = (len(head) + 1, len(head) + len(enc_name) - 1)
        args = []
        for i, (key, value) in enumerate(arguments.items()):
            if i:
                text += ", "
            enc_key, enc_val = json.dumps(str(key), ensure_ascii=False), json.dumps(value, ensure_ascii=False)
            k0 = len(text)
            v0 = k0 + len(enc_key) + 2
            args.append(ArgSpan(str(key), (k0 + 1, k0 + len(enc_key) - 1), (v0, v0 + len(enc_val))))
            text += enc_key + ": " + enc_val
        return RenderedCall(text + "}}", name, name_span, tuple(args))
    raise ValueError(f"unknown call style {style!r}; expected 'python' or 'json'")


def render_calls(
    calls: tuple[Call, ...] | list[Call], style: str = "python"
) -> tuple[str, list[RenderedCall]]:
    """Several calls: one per line (python) or a JSON list (json); a single call is written bare."""
    rendered = [render_call(c.name, c.arguments, style) for c in calls]
    if len(rendered) == 1:
        return rendered[0].text, rendered
    sep, head, tail = ("\n", "", "") if style == "python" else (", ", "[", "]")
    text, out = head, []
    for i, rc in enumerate(rendered):
        if i:
            text += sep
        out.append(rc.shifted(len(text)))
        text += rc.text
    return text + tail, out


# ---------------------------------------------------------------------------------------------- tools

_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "float": "float", "boolean": "bool",
             "array": "list", "object": "dict", "dict": "dict", "null": "None"}  # fmt: skip


def _py_type(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):  # ["string", "null"]
        t = next((x for x in t if x != "null"), "null")
    return _PY_TYPES.get(str(t).lower(), str(t)) if t else ""


def _description(schema: dict[str, Any]) -> str:
    return str(schema.get("description") or schema.get("desciption") or "")  # RoTLLaMA spells it "desciption"


def render_tool_python(tool: Tool) -> str:
    """The TL-CodeLLaMA-2 model card form: required parameters first, optional ones `= None`."""
    order = list(tool.required) + [p for p in tool.properties if p not in tool.required]
    params = []
    for p in order:
        t = _py_type(tool.properties[p])
        params.append((f"{p}:{t}" if t else p) + ("" if p in tool.required else " = None"))
    lines = [f"Function:\ndef {tool.name}({', '.join(params)}):", '    """']
    lines += ["    " + line if line else "" for line in (tool.description or "").splitlines()] or ["    "]
    if order:
        lines += ["", "    Args:"]
        for p in order:
            schema = tool.properties[p]
            t = schema.get("type")
            t = "/".join(map(str, t)) if isinstance(t, list) else t
            lines.append(
                f"        {p} ({t}): {_description(schema)}" if t else f"        {p}: {_description(schema)}"
            )
    lines.append('    """')
    return "\n".join(lines)


def render_tools(tools: list[Tool], style: str = "python") -> str:
    if style == "python":
        return "\n\n".join(render_tool_python(t) for t in tools)
    if style == "json":
        return json.dumps([t.to_schema() for t in tools], ensure_ascii=False)
    raise ValueError(f"unknown tool style {style!r}; expected 'python' or 'json'")


# ---------------------------------------------------------------------------------------------- conversations

_PAPER_ROLES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Output"}

# The paper's template (TL-Training README) with our role names mapped. It is the shipped tokenizer's
# chat_template, so chat_template="tokenizer" and "paper" give the same tokens there (tested).
PAPER_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set names = {'system': 'System', 'user': 'User', 'assistant': 'Assistant', "
    "'tool': 'Output'} %}{% for message in messages %}"
    "{{ names[message['role']] + ': ' + message['content'] }}"
    "{% if loop.last %}{% if add_generation_prompt %}{{ '\\nAssistant:' }}"
    "{% else %}{{ eos_token }}{% endif %}"
    "{% else %}{{ '\\n' }}{% endif %}{% endfor %}"
)


def message_text(message: Message, call_style: str) -> str:
    """An assistant turn's text is its calls in canonical syntax (or its plain answer); others, content."""
    if message.role == "assistant" and message.calls:
        return render_calls(message.calls, call_style)[0]
    return message.content


def _bos_text(tokenizer) -> str:
    """The BOS token as text when the tokenizer would add it itself (we tokenize with
    add_special_tokens=False)."""
    if tokenizer is None or tokenizer.bos_token is None:
        return ""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return tokenizer.bos_token if ids and ids[0] == tokenizer.bos_token_id else ""


def _chat_messages(tools: list[Tool], history: list[Message], cfg: RenderConfig) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": render_tools(tools, cfg.tool_style)}]
    msgs += [{"role": m.role, "content": message_text(m, cfg.call_style)} for m in history]
    return msgs


def render_prompt(
    tools: list[Tool] | list[dict], history: list[Message], cfg: RenderConfig | None = None, tokenizer=None
) -> str:
    """The text a model continues to produce its next assistant turn (PPO rollouts, evaluation).

    tools: Tool records or JSON-schema dicts. The text includes the BOS token when the tokenizer adds one,
    so tokenize it with add_special_tokens=False.
    """
    cfg = cfg or RenderConfig()
    tools = [t if isinstance(t, Tool) else Tool.from_schema(t) for t in tools]
    msgs = _chat_messages(tools, history, cfg)
    if cfg.chat_template == "tokenizer":
        if tokenizer is None:
            raise ValueError("chat_template='tokenizer' needs a tokenizer")
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    body = "\n".join(f"{_PAPER_ROLES[m['role']]}: {m['content']}" for m in msgs)
    return _bos_text(tokenizer) + body + "\nAssistant:"


@dataclass
class RenderedSample:
    """A sample's full text; `target_span` is trained, `calls` are the target's calls (absolute spans)."""

    text: str
    target_span: Span
    calls: list[RenderedCall] = field(default_factory=list)
    append_eos: bool = False  # the paper template ends the trained turn with an EOS token id


def render_sample(sample: Sample, cfg: RenderConfig | None = None, tokenizer=None) -> RenderedSample:
    """Prompt + target turn. With the paper template the target is " <calls>" and an EOS id follows it."""
    cfg = cfg or RenderConfig()
    prompt = render_prompt(sample.tools, sample.history, cfg, tokenizer)
    target = message_text(sample.target, cfg.call_style)
    calls = render_calls(sample.target.calls, cfg.call_style)[1] if sample.target.calls else []
    if cfg.chat_template == "paper":
        text = prompt + " " + target
        start = len(prompt) + 1
        return RenderedSample(
            text, (len(prompt), len(text)), [c.shifted(start) for c in calls], append_eos=True
        )
    msgs = _chat_messages(sample.tools, sample.history, cfg) + [{"role": "assistant", "content": target}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False)
    if not text.startswith(prompt):
        raise ValueError(
            "the tokenizer's chat template renders the history differently with the next turn added"
        )
    start = text.find(target, len(prompt))
    if start < 0:
        raise ValueError("the tokenizer's chat template does not copy the assistant content verbatim")
    return RenderedSample(text, (len(prompt), len(text)), [c.shifted(start) for c in calls], append_eos=False)


@dataclass
class PPOPrompt:
    """A PPO/evaluation prompt: the text up to the assistant's turn, the offered tools as JSON-schema
    dicts, and the gold answer ({"name", "arguments"}, a list of them, or the plain text answer)."""

    prompt: str
    tools: list[dict[str, Any]]
    gold: Any


def ppo_prompt(sample: Sample, cfg: RenderConfig | None = None, tokenizer=None) -> PPOPrompt:
    calls = [c.to_dict() for c in sample.target.calls]
    gold = calls[0] if len(calls) == 1 else (calls or sample.target.content)
    prompt = render_prompt(sample.tools, sample.history, cfg, tokenizer)
    return PPOPrompt(prompt, [t.to_schema() for t in sample.tools], gold)
