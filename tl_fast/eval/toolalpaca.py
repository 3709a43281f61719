"""ToolAlpaca (Tang et al., 2023) eval_real / eval_simulated: TS / PI / CF on the first golden step.

    python -m tl_fast.eval --benchmark toolalpaca --split eval_real --predictions p.jsonl

Each API comes with its functions (`Function_Description`: a summary line, `Parameters: {json}` with values
"Required. <type>. <description>", an output note), a list of instructions and, per instruction, the golden
action sequence `[{"Action", "Action_Input": "<json>"}, ...]`. Upstream scores whole trajectories with a GPT-4
judge against live or simulated APIs; without those we score the model's first call against the first golden
step, the part that needs no tool output:
  TS  the first predicted call names the first golden Action;
  PI  TS and the same argument names, where arguments whose value is "" (ToolAlpaca's gold writes omitted
      optional parameters that way) are dropped on both sides;
  CF  PI and equal values: scalars compare by their string form (2024 equals "2024"), lists and objects
      exactly; gold placeholders that stand for earlier outputs or unstated values (`${id from search}`,
      "{start date}") accept any value; the free-text question of getDetails is not compared.
Gold repairs (all in `_repair_gold`): placeholders become wildcards, and the doubled key
`"symbols": "symbols": [...]` of 4 CurrencyBeacon answers is undoubled. The tool `getDetails` (ask the user),
which 8 simulated gold answers call first, is added to every tool list. Six AviationAPI gold answers call
tools missing from the upstream tool list; they are kept, so no model can get them right.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tl_fast.eval import _files
from tl_fast.eval.metrics import EvalItem, ItemResult, first_call

SPLITS = ("eval_real", "eval_simulated")
ASK_USER = "getDetails"
ASK_USER_TOOL = {
    "name": ASK_USER,
    "description": "Ask the user for details that the request leaves out and no tool can provide.",
    "parameters": {
        "type": "object",
        "properties": {"Question": {"type": "string", "description": "The question to ask the user."}},
        "required": ["Question"],
    },
}
WILDCARD = "<any>"  # stands for a gold placeholder after _repair_gold
_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


def load(split: str = "eval_real", data_dir: str | Path | None = None) -> list[EvalItem]:
    """One item per instruction, ids "<split>_<k>" in file order; scenario = the API's category."""
    if split not in SPLITS:
        raise ValueError(f"unknown ToolAlpaca split {split!r}; expected one of {', '.join(SPLITS)}")
    apis = _files.read_json(_files.find(data_dir, f"toolalpaca/{split}.json"))
    items = []
    for api in apis:
        tools = [
            tool_schema(name, text)
            for name, text in api["Function_Description"].items()
            if name != "components"
        ]
        tools.append(ASK_USER_TOOL)
        system = f"{api['Name']}: {api['Description']}"
        for instruction, steps in zip(api["Instructions"], api["Golden_Answers"], strict=True):
            items.append(
                EvalItem(
                    id=f"{split}_{len(items)}",
                    split=split,
                    scenario=api["Category"],
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": instruction},
                    ],
                    tools=tools,
                    gold=steps,
                    extra={"api": api["Name"]},
                )
            )
    return items


def tool_schema(name: str, text: str) -> dict[str, Any]:
    """A JSON-schema tool from one Function_Description entry (summary, Parameters: {...}, Output)."""
    match = re.search(r"(?:^|\n)Parameters: (\{.*?\})\n", text, re.S)
    if match is None:
        raise ValueError(f"ToolAlpaca function {name!r}: no 'Parameters: {{...}}' line in {text[:80]!r}")
    summary = text[: match.start()].strip()
    properties, required = {}, []
    for param, spec in json.loads(match.group(1)).items():
        words = spec.split(". ")
        if words[0] == "Required":
            required.append(param)
            words = words[1:]
        ptype = words[0].strip(". ").lower() if words else ""
        if ptype in _TYPES:
            words = words[1:]
        else:
            ptype = "string"
        properties[param] = {"type": ptype, "description": ". ".join(words).strip()}
    return {
        "name": name,
        "description": summary,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def _repair_gold(raw: str) -> dict[str, Any]:
    """Parse a golden Action_Input, turning placeholders into WILDCARD (see the module docstring)."""
    text = re.sub(r'"(\w+)": "\1": ', r'"\1": ', raw)
    text = re.sub(r'"?\$\{[^}]*\}"?', json.dumps(WILDCARD), text)
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"golden Action_Input is not an object: {raw!r}")
    return {
        k: WILDCARD if isinstance(v, str) and re.fullmatch(r"\{[^{}]*\}", v) else v for k, v in value.items()
    }


def first_gold(item: EvalItem) -> tuple[str, dict[str, Any]]:
    step = item.gold[0]
    return step["Action"], _repair_gold(step["Action_Input"])


def _same(gold: Any, pred: Any) -> bool:
    if gold == WILDCARD:
        return True
    if isinstance(gold, (dict, list)) or isinstance(pred, (dict, list)):
        return json.dumps(gold, sort_keys=True) == json.dumps(pred, sort_keys=True)
    return str(gold) == str(pred) if not isinstance(gold, bool) else gold == pred


def score(items: list[EvalItem], predictions: list[str]) -> list[ItemResult]:
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    results = []
    for item, prediction in zip(items, predictions, strict=True):
        result = ItemResult(item.id, item.split, item.scenario, False, False, False, prediction)
        results.append(result)
        call = first_call(prediction, item.tools)
        if call is None:
            result.note = "no readable tool call"
            continue
        name, args = call
        gold_name, gold_args = first_gold(item)
        result.ts = name == gold_name
        gold_args = {k: v for k, v in gold_args.items() if v != ""}
        args = {k: v for k, v in args.items() if v != ""}
        result.pi = result.ts and set(args) == set(gold_args)
        result.cf = result.pi and (
            name == ASK_USER or all(_same(value, args[key]) for key, value in gold_args.items())
        )
    return results


def gold_predictions(items: list[EvalItem]) -> list[str]:
    """The first golden step of each item written as a ReAct turn (placeholders as WILDCARD)."""
    out = []
    for item in items:
        name, args = first_gold(item)
        out.append(f"Thought: \nAction: {name}\nAction Input: {json.dumps(args, ensure_ascii=False)}")
    return out
