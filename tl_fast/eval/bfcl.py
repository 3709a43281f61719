"""BFCL v4 (Berkeley Function Calling Leaderboard), AST categories, scored with BFCL's own rules.

    python -m tl_fast.eval --benchmark bfcl --split simple_python,live_simple --predictions p.jsonl

A prediction is the model's text for one question, in BFCL's prompt-mode syntax `[f(a=1), g(b="x")]`.
Validity and the first error label come from tl_fast.reward.categorize(..., protocol="bfcl"), a port of
BFCL's AST checker (possible answers list the acceptable values of each parameter; "" = may be omitted).
TS / PI / CF are reported beside it:
  TS  the decoded calls name exactly the gold functions (as a multiset, so order is free for parallel);
  PI  TS and the calls can be paired one to one with the gold calls so that each uses only parameters the
      gold lists and all that are required (by the schema, or by a gold without "" among its values);
  CF  BFCL's verdict: valid.
A prediction BFCL cannot decode (error type ast_decoder:*) is wrong on all three; one BFCL decodes but
tl_fast.parse_tool_calls does not (a bare name as a value) gets TS = PI = CF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tl_fast.eval import _files
from tl_fast.eval.metrics import EvalItem, ItemResult

SPLITS = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)


def load(split: str = "simple_python", data_dir: str | Path | None = None) -> list[EvalItem]:
    """Questions joined with their possible answers; ids are BFCL's ("simple_python_0", ...)."""
    if split not in SPLITS:
        raise ValueError(f"unknown BFCL category {split!r}; expected one of {', '.join(SPLITS)}")
    name = f"BFCL_v4_{split}.json"
    questions = _files.read_jsonl(_files.find(data_dir, f"bfcl/{name}", f"bfcl_v4/{name}"))
    answers = _files.read_jsonl(
        _files.find(data_dir, f"bfcl/possible_answer/{name}", f"bfcl_v4/possible_answer/{name}")
    )
    gold = {a["id"]: a["ground_truth"] for a in answers}
    items = []
    for q in questions:
        if q["id"] not in gold:
            raise ValueError(f"BFCL question {q['id']!r} has no possible answer in {name}")
        items.append(
            EvalItem(
                id=q["id"],
                split=split,
                scenario=split,
                messages=list(q["question"][0]),
                tools=q["function"],
                gold=gold[q["id"]],
            )
        )
    return items


def score(
    items: list[EvalItem], predictions: list[str], *, num_threads: int | None = None
) -> list[ItemResult]:
    """One ItemResult per item with BFCL's error_type (None when valid) and the IRM category."""
    from tl_fast.reward import categorize_batch

    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    verdicts: list = [None] * len(items)
    for split in dict.fromkeys(item.split for item in items):  # the checker's rules depend on the category
        index = [k for k, item in enumerate(items) if item.split == split]
        batch = categorize_batch(
            [predictions[k] for k in index],
            [items[k].tools for k in index],
            [items[k].gold for k in index],
            protocol="bfcl",
            bfcl_category=split,
            num_threads=num_threads,
        )
        for k, verdict in zip(index, batch, strict=True):
            verdicts[k] = verdict
    results = []
    for item, prediction, verdict in zip(items, predictions, verdicts, strict=True):
        result = ItemResult(
            item.id, item.split, item.scenario, False, False, bool(verdict.correct), prediction
        )
        result.error_type = None if verdict.correct else verdict.error_type
        result.category = verdict.category
        results.append(result)
        if result.error_type and result.error_type.startswith("ast_decoder"):
            continue
        calls = _decoded_calls(prediction, item.tools)
        if calls is None:  # e.g. a bare name as a value, which BFCL's decoder reads as a string
            result.ts = result.pi = result.cf  # valid implies the right functions and parameters
            result.note = "decoded by BFCL but not by tl_fast.parse_tool_calls"
            continue
        result.ts = sorted(name for name, _ in calls) == sorted(next(iter(g)) for g in item.gold)
        result.pi = result.ts and _keys_match(calls, item.gold, item.tools)
    return results


def _decoded_calls(prediction: str, tools: list[dict[str, Any]]) -> list[tuple[str, set[str]]] | None:
    from tl_fast.reward.parse import parse_tool_calls

    try:
        calls = parse_tool_calls(prediction, format="auto")
    except Exception:  # a ParseError: BFCL decoded it, our parser did not; reported in the note
        return None
    out = []
    for call in calls:
        params = next((list(t["parameters"]["properties"]) for t in tools if t["name"] == call.name), [])
        try:
            args = call.bind(params) if call.positional else call.arguments
        except Exception:  # too many positional arguments: no parameter set can match
            args = {f"<positional {i}>": v for i, v in enumerate(call.positional)}
        out.append((call.name, set(args)))
    return out


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
    for g in item.gold:
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


def gold_predictions(items: list[EvalItem]) -> list[str]:
    """Each item's ground truth as a BFCL prompt-mode answer: the first acceptable value of each parameter;
    a parameter that may be omitted ("" among its values) is left out unless the schema requires it."""
    out = []
    for item in items:
        calls = [
            _call_text(name, params, _required(item.tools, name))
            for g in item.gold
            for name, params in g.items()
        ]
        out.append(f"[{', '.join(calls)}]")
    return out


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
