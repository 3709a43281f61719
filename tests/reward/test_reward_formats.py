"""Every call format the parser reads, on the providers' own documented examples, in both backends;
auto-detected
and forced. The examples are written here after the documents named above each test (outputs as the documents
show
them, special tokens included)."""

from __future__ import annotations

import json

import pytest

from tl_fast._native_glue import native_available
from tl_fast.reward import ParseError, parse_tool_calls

BACKENDS = ["python"] + (["native"] if native_available() else [])


@pytest.fixture(params=BACKENDS)
def parse(request):
    return lambda text, fmt="auto": [
        (c.name, c.arguments, c.positional) for c in parse_tool_calls(text, fmt, backend=request.param)
    ]


# OpenAI API reference, "Create chat completion", function-calling example response
# (https://platform.openai.com/docs/api-reference/chat/create): arguments are a JSON string.
OPENAI_RESPONSE = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc123",
                        "type": "function",
                        "function": {
                            "name": "get_current_weather",
                            "arguments": '{\n"location": "Boston, MA"\n}',
                        },
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99},
}
WEATHER = [("get_current_weather", {"location": "Boston, MA"}, [])]


def test_openai_response_message_and_tool_call_list(parse):
    message = OPENAI_RESPONSE["choices"][0]["message"]
    for text in (
        json.dumps(OPENAI_RESPONSE, indent=2),
        json.dumps(message),
        json.dumps(message["tool_calls"]),
        json.dumps(message["tool_calls"][0]),
    ):
        assert parse(text) == WEATHER, text
        assert parse(text, "openai") == parse(text, "json") == WEATHER
    as_object = {
        **message,
        "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
    }
    assert parse(json.dumps(as_object)) == [("f", {"a": 1}, [])]  # arguments as an object (Ollama, vLLM)
    legacy = {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"a": 2}'}}
    assert parse(json.dumps(legacy)) == [("f", {"a": 2}, [])]  # the deprecated functions API


def test_openai_message_without_calls_is_no_call(parse):
    for message in (
        {"role": "assistant", "content": "The weather in Boston is sunny."},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "assistant", "content": None, "tool_calls": None},
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "I can't help."}}]},
    ):
        assert parse(json.dumps(message)) == [], message
    # a model served without a tool parser leaves its calls in the content text
    served = {"role": "assistant", "content": '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'}
    assert parse(json.dumps(served)) == [("f", {}, [])]
    for bad in (
        {"choices": []},
        {"role": "assistant", "tool_calls": {"name": "f"}},
        {"role": "assistant", "tool_calls": [1]},
    ):
        with pytest.raises(ParseError):
            parse(json.dumps(bad))


# Qwen docs, "Function Calling" (https://qwen.readthedocs.io/en/latest/framework/function_call.html),
# Hermes-style
# tool use: several <tool_call> blocks in one message.
QWEN = (
    '<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "San Francisco, CA, USA"}}\n'
    "</tool_call>\n<tool_call>\n"
    '{"name": "get_temperature_date", "arguments": {"location": "San Francisco, CA, USA", '
    '"date": "2024-10-01"}}\n'
    "</tool_call><|im_end|>"
)
# NousResearch/Hermes-2-Pro-Llama-3-8B model card, "Prompt Format for Function Calling".
HERMES = '<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "get_stock_fundamentals"}\n</tool_call>'


def test_hermes_and_qwen_tool_call_blocks(parse):
    expected = [
        ("get_current_temperature", {"location": "San Francisco, CA, USA"}, []),
        ("get_temperature_date", {"location": "San Francisco, CA, USA", "date": "2024-10-01"}, []),
    ]
    assert parse(QWEN) == parse(QWEN, "tool_call") == parse(QWEN, "hermes") == expected
    assert parse("Let me check both.\n" + QWEN) == expected  # content before the calls is prose
    assert parse(HERMES) == [("get_stock_fundamentals", {"symbol": "TSLA"}, [])]
    assert parse("The answer is 4.", "hermes") == []  # no block: the model answered in text
    for bad in (
        "<tool_call>\n</tool_call>",
        "<tool_call>I am not sure</tool_call>",
        '<tool_call>{"name": 3}',
    ):
        with pytest.raises(ParseError):
            parse(bad)


