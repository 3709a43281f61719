"""BFCL function-calling (FC) mode and the relevance categories: BFCL's own verdicts, OpenAI shapes, twins.

The reference verdicts (data/bfcl_reference.jsonl.gz) were made by BFCL's unchanged code (bfcl-eval
2026.3.23, eval_runner._evaluate_single_ast_entry / _evaluate_single_relevance_entry with
OpenAICompletionsHandler.decode_ast) through scripts/bfcl_reference.py; see data/SOURCE.md.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import defaultdict
from pathlib import Path

import pytest

from tl_fast._native_glue import native_available, native_module
from tl_fast.reward import bfcl_decode, categorize, categorize_batch
from tl_fast.reward._py_bfcl import decode

BACKENDS = ["python"] + (["native"] if native_available() else [])
DATA = Path(__file__).parent / "data"
QUESTIONS = Path(__file__).parents[2] / "tl_fast" / "assets" / "benchmarks" / "bfcl"


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def reference() -> list[dict]:
    """Reference rows joined with their question's functions and possible answer (None: relevance)."""
    problems = {
        r["id"]: (r["function"], r["ground_truth"]) for r in _jsonl(DATA / "bfcl_gemma4_verdicts.jsonl.gz")
    }
    for category in ("irrelevance", "live_irrelevance", "live_relevance"):
        problems.update(
            {q["id"]: (q["function"], None) for q in _jsonl(QUESTIONS / f"BFCL_v4_{category}.json.gz")}
        )
    rows = _jsonl(DATA / "bfcl_reference.jsonl.gz")
    for row in rows:
        row["function"], row["ground_truth"] = problems[row["id"]]
        row["text"] = row["result"] if row["mode"] == "prompt" else json.dumps(row["result"])
    return rows


def verdicts_of(rows: list[dict], texts: list[str], backend: str) -> list:
    groups = defaultdict(list)
    for k, row in enumerate(rows):
        groups[(row["category"], row["mode"], row["underscore_to_dot"])].append(k)
    out: list = [None] * len(rows)
    for (category, mode, dots), index in groups.items():
        batch = categorize_batch(
            [texts[k] for k in index],
            [rows[k]["function"] for k in index],
            [rows[k]["ground_truth"] for k in index],
            protocol="bfcl",
            bfcl_category=category,
            bfcl_mode=mode,
            underscore_to_dot=dots,
            backend=backend,
        )
        for k, v in zip(index, batch, strict=True):
            out[k] = v
    return out


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return reference()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bfcl_verdicts_on_fc_and_relevance_answers(rows, backend):
    """6,187 answers: FC answers in the 8 AST categories; prompt and FC answers to relevance questions."""
    verdicts = verdicts_of(rows, [r["text"] for r in rows], backend)
    wrong = [
        (r["id"], r["mode"], r["text"][:80], v.correct, v.error_type, r["valid"], r["error_type"])
        for r, v in zip(rows, verdicts, strict=True)
        if (v.correct, v.error_type) != (r["valid"], r["error_type"])
    ]
    assert wrong == []
    labels = {r["error_type"] for r in rows}  # the corpus exercises every runner and decoder outcome
    assert {
        "ast_decoder:decoder_failed",
        "ast_decoder:decoder_wrong_output_format",
        "simple_function_checker:wrong_func_name",
        "irrelevance_error:decoder_success",
        "relevance_error:decoder_failed",
        None,
    } <= labels
    assert len(rows) == 6187 and {r["mode"] for r in rows} == {"prompt", "fc"}


def _openai_message(result) -> dict:
    """The assistant message an OpenAI-compatible server returned for a BFCL FC result."""
    if isinstance(result, str):
        return {"role": "assistant", "content": result}
    calls = [
        {"id": f"call_{k}", "type": "function", "function": {"name": name, "arguments": args}}
        for k, entry in enumerate(result)
        for name, args in entry.items()
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}


@pytest.mark.parametrize("backend", BACKENDS)
def test_openai_tool_calls_score_as_their_bfcl_result(rows, backend):
    """BFCL builds its FC result from the message (_parse_query_response_FC): the message, the whole
    response and the bare tool-call list get the verdict BFCL gives that result."""
    usable = [
        r
        for r in rows
        if r["mode"] == "fc"
        and (
            isinstance(r["result"], str)
            or (
                r["result"]
                and all(
                    isinstance(e, dict) and len(e) == 1 and isinstance(*e.values(), str) for e in r["result"]
                )
            )
        )
    ]
    assert len(usable) > 3000
    for shape in ("message", "response", "tool_calls", "object_arguments"):
        texts = []
        for r in usable:
            message = _openai_message(r["result"])
            if shape == "response":
                message = {"id": "chatcmpl-1", "choices": [{"index": 0, "message": message}]}
            elif shape == "tool_calls" and "tool_calls" in message:
                message = message["tool_calls"]
            elif shape == "object_arguments" and "tool_calls" in message:
                for call in message["tool_calls"]:  # arguments as an object where they decode to one
                    try:
                        parsed = json.loads(call["function"]["arguments"])
                    except ValueError:
                        continue
                    if isinstance(parsed, dict):
                        call["function"]["arguments"] = parsed
            texts.append(json.dumps(message))
        verdicts = verdicts_of(usable, texts, backend)
        wrong = [
            (r["id"], shape, t[:100])
            for r, t, v in zip(usable, texts, verdicts, strict=True)
            if (v.correct, v.error_type) != (r["valid"], r["error_type"])
        ]
        assert wrong == [], shape


