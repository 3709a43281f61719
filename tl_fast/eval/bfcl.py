"""BFCL v4 (Berkeley Function Calling Leaderboard): AST and relevance categories, scored by BFCL's own rules.

    python -m tl_fast.eval --benchmark bfcl --split simple_python,live_simple --predictions p.jsonl
    python -m tl_fast.eval --benchmark bfcl --predictions BFCL_v4_simple_python_result.json --bfcl-mode fc

A prediction is one BFCL result: prompt-mode text (`[f(a=1), g(b="x")]`), or in function-calling (FC) mode
the result value of an FC model ([{"f": "{\"a\": 1}"}], or its text message), an OpenAI assistant message
or response, or a list of OpenAI tool calls. `detect_mode` picks the mode from the predictions.
Validity and the first error label come from tl_fast.reward.categorize(..., protocol="bfcl"), a port of
BFCL's decoders, AST checker and relevance runner (possible answers list the acceptable values of each
parameter; "" = may be omitted). TS / PI / CF are reported beside it, from the same decoded calls:
  TS  the decoded calls name exactly the gold functions (as a multiset, so order is free for parallel);
  PI  TS and the calls can be paired one to one with the gold calls so that each uses only parameters the
      gold lists and all that are required (by the schema, or by a gold without "" among its values);
  CF  BFCL's verdict: valid.
An answer BFCL cannot decode (error type ast_decoder:*) is wrong on all three. The relevance categories
have no possible answer: irrelevance / live_irrelevance are right when no call is made, live_relevance when
any call is; TS = PI = CF = that verdict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tl_fast.eval import _files
from tl_fast.eval.metrics import EvalItem, ItemResult

AST_SPLITS = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
RELEVANCE_SPLITS = ("irrelevance", "live_irrelevance", "live_relevance")
SPLITS = AST_SPLITS + RELEVANCE_SPLITS
MODES = ("auto", "prompt", "fc")


def load(split: str = "simple_python", data_dir: str | Path | None = None) -> list[EvalItem]:
    """Questions joined with their possible answers (None for the relevance categories, which have none);
    ids are BFCL's ("simple_python_0", "live_irrelevance_3-0-3", ...)."""
    if split not in SPLITS:
        raise ValueError(f"unknown BFCL category {split!r}; expected one of {', '.join(SPLITS)}")
    name = f"BFCL_v4_{split}.json"
    questions = _files.read_jsonl(_files.find(data_dir, f"bfcl/{name}", f"bfcl_v4/{name}"))
    gold: dict[str, Any] = {}
    if split in AST_SPLITS:
        answers = _files.read_jsonl(
            _files.find(data_dir, f"bfcl/possible_answer/{name}", f"bfcl_v4/possible_answer/{name}")
        )
        gold = {a["id"]: a["ground_truth"] for a in answers}
    items = []
    for q in questions:
        if split in AST_SPLITS and q["id"] not in gold:
            raise ValueError(f"BFCL question {q['id']!r} has no possible answer in {name}")
        items.append(
            EvalItem(
                id=q["id"],
                split=split,
                scenario=split,
                messages=list(q["question"][0]),
                tools=q["function"],
                gold=gold.get(q["id"]),
            )
        )
    return items


def text_message(text: str) -> dict[str, Any]:
    """A text result of an FC-mode result file, as the assistant message it was (BFCL stores the content)."""
    return {"role": "assistant", "content": text}


def _fc_shaped(value: Any) -> bool:
    """A JSON result value, or text holding OpenAI tool calls / BFCL's FC result layout as JSON."""
    if not isinstance(value, str):
        return isinstance(value, (list, dict))
    head = value.lstrip(" \t\n\r")[:1]
    if head not in ("[", "{"):
        return False
    try:
        v = json.loads(value)
    except ValueError:
        return False
    if isinstance(v, dict):
        return "tool_calls" in v or "choices" in v
    return bool(v) and all(
        isinstance(e, dict)
        and (isinstance(e.get("function"), dict) or (len(e) == 1 and isinstance(next(iter(e.values())), str)))
        for e in v
    )


