"""Property tests: generated calls survive render -> parse in every format; mutated text gets the same answer
(calls, no call, or an error) from the C++ core and the Python twin, and never anything else.

Deterministic: every test runs with derandomize=True and no example database, so CI sees the same inputs on
every run (a failure reproduces; nothing flakes). scripts/fuzz_parser.py is the million-input version."""

from __future__ import annotations

import json
import math
import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_fast._native_glue import native_available
from tl_fast.reward import ParseError, parse_tool_calls

BACKENDS = ["python"] + (["native"] if native_available() else [])
needs_native = pytest.mark.skipif(not native_available(), reason="native core not built")
# Same examples on every run: a property test must not pass or fail by the draw.
DETERMINISTIC = {"derandomize": True, "database": None, "deadline": None}

# Names with non-ASCII letters (PEP 3131 identifiers that NFKC leaves as they are).
names = st.from_regex(r"[a-zé中_][a-z0-9_ßΑé中]{0,8}(\.[a-zΑ_][a-z0-9_é]{0,6}){0,2}", fullmatch=True).filter(
    lambda n: all(
        p not in {"if", "in", "is", "or", "and", "not", "for", "def", "del", "try", "as"}
        for p in n.split(".")
    )
)
keys = st.from_regex(r"[a-zß_][a-z0-9_中é]{0,8}", fullmatch=True).filter(
    lambda k: (
        k
        not in {
            "if",
            "in",
            "is",
            "or",
            "and",
            "not",
            "for",
            "def",
            "del",
            "try",
            "as",
            "true",
            "false",
            "null",
        }
    )
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6).filter(lambda s: "\0" not in s), inner, max_size=3)
    ),
    max_leaves=8,
)
calls = st.tuples(names, st.lists(values, max_size=2), st.dictionaries(keys, values, max_size=4))

# For the BFCL decoder: any text (ast.unparse escapes non-printable characters by str.isprintable, whose table
# the C++ core carries), dict keys that are strings.
printable_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6).filter(lambda k: "\0" not in k), inner, max_size=3)
    ),
    max_leaves=8,
)
printable_calls = st.tuples(
    names, st.lists(printable_values, max_size=2), st.dictionaries(keys, printable_values, max_size=4)
)


def render_python(name, positional, kwargs) -> str:
    args = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(args)})"


def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    return v


def same(a, b) -> bool:
    """Equal with types (True != 1, 1 != 1.0, list != tuple) and -0.0 != 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(st.lists(calls, min_size=1, max_size=3), st.sampled_from(["list", "lines", "semicolons"]))
def test_python_syntax_round_trips(backend, generated, layout):
    rendered = [render_python(*c) for c in generated]
    text = {
        "list": f"[{', '.join(rendered)}]",
        "lines": "\n".join(rendered),
        "semicolons": "; ".join(rendered),
    }[layout]
    parsed = parse_tool_calls(text, backend=backend)
    assert len(parsed) == len(generated)
    for call, (name, positional, kwargs), src in zip(parsed, generated, rendered, strict=True):
        assert call.name == unicodedata.normalize("NFKC", name)
        assert same(call.positional, list(positional))
        assert same(call.arguments, kwargs)
        assert text.encode()[call.span[0] : call.span[1]].decode() == src


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, **DETERMINISTIC)
@given(
    st.lists(st.tuples(names, st.dictionaries(keys, values, max_size=4)), min_size=1, max_size=3),
    st.booleans(),
)
def test_json_round_trips(backend, generated, as_list):
    objs = [{"name": n, "arguments": jsonable(a)} for n, a in generated]
    text = json.dumps(objs if as_list else objs[0], ensure_ascii=False)
    parsed = parse_tool_calls(text, backend=backend)
    expected = objs if as_list else objs[:1]
    assert [c.name for c in parsed] == [o["name"] for o in expected]
    for call, obj in zip(parsed, expected, strict=True):
        assert same(call.arguments, obj["arguments"])


FORMATS = {
    "hermes": lambda objs: (
        "Calling now.\n" + "".join(f"<tool_call>\n{json.dumps(o)}\n</tool_call>\n" for o in objs)
    ),
    "mistral": lambda objs: "[TOOL_CALLS] " + json.dumps(objs),
    "mistral_v11": lambda objs: "".join(
        f"[TOOL_CALLS]{o['name']}[ARGS]{json.dumps(o['arguments'])}" for o in objs
    ),
    "llama": lambda objs: (
        "<|python_tag|>"
        + "; ".join(json.dumps({"name": o["name"], "parameters": o["arguments"]}) for o in objs)
        + "<|eom_id|>"
    ),
    "openai": lambda objs: json.dumps(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "type": "function",
                                "function": {"name": o["name"], "arguments": json.dumps(o["arguments"])},
                            }
                            for o in objs
                        ],
                    }
                }
            ]
        }
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=40, **DETERMINISTIC)
@given(st.lists(st.tuples(names, st.dictionaries(keys, values, max_size=3)), min_size=1, max_size=3))
def test_every_format_round_trips(backend, fmt, generated):
    objs = [{"name": n, "arguments": jsonable(a)} for n, a in generated]
    text = FORMATS[fmt](objs)
    parsed = parse_tool_calls(text, backend=backend)
    assert [c.name for c in parsed] == [o["name"] for o in objs], text
    for call, obj in zip(parsed, objs, strict=True):
        assert same(call.arguments, obj["arguments"]), text


PALETTE = list("()[]{},'\"=:;#\\ \n.-+eEjx0_1rubf\t*") + [
    "'''",
    '"""',
    "\\u00e9",
    "\\x4",
    "true",
    "```",
    "<|eot_id|>",
    # non-ASCII letters (one NFKC-folded), an emoji, a zero-width space, a combining accent, format markers
    "é",
    "ß",
    "Α",
    "中",
    "ﬁ",
    "\U0001f600",
    "\u200b",
    "\u0301",
    "<tool_call>",
    "[TOOL_CALLS]",
    "<|python_tag|>",
    "Action: ",
    " for ",
    "lambda ",
    "[1:2]",
    "1j",
]


