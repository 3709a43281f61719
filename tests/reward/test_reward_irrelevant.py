"""The "irrelevant" outcome: an answer that makes no call, where one was wanted, is its own category with its
own (overridable) reward; where no call is the right answer (a TL gold of []), abstaining is correct."""

from __future__ import annotations

import pytest

from tl_fast._native_glue import native_available
from tl_fast.reward import CATEGORIES, RewardTable, categorize, categorize_batch

BACKENDS = ["python"] + (["native"] if native_available() else [])
TOOLS = [
    {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
GOLD = "get_weather(city='Paris')"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "answer, gold, category, reward",
    [
        ("[]", GOLD, "irrelevant", -2.0),  # no call where one was wanted; the authors' -2 for "no call"
        ("```\n[]\n```", GOLD, "irrelevant", -2.0),
        ("get_weather(city=", GOLD, "format_error", -2.0),  # a broken call is not an abstention
        ("[]", [], "correct", 1.0),  # gold [] = the right answer is no call at all
        ("get_weather(city='Paris')", [], "wrong_tool", -1.5),  # every offered tool is wrong here
        ("lookup(q='Paris')", [], "tool_hallucination", -2.0),
        ("get_weather(city=", [], "format_error", -2.0),
    ],
)
def test_no_call_categories(backend, answer, gold, category, reward):
    v = categorize(answer, TOOLS, gold, backend=backend)
    assert (v.category, v.reward, v.correct) == (category, reward, category == "correct")


@pytest.mark.parametrize("backend", BACKENDS)
def test_irrelevant_reward_is_overridable_and_apart_from_format_error(backend):
    table = RewardTable(irrelevant=-0.3)
    assert categorize("[]", TOOLS, GOLD, table=table, backend=backend).reward == -0.3
    assert categorize("get_weather(", TOOLS, GOLD, table=table, backend=backend).reward == -2.0
    assert table.reward("irrelevant") == -0.3 and table.values()[CATEGORIES.index("irrelevant")] == -0.3


@pytest.mark.parametrize("backend", BACKENDS)
def test_bfcl_empty_answer_is_an_abstention_beside_bfcls_label(backend):
    gold = [{"get_weather": {"city": ["Paris"]}}]
    v = categorize("[]", TOOLS, gold, protocol="bfcl", backend=backend)
    assert (v.correct, v.error_type, v.category) == (
        False,
        "simple_function_checker:wrong_count",
        "irrelevant",
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "answer, category",
    [
        ("# nothing to call here", "irrelevant"),  # BFCL cannot decode it; the parser reads no call
        ("[get_weather(city='Paris')]<eos>", "format_error"),  # a call list BFCL cannot read
        ("[ ]<eos>", "format_error"),  # opens like a call list: a broken one, whatever follows
        ("```\n[]\n```", "irrelevant"),  # decodes to [] (BFCL strips the fence)
    ],
)
def test_bfcl_prompt_decoder_failures_are_abstentions_or_format_errors(backend, answer, category):
    gold = [{"get_weather": {"city": ["Paris"]}}]
    v = categorize(answer, TOOLS, gold, protocol="bfcl", backend=backend)
    assert (v.correct, v.category) == (False, category)


@pytest.mark.skipif(not native_available(), reason="native core not built")
def test_native_equals_python_on_no_call_problems():
    answers = ["[]", "", "get_weather(city='Paris')", "x(", "lookup()", "[get_weather(city='Rome')]"]
    golds = [[], GOLD, [{"name": "get_weather", "arguments": {"city": "Paris"}}]]
    for gold in golds:
        native = categorize_batch(answers, [TOOLS] * len(answers), [gold] * len(answers), backend="native")
        python = categorize_batch(answers, [TOOLS] * len(answers), [gold] * len(answers), backend="python")
        assert native == python, gold