TOOLS = [
    {
        "name": "math.factorial",
        "parameters": {
            "type": "dict",
            "properties": {"number": {"type": "integer"}, "x": {"type": "float"}},
            "required": ["number"],
        },
    },
    {
        "name": "search",
        "parameters": {"type": "dict", "properties": {"q": {"type": "string"}}, "required": []},
    },
]
GOLD = [{"math.factorial": {"number": [5], "x": [2.0, ""]}}]
FAILED = "ast_decoder:decoder_failed"
FORMAT = "ast_decoder:decoder_wrong_output_format"
COUNT = "simple_function_checker:wrong_count"
NAME = "simple_function_checker:wrong_func_name"
CALLED = "irrelevance_error:decoder_success"
NO_CALL = "relevance_error:decoder_failed"


def fc(*entries) -> str:
    return json.dumps(list(entries))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "result, dots, valid, error_type, category",
    [
        # OpenAICompletionsHandler.decode_ast: name = first key, params = json.loads(value)
        (fc({"math_factorial": '{"number": 5}'}), True, True, None, "correct"),
        (fc({"math_factorial": '{"number": 5, "x": 2}'}), True, True, None, "correct"),  # int -> float
        (fc({"math_factorial": '{"number": 5.0}'}), True, False, "type_error:simple", "value_error"),
        # convert_func_name maps the schema's "math.factorial" to "math_factorial" only for such models
        (fc({"math.factorial": '{"number": 5}'}), True, False, NAME,
         "tool_hallucination"),  # no offered tool is called "math.factorial" by such a model
        (fc({"math.factorial": '{"number": 5}'}), False, True, None, "correct"),
        (fc({"math_factorial": '{"number": 5}'}), False, False, NAME,
         "tool_hallucination"),
        (fc({"math_factorial": '{"number": 5'}), True, False, FAILED, "format_error"),
        (fc({"math_factorial": {"number": 5}}), True, False, FAILED, "format_error"),
        (fc({"math_factorial": "[5]"}), True, False, FORMAT, "format_error"),
        (fc({}), True, False, FAILED, "format_error"),  # IndexError
        (fc({"math_factorial": '{"number": 5}', "zz": "x"}), True, True, None, "correct"),  # first key only
        (fc({"math_factorial": '{"number": 5, "number": 6}'}), True, False, "value_error:others",
         "value_error"),  # json.loads: the last duplicate wins
        (fc(), True, False, COUNT, "irrelevant"),
        (json.dumps(""), True, False, COUNT, "irrelevant"),  # "" decodes to []
        (json.dumps("I cannot compute that."), True, False, FAILED, "irrelevant"),
        (json.dumps(["I cannot", "compute that."]), True, False, FAILED, "irrelevant"),
        ("Sure, the factorial of 5 is 120.", True, False, FAILED, "irrelevant"),  # not JSON
        ('[{"math_factorial": "{\\"number\\": 5}"', True, False, FAILED, "format_error"),
        ("null", True, False, FAILED, "format_error"),  # iterating None: TypeError
        # OpenAI shapes, read as _parse_query_response_FC builds the result from them
        (json.dumps({"role": "assistant", "content": "No.", "tool_calls": []}), True, False,
         FAILED, "irrelevant"),
        (json.dumps({"role": "assistant", "content": None}), True, False, COUNT,
         "irrelevant"),
        (json.dumps({"name": "math_factorial", "arguments": '{"number": 5}'}), True, True, None, "correct"),
        (json.dumps([{"function": {"name": "math_factorial", "arguments": {"number": 5}}}]), True, True, None,
         "correct"),
        (json.dumps([{"type": "function", "function": {"name": "math_factorial"}}]), True, False,
         FAILED, "format_error"),
    ],
)  # fmt: skip
def test_fc_decoding_follows_the_openai_handler(backend, result, dots, valid, error_type, category):
    v = categorize(
        result, TOOLS, GOLD, protocol="bfcl", bfcl_mode="fc", underscore_to_dot=dots, backend=backend
    )
    assert (v.correct, v.error_type, v.category) == (valid, error_type, category)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fc_underscore_to_dot_defaults_on_in_fc_mode_only(backend):
    call = fc({"math_factorial": '{"number": 5}'})
    assert categorize(call, TOOLS, GOLD, protocol="bfcl", bfcl_mode="fc", backend=backend).correct
    prompt = categorize("[math_factorial(number=5)]", TOOLS, GOLD, protocol="bfcl", backend=backend)
    assert prompt.error_type == "simple_function_checker:wrong_func_name"
    forced = categorize(
        "[math_factorial(number=5)]", TOOLS, GOLD, protocol="bfcl", underscore_to_dot=True, backend=backend
    )
    assert forced.correct


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "category, mode, answer, valid, error_type, irm",
    [
        # _evaluate_single_relevance_entry: a call = decode_ast succeeds and the output is not empty
        ("irrelevance", "prompt", "I cannot help with that.", True, None, "correct"),  # decode fails
        ("irrelevance", "prompt", "[]", True, None, "correct"),
        ("irrelevance", "prompt", "[search(q='x')]", False, CALLED, "wrong_tool"),
        ("irrelevance", "prompt", "[weather(q='x')]", False, CALLED,
         "tool_hallucination"),
        ("live_irrelevance", "fc", json.dumps("No function fits."), True, None, "correct"),
        ("live_irrelevance", "fc", fc({"search": "[1]"}), True, None, "correct"),  # not FC format: empty
        ("live_irrelevance", "fc", fc({"search": '{"q": "x"}'}), False, CALLED,
         "wrong_tool"),
        ("live_relevance", "prompt", "[search(q='x')]", True, None, "correct"),
        ("live_relevance", "prompt", "[weather()]", True, None, "correct"),  # any call counts
        ("live_relevance", "prompt", "[]", False, NO_CALL, "irrelevant"),
        ("live_relevance", "prompt", "[search(q='x'", False, NO_CALL, "format_error"),
        ("live_relevance", "fc", json.dumps("Let me think."), False, NO_CALL,
         "irrelevant"),
        ("live_relevance", "fc", fc({"search": '{"q": "x"}'}), True, None, "correct"),
    ],
)  # fmt: skip
def test_relevance_categories(backend, category, mode, answer, valid, error_type, irm):
    v = categorize(
        answer, TOOLS, None, protocol="bfcl", bfcl_category=category, bfcl_mode=mode, backend=backend
    )
    assert (v.correct, v.error_type, v.category) == (valid, error_type, irm)