def outcome(text: str, backend: str):
    try:
        return [(c.name, c.arguments, c.positional, c.span) for c in parse_tool_calls(text, backend=backend)]
    except ParseError as exc:
        assert isinstance(exc.offset, int) and 0 <= exc.offset <= len(text.encode("utf-8", "surrogatepass"))
        return "error"


@needs_native
@settings(max_examples=400, **DETERMINISTIC)
@given(st.lists(calls, min_size=1, max_size=2), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_mutated_text_native_equals_python(generated, seed, edits):
    rng = random.Random(seed)
    text = "[" + ", ".join(render_python(*c) for c in generated) + "]"
    for _ in range(edits):
        pos = rng.randrange(len(text) + 1)
        kind = rng.randrange(3)
        if kind == 0 and text:
            text = text[:pos] + text[pos + 1 :]
        elif kind == 1:
            text = text[:pos] + rng.choice(PALETTE) + text[pos:]
        else:
            end = min(len(text), pos + rng.randrange(1, 6))
            text = text[:pos] + text[pos:end] + text[pos:]
    native, python = outcome(text, "native"), outcome(text, "python")
    if native == "error" or python == "error":
        assert native == python, text
    else:
        assert len(native) == len(python), text
        for a, b in zip(native, python, strict=True):
            assert a[0] == b[0] and a[3] == b[3] and same(a[1], b[1]) and same(a[2], b[2]), text


BFCL_PALETTE = PALETTE + [
    "+",
    "*",
    "**",
    "/",
    "//",
    "%",
    "~",
    "==",
    " not ",
    " in ",
    " if ",
    " else ",
    "f(1)",
    "x[1]",
]


@needs_native
@settings(max_examples=400, **DETERMINISTIC)
@given(st.lists(printable_calls, min_size=1, max_size=2), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_mutated_text_native_bfcl_decoder_equals_python(generated, seed, edits):
    from tl_fast._native_glue import native_module
    from tl_fast.reward._py_bfcl import bfcl_decode

    rng = random.Random(seed)
    text = "[" + ", ".join(render_python(*c) for c in generated) + "]"
    for _ in range(edits):
        pos = rng.randrange(len(text) + 1)
        if rng.randrange(2) and text:
            text = text[:pos] + text[pos + 1 :]
        else:
            text = text[:pos] + rng.choice(BFCL_PALETTE) + text[pos:]
    native, python = native_module().bfcl_decode(text), bfcl_decode(text)
    assert (native is None) == (python is None), text
    if native is not None:
        assert same(native, python), text