# meta-llama/llama-models, models/llama3_1/prompt_format.md: built-in tool call, JSON-based tool call and the
# user-defined <function> format; models/llama3_2/text_prompt_format.md: the pythonic list.
def test_llama_formats(parse):
    builtin = '<|python_tag|>brave_search.call(query="latest price of 1oz gold")<|eom_id|>'
    assert (
        parse(builtin)
        == parse(builtin, "llama")
        == [("brave_search.call", {"query": "latest price of 1oz gold"}, [])]
    )
    json_call = (
        '<|python_tag|>{\n    "type": "function",\n    "name": "trending_songs",\n    "parameters": {\n'
        '        "n": "10",\n        "genre": "all"\n    }\n}<|eom_id|>'
    )
    assert (
        parse(json_call) == parse(json_call, "llama") == [("trending_songs", {"n": "10", "genre": "all"}, [])]
    )
    custom = '<function=trending_songs>{"n": 10}</function><|eot_id|>'
    assert parse(custom) == parse(custom, "llama") == [("trending_songs", {"n": 10}, [])]
    pythonic = "[get_user_info(user_id=7890, special='black')]<|eot_id|>"
    assert (
        parse(pythonic)
        == parse(pythonic, "llama")
        == [("get_user_info", {"user_id": 7890, "special": "black"}, [])]
    )
    # several JSON calls separated by ';' (what vLLM's llama3_json parser accepts), after some prose
    several = (
        'Looking it up.<|python_tag|>{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}'
    )
    assert parse(several) == [("a", {"x": 1}, []), ("b", {}, [])]
    assert parse('{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}') == parse(several)
    bad_json = '<|python_tag|>{"name": "f", "parameters": }<|eom_id|>'
    for bad in ("<|python_tag|>def is_prime(n):\n    return n > 1<|eom_id|>", bad_json, "<function=f>{bad}"):
        with pytest.raises(ParseError):
            parse(bad)


# mistralai/cookbook, concept-deep-dive/tokenization/tool_calling.md (tokenizers V2/V3, V3-Tekken); the v11
# and v13
# forms as vLLM's mistral tool parser documents them (`[TOOL_CALLS]add{"a": 3.5, "b": 4}`, `name[ARGS]{...}`).
def test_mistral_formats(parse):
    v3 = '[TOOL_CALLS] [{"name": "calculator", "arguments": {"operation": "2+2", "format": "celsius"}}]</s>'
    tekken = '[TOOL_CALLS][{"name": "calculator", "arguments": {"operation": "2+2"}, "id": "VvvODy9mT"}]</s>'
    calc = ("calculator", {"operation": "2+2", "format": "celsius"}, [])
    assert parse(v3) == parse(v3, "mistral") == [calc]
    assert parse(tekken) == [("calculator", {"operation": "2+2"}, [])]
    v11 = '[TOOL_CALLS]add_this_and_that{"a": 3.5, "b": 4}[TOOL_CALLS]get_weather{"city": "Paris"}'
    assert parse(v11) == [
        ("add_this_and_that", {"a": 3.5, "b": 4}, []),
        ("get_weather", {"city": "Paris"}, []),
    ]
    v13 = '[TOOL_CALLS]get_current_weather[ARGS]{"city": "San Francisco", "state": "CA", "unit": "celsius"}'
    assert parse(v13) == [
        ("get_current_weather", {"city": "San Francisco", "state": "CA", "unit": "celsius"}, [])
    ]
    assert parse("Some text first." + v3) == [calc]
    assert parse("[TOOL_CALLS] []") == []
    assert parse("2+2 is 4.", "mistral") == []
    for bad in (
        "[TOOL_CALLS]",
        '[TOOL_CALLS]{"a": 1}',
        "[TOOL_CALLS]add[ARGS]",
        '[TOOL_CALLS]add{"a": 1} tail',
    ):
        with pytest.raises(ParseError):
            parse(bad)


def test_react_and_forced_formats(parse):
    react = 'Thought: look it up\nAction: search\nAction Input: {"q": "x"}\nObservation: done'
    assert parse(react) == parse(react, "react") == [("search", {"q": "x"}, [])]
    assert parse("Thought: I know this.\nFinal Answer: 42", "react") == []
    assert parse("f(a=1)", "python") == [("f", {"a": 1}, [])]
    assert parse('```json\n{"name": "f"}\n```', "json") == [("f", {}, [])]
    for text, fmt in (
        ("f(a=1)", "json"),
        ("f(a=1)", "react"),
        ("f(a=1)", "tool_call"),
        ("f(a=1)", "mistral"),
    ):
        with pytest.raises(ParseError):  # a call, but not in the forced format
            parse(text, fmt)
    with pytest.raises(ValueError, match="unknown format"):
        parse("f()", "yaml")


def test_no_call_is_distinct_from_a_malformed_call(parse):
    for text in (
        "",
        "   ",
        "<|eot_id|>",
        "[]",
        "```\n```",
        "None",
        "I cannot answer that (no tool fits).",
        "The function `get_weather` needs a city, which is missing.",
        "Sure!\n\nNothing to call here.",
    ):
        assert parse(text) == [], text
    for text in (
        "get_weather(city=",
        "[get_weather(city=Paris)]",
        "Let me see.\nget_weather(city=Paris)",
        '{"name": "f", "arguments": [1]}',
        "[1] first item",
        "f(x) = 1",
    ):
        with pytest.raises(ParseError):
            parse(text)