@pytest.mark.parametrize("backend", BACKENDS)
def test_relevance_categories_take_no_possible_answer(backend):
    with pytest.raises(ValueError, match="has no possible answer"):
        categorize("[]", TOOLS, GOLD, protocol="bfcl", bfcl_category="irrelevance", backend=backend)
    ok = categorize("[]", TOOLS, [], protocol="bfcl", bfcl_category="live_irrelevance", backend=backend)
    assert ok.correct


@pytest.mark.parametrize("backend", BACKENDS)
def test_bfcl_decode_returns_the_decoded_calls(backend):
    assert bfcl_decode("[math.factorial(number=5)]", backend=backend) == [{"math.factorial": {"number": 5}}]
    assert bfcl_decode(fc({"f": '{"a": [1, 2]}'}), bfcl_mode="fc", backend=backend) == [{"f": {"a": [1, 2]}}]
    assert bfcl_decode(fc({"f": "[1]"}), bfcl_mode="fc", backend=backend) is None  # wrong output format
    assert bfcl_decode("I cannot", bfcl_mode="fc", backend=backend) is None
    with pytest.raises(ValueError, match="unknown bfcl_mode"):
        bfcl_decode("[]", bfcl_mode="json")


FC_PALETTE = ['"', "\\", "{", "}", "[", "]", ":", ",", " ", "\n", "0", "-", "1e9", "true", "null", "é", "中",
              "\U0001f600", "\u200b", "\\u0000", "\\ud800", '"tool_calls"', '"function"', '"name"',
              '"arguments"', '"content"', '"choices"', "NaN", "9" * 20]  # fmt: skip


@pytest.mark.skipif(not native_available(), reason="native core not built")
def test_mutated_fc_results_native_equals_python(rows):
    """The C++ decoder and the Python twin agree on FC results mutated by character edits and splices.

    TL_FAST_FC_FUZZ=1000000 runs a million instead of 6,000 (about two minutes)."""
    native = native_module()
    count = int(os.environ.get("TL_FAST_FC_FUZZ", "6000"))
    rng = random.Random(1234)
    seeds = [r["text"] for r in rows if r["mode"] == "fc"]
    seeds += [
        json.dumps(_openai_message(r["result"]))
        for r in rows[:400]
        if r["mode"] == "fc"
        and (isinstance(r["result"], str) or all(isinstance(e, dict) for e in r["result"]))
    ]
    checked = decoded = 0
    for _ in range(count):
        text = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(text) + 1)
            kind = rng.randrange(3)
            if kind == 0 and text:
                text = text[:pos] + text[pos + 1 :]
            elif kind == 1:
                text = text[:pos] + rng.choice(FC_PALETTE) + text[pos:]
            else:
                other = rng.choice(seeds)
                cut = rng.randrange(len(other) + 1)
                text = text[:pos] + other[cut : cut + rng.randrange(1, 40)]
        n_status, n_calls, n_message = native.bfcl_decode_fc(text)
        p_status, p_calls, p_message = decode(text, "fc")
        assert (n_status, n_message) == (p_status, p_message), text
        assert json.dumps(n_calls, sort_keys=True) == json.dumps(p_calls, sort_keys=True), text
        checked += 1
        decoded += n_status == "calls" and bool(n_calls)
    assert checked == count and decoded > count // 12  # the edits leave many results readable
