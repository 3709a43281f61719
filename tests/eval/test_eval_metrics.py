"""One reader: TS/PI/CF and the IRM category of an answer come from the same parse (parse_tool_calls)."""

from __future__ import annotations

import json

import pytest

from tl_fast.eval import categorize_item, load_items, rotbench
from tl_fast.eval.metrics import first_call
from tl_fast.reward import parse_tool_calls

TOOLS = [{"name": "get_weather", "parameters": {"properties": {"city": {"type": "string"}}}}]
REACT = 'Thought: look it up\nAction: get_weather\nAction Input: {"city": "Paris"}'


@pytest.mark.parametrize(
    "text",
    [
        REACT,
        f"```\n{REACT}\n```",  # a fenced ReAct answer: read, by the parser too
        f"```text\n{REACT}\n```",
        REACT + "\nObservation: 18C",  # an invented observation is not part of the call
        REACT.replace("Action: ", "action: "),  # not ReAct's keyword: no call, for scoring and reward alike
        REACT.replace("Action Input", "Action_Input"),
        REACT + " and more text",
        "get_weather(city='Paris')",
        "[]",
    ],
)
def test_scoring_and_category_read_the_same_call(text):
    call = first_call(text, TOOLS)
    try:
        parsed = parse_tool_calls(text)
    except ValueError:
        parsed = None
    assert (call is None) == (not parsed), text
    if call is not None:
        assert call == (parsed[0].name, parsed[0].arguments)


def test_fenced_react_scores_ts_and_is_not_a_format_error():
    """The defect the one reader fixes: TS true while the category said format_error."""
    item = load_items("rotbench", "clean")[0]
    gold = item.gold[0]
    fenced = f"```\n{gold}\n```"
    result = rotbench.score([item], [fenced])[0]
    assert (result.ts, result.pi, result.cf) == (True, True, True)
    assert categorize_item("rotbench", item, fenced) == categorize_item("rotbench", item, gold)
    assert categorize_item("rotbench", item, fenced) != "format_error"


def test_react_input_must_be_an_object():
    text = "Action: get_weather\nAction Input: " + json.dumps(["Paris"])
    assert first_call(text, TOOLS) is None


@pytest.mark.parametrize("backend", ["native", "python"])
def test_parser_reads_a_fenced_react_answer_in_both_backends(backend):
    [call] = parse_tool_calls(f"```\n{REACT}\n```", backend=backend)
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
