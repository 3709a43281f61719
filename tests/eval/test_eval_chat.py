"""Chat mode requests: tools converted as BFCL's OpenAI handlers convert them (hand-written expectations
from bfcl_eval/model_handler/utils.py convert_to_tool), the messages each benchmark sends, and the answer
read back from an assistant message."""

from __future__ import annotations

import json

from tl_fast.eval import load_items
from tl_fast.eval.chat import answer_text, chat_request


def test_bfcl_tool_is_converted_like_bfcls_openai_handler():
    item = next(i for i in load_items("bfcl", "simple_python") if i.id == "simple_python_103")
    request = chat_request("bfcl", item)
    (tool,) = request.tools
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "mathematics_calculate_area_under_curve"  # "." is not allowed by OpenAI
    assert request.names == {function["name"]: "mathematics.calculate_area_under_curve"}
    assert function["parameters"]["type"] == "object"  # was "dict"
    polynomial = function["parameters"]["properties"]["polynomial"]
    assert polynomial["type"] == "array" and polynomial["items"] == {"type": "number"}  # float -> number
    assert "format" not in polynomial  # BFCL marks float only on the property itself
    assert item.tools[0]["parameters"]["type"] == "dict"  # the item itself is left as it was
    messages = request.messages
    assert messages == item.messages


def test_float_property_gets_format_and_note_nested_dicts_recurse():
    from tl_fast.eval.metrics import EvalItem

    tool = {
        "name": "a.b",
        "description": "d",
        "parameters": {
            "type": "dict",
            "properties": {
                "x": {"type": "float", "description": "X."},
                "t": {"type": "tuple", "items": {"type": "integer"}},
                "o": {"type": "dict", "properties": {"y": {"type": "any"}, "z": {}}},
                "l": {"type": "list", "items": {"type": "dict", "properties": {"w": {"type": "bool"}}}},
            },
        },
    }
    item = EvalItem("i", "s", "s", [{"role": "user", "content": "q"}], [tool], gold=None)
    props = chat_request("bfcl", item).tools[0]["function"]["parameters"]["properties"]
    assert props["x"] == {
        "type": "number",
        "format": "float",
        "description": "X. This is a float type value.",
    }
    assert props["t"] == {"type": "array", "items": {"type": "integer"}}
    assert props["o"] == {"type": "object", "properties": {"y": {"type": "string"}, "z": {"type": "string"}}}
    assert props["l"]["items"] == {"type": "object", "properties": {"w": {"type": "boolean"}}}


def test_rotbench_drops_its_react_system_prompt_toolalpaca_keeps_its_api_line():
    rot = load_items("rotbench", "clean", limit=1)[0]
    assert [m["role"] for m in chat_request("rotbench", rot).messages] == ["user"]
    assert len(chat_request("rotbench", rot).tools) == len(rot.tools)
    alpaca = load_items("toolalpaca", "eval_real", limit=1)[0]
    assert chat_request("toolalpaca", alpaca).messages == alpaca.messages


def test_answer_text_prefers_tool_calls_and_maps_names_back():
    calls = [{"id": "c0", "type": "function", "function": {"name": "a_b", "arguments": '{"x": 1}'}}]
    text = answer_text({"role": "assistant", "content": "ignored", "tool_calls": calls}, {"a_b": "a.b"})
    assert json.loads(text) == [{"type": "function", "function": {"name": "a.b", "arguments": '{"x": 1}'}}]
    assert answer_text({"role": "assistant", "content": "f(x=1)", "tool_calls": []}) == "f(x=1)"
    assert answer_text({"role": "assistant", "content": [{"type": "text", "text": "hi"}]}) == "hi"
    assert answer_text({"role": "assistant", "content": None}) == "" == answer_text(None)
