"""Rendering: canonical call syntax round-trips, spans point at the right text, the model-card tool format."""

import ast
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from tl_fast.data import SAMPLE_DATA, SHIPPED_TOKENIZER, RenderConfig, load_trajectories, mae_split
from tl_fast.data.render import (
    ppo_prompt,
    python_literal,
    render_call,
    render_prompt,
    render_sample,
    render_tools,
)
from tl_fast.data.types import Tool

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(name=identifiers, args=st.dictionaries(identifiers, json_values, max_size=4))
def test_python_and_json_calls_round_trip_through_their_spans(name, args):
    rc = render_call(name, args, "python")
    assert rc.text[slice(*rc.name_span)] == name and rc.text == f"{name}({rc.text[len(name) + 1 : -1]})"
    for a in rc.args:
        assert rc.text[slice(*a.name_span)] == a.name
        assert ast.literal_eval(rc.text[slice(*a.value_span)]) == args[a.name]
    rj = render_call(name, args, "json")
    assert json.loads(rj.text) == {"name": name, "arguments": args}
    assert rj.text[slice(*rj.name_span)] == name
    for a in rj.args:
        assert json.loads(rj.text[slice(*a.value_span)]) == args[a.name]


def test_python_literals():
    assert python_literal("it's\n") == r"'it\'s\n'"
    assert python_literal({"a": [True, None, 1.5]}) == "{'a': [True, None, 1.5]}"
    assert (
        render_call("get_weather", {"city": "Paris", "days": 3}).text == "get_weather(city='Paris', days=3)"
    )
    with pytest.raises(ValueError, match="not a Python"):
        render_call("get-weather", {})
    with pytest.raises(ValueError, match="non-finite"):
        python_literal(float("nan"))


def test_tools_match_the_tl_codellama_model_card():
    # System content of the inference example in Junjie-Ye/TL-Training README (trailing blank lines trimmed).
    card = (
        'Function:\ndef random_advice():\n    """\n    Returns a random advice slip as a slip object.\n'
        '    """\n\n'
        'Function:\ndef advice_by_id(slip_id:str):\n    """\n    If an advice slip is found with the '
        "corresponding {slip_id}, a slip object is returned.\n\n    Args:\n"
        "        slip_id (string): The unique "
        'ID of this advice slip.\n    """'
    )
    tools = [
        Tool("random_advice", "Returns a random advice slip as a slip object."),
        Tool(
            "advice_by_id",
            "If an advice slip is found with the corresponding {slip_id}, a slip object is returned.",
            {"slip_id": {"type": "string", "desciption": "The unique ID of this advice slip."}},
            ("slip_id",),
        ),
    ]
    assert render_tools(tools, "python") == card
    opt = Tool("f", "d", {"a": {"type": "integer"}, "b": {"type": "string"}}, ("a",))
    assert "def f(a:int, b:str = None):" in render_tools([opt])
    assert json.loads(render_tools(tools, "json"))[1]["parameters"]["required"] == ["slip_id"]


@pytest.fixture(scope="module")
def samples():
    trajs, _ = load_trajectories(SAMPLE_DATA)
    return mae_split(trajs[:20])[0]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(SHIPPED_TOKENIZER)


def test_paper_template_layout(samples):
    s = next(s for s in samples if s.turn > 1)
    r = render_sample(s)
    assert r.text.startswith("System: Function:\ndef ")
    assert "\nUser: " in r.text and "\nOutput: " in r.text and r.append_eos
    prompt = render_prompt(s.tools, s.history)
    assert r.text.startswith(prompt) and prompt.endswith("\nAssistant:")
    assert (
        r.text[slice(*r.target_span)]
        == " " + render_call(s.target.calls[0].name, s.target.calls[0].arguments).text
    )
    assert r.text[slice(*r.calls[0].name_span)] == s.target.calls[0].name


def test_tokenizer_template_gives_the_paper_tokens_for_the_shipped_tokenizer(samples, tokenizer):
    # The shipped tokenizer carries the paper's template, so both paths must agree token for token.
    for s in samples[:6]:
        paper = render_sample(s, RenderConfig(chat_template="paper"), tokenizer)
        own = render_sample(s, RenderConfig(chat_template="tokenizer"), tokenizer)
        ids_paper = tokenizer(paper.text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids_own = tokenizer(own.text, add_special_tokens=False)["input_ids"]
        assert ids_paper == ids_own
        assert paper.calls[0].name_span == own.calls[0].name_span
        assert paper.text.startswith(tokenizer.bos_token)


def test_ppo_prompt(samples, tokenizer):
    s = samples[0]
    p = ppo_prompt(s, RenderConfig(call_style="json"), tokenizer)
    assert p.gold == {"name": s.target.calls[0].name, "arguments": s.target.calls[0].arguments}
    assert p.tools[0]["parameters"]["type"] == "object" and p.prompt.endswith("Assistant:")


def test_round_trip_through_the_parser():
    parse = pytest.importorskip("tl_fast.reward.parse").parse_tool_calls
    args = {
        "q": 'it\'s "quoted"\n',
        "n": -3,
        "x": 1.5e-7,
        "flag": False,
        "none": None,
        "xs": [1, "a", {"k": []}],
    }
    for style in ("python", "json"):
        calls = parse(render_call("ns.search", args, style).text)
        assert len(calls) == 1 and calls[0].name == "ns.search" and calls[0].arguments == args