def detect_mode(predictions: Iterable[Any]) -> tuple[str, int]:
    """("fc" or "prompt", number of predictions in an FC layout): FC as soon as one prediction is a JSON
    result value or OpenAI tool-call JSON (a model is scored in one mode)."""
    shaped = sum(_fc_shaped(p) for p in predictions)
    return ("fc" if shaped else "prompt"), shaped


def as_text(value: Any) -> str:
    """The text the categorizer reads: a string as it is, a JSON value (an FC result) as its JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def score(
    items: list[EvalItem],
    predictions: list[Any],
    *,
    mode: str = "prompt",
    underscore_to_dot: bool | None = None,
    num_threads: int | None = None,
) -> list[ItemResult]:
    """One ItemResult per item with BFCL's error_type (None when valid) and the IRM category.

    mode: "prompt" or "fc" (resolve "auto" with detect_mode first). underscore_to_dot: BFCL's per-model
    flag (None = on in FC mode, as for OpenAI-style models, which call a tool "a.b" as "a_b").
    """
    from tl_fast.reward import bfcl_decode, categorize_batch

    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    if mode not in ("prompt", "fc"):
        raise ValueError(f"unknown BFCL mode {mode!r}; expected 'prompt' or 'fc'")
    dots = mode == "fc" if underscore_to_dot is None else underscore_to_dot
    texts = [as_text(p) for p in predictions]
    verdicts: list = [None] * len(items)
    for split in dict.fromkeys(item.split for item in items):  # the checker's rules depend on the category
        index = [k for k, item in enumerate(items) if item.split == split]
        batch = categorize_batch(
            [texts[k] for k in index],
            [items[k].tools for k in index],
            [items[k].gold for k in index],
            protocol="bfcl",
            bfcl_category=split,
            bfcl_mode=mode,
            underscore_to_dot=dots,
            num_threads=num_threads,
        )
        for k, verdict in zip(index, batch, strict=True):
            verdicts[k] = verdict
    results = []
    for item, text, verdict in zip(items, texts, verdicts, strict=True):
        valid = bool(verdict.correct)
        result = ItemResult(item.id, item.split, item.scenario, valid, valid, valid, text)
        result.error_type = None if valid else verdict.error_type
        result.category = verdict.category
        results.append(result)
        if item.split in RELEVANCE_SPLITS:
            continue
        decoded = bfcl_decode(text, bfcl_mode=mode)
        if decoded is None:  # BFCL stops at its decoder: wrong on all three
            result.ts = result.pi = False
            continue
        calls = [(name, set(args)) for call in decoded for name, args in call.items()]
        gold = [{_called_name(n, dots): p for n, p in g.items()} for g in item.gold]
        tools = [{**t, "name": _called_name(t["name"], dots)} for t in item.tools]
        result.ts = sorted(name for name, _ in calls) == sorted(next(iter(g)) for g in gold)
        result.pi = result.ts and _keys_match(calls, gold, tools)
    return results


def _called_name(name: str, underscore_to_dot: bool) -> str:
    return name.replace(".", "_") if underscore_to_dot else name


def _keys_match(
    calls: list[tuple[str, set[str]]],
    gold: list[dict[str, dict[str, list]]],
    tools: list[dict[str, Any]] = (),
) -> bool:
    """A perfect matching of predicted calls to gold calls with compatible parameter names (Kuhn)."""
    gold_calls = [next(iter(g.items())) for g in gold]

    def compatible(call: tuple[str, set[str]], g: tuple[str, dict[str, list]]) -> bool:
        (name, keys), (gold_name, params) = call, g
        required = {k for k, options in params.items() if "" not in options} | _required(tools, gold_name)
        return name == gold_name and required <= keys <= set(params)

    owner: list[int | None] = [None] * len(gold_calls)

    def augment(i: int, seen: set[int]) -> bool:
        for j, g in enumerate(gold_calls):
            if j in seen or not compatible(calls[i], g):
                continue
            seen.add(j)
            if owner[j] is None or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return len(calls) == len(gold_calls) and all(augment(i, set()) for i in range(len(calls)))


def unanswerable(item: EvalItem) -> str | None:
    """Why no answer can pass BFCL's checker on this item (a defect of its possible answer), or None.

    Five v4 items: an array parameter with no acceptable value ([] where [[]] was meant), a gold parameter
    the schema does not have, a schema-required parameter whose only acceptable value is "" (omit it).
    """
    for g in item.gold or []:  # the relevance categories have no possible answer to be wrong
        for name, params in g.items():
            tool = next((t for t in item.tools if t["name"] == name), None)
            if tool is None:
                return f"gold calls {name!r}, which is not offered"
            props, required = tool["parameters"]["properties"], _required(item.tools, name)
            for key, options in params.items():
                if not options:
                    return f"{name}.{key} has no acceptable value"
                if key not in props and "" not in options:
                    return f"gold parameter {name}.{key} is not in the schema"
                if key in required and all(v == "" for v in options):
                    return f"{name}.{key} is required by the schema but may only be omitted"
    return None


REFUSAL = "None of the given functions can answer this."


def gold_predictions(items: list[EvalItem]) -> list[str]:
    """Each item's ground truth as a BFCL prompt-mode answer: the first acceptable value of each parameter;
    a parameter that may be omitted ("" among its values) is left out unless the schema requires it.
    Irrelevance items get a refusal; live_relevance, which has no possible answer and counts any call, a
    call of the first offered function with a placeholder for each required parameter."""
    out = []
    for item in items:
        if item.split in RELEVANCE_SPLITS:
            out.append(REFUSAL if "irrelevance" in item.split else _any_call(item.tools))
            continue
        calls = [
            _call_text(name, params, _required(item.tools, name))
            for g in item.gold
            for name, params in g.items()
        ]
        out.append(f"[{', '.join(calls)}]")
    return out


def _any_call(tools: list[dict[str, Any]]) -> str:
    placeholders = {"integer": 1, "float": 1.0, "boolean": True, "array": [], "tuple": [], "dict": {}}
    tool = tools[0]
    props = tool["parameters"].get("properties", {})
    args = {k: placeholders.get(props.get(k, {}).get("type"), "x") for k in _required(tools, tool["name"])}
    return f"[{tool['name']}({', '.join(f'{k}={v!r}' for k, v in sorted(args.items()))})]"


def _required(tools: list[dict[str, Any]], name: str) -> set[str]:
    return next((set(t["parameters"].get("required", [])) for t in tools if t["name"] == name), set())


def _call_text(name: str, params: dict[str, list], required: set[str]) -> str:
    args = []
    for key, options in params.items():
        values = [v for v in options if v != ""]
        if key in required or len(values) == len(options):
            args.append(f"{key}={_pick(values)!r}")
    return f"{name}({', '.join(args)})"


def _pick(options: list) -> Any:
    # BFCL writes the intended empty list of two answers as no options at all ([]): see unanswerable()
    return _value(options[0]) if options else []


def _value(value: Any) -> Any:
    if isinstance(value, dict):  # nested dicts list the acceptable values of each key in turn ...
        if not all(isinstance(v, list) for v in value.values()):  # ... bar one literal in live_multiple_121
            return value
        return {k: _pick(v) for k, v in value.items() if "" not in v}
    if isinstance(value, list):  # a list value (its dict elements nest like the above)
        return [_value(v) for v in value]
    return value


def to_bfcl_syntax(text: str) -> str:
    """A generated answer in BFCL's prompt-mode syntax `[f(a=1), g(b='x')]`, like a BFCL model handler does.

    A model trained with tl_fast writes calls one per line (or as JSON); BFCL's decoder wants one bracketed
    list. Text that tl_fast.parse_tool_calls cannot read is returned unchanged (BFCL then rejects it).
    """
    from tl_fast.data.render import python_literal
    from tl_fast.reward.parse import parse_tool_calls

    try:
        calls = parse_tool_calls(text, format="auto")
    except Exception:  # a ParseError: leave the text for BFCL's decoder to reject
        return text
    if not calls:
        return text
    parts = []
    for call in calls:
        args = [python_literal(v) for v in call.positional]
        args += [f"{k}={python_literal(v)}" for k, v in call.arguments.items()]
        parts.append(f"{call.name}({', '.join(args)})")
    return f"[{', '.join(parts)}]"
