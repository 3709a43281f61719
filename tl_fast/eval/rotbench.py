"""RoTBench (Ye et al., 2024) First_Turn: tool selection / parameter identification / content filling.

    python -m tl_fast.eval --benchmark rotbench --split clean,slight,medium,heavy,union --predictions p.jsonl
    python -m tl_fast.eval --benchmark rotbench --official-parity --predictions p.jsonl   # upstream numbers

Each item is one user query with a ReAct system prompt that lists the tools as JSON; the gold is a list of
acceptable `Thought:/Action:/Action Input: {json}` strings. Definitions (upstream
Code/Evaluation/evaluate.py):
  TS  the predicted action equals the action of some gold alternative ("finish" also matches a renamed last
      tool slot);
  PI  TS for that alternative and the same set of argument names;
  CF  PI and equal values, where a gold value "None" accepts any value and the values of the last two tool
      slots (finish, ask_to_user) are not compared.

Default mode keeps these definitions and fixes three defects of the upstream script:
  1. it skips every prediction whose Action Input is `{}`, so the 8 clean items whose tool takes no argument
     can never be right (gold answers fed back score 97/105 = 92.38 TS);
  2. it deletes the "None" keys from the prediction while looping over alternatives, so one alternative can
     spoil the comparison with the next;
  3. it slices text at fixed offsets (`find("Action:") + 8`), so "Action:get" or a missing "Action:" give
     garbage names, a trailing "Observation:" breaks the JSON, and an empty action crashes it (IndexError).
`official_parity=True` reproduces the script exactly; where the script would crash, the item counts as wrong
and its note says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tl_fast.eval import _files
from tl_fast.eval.metrics import EvalItem, ItemResult, first_call

SPLITS = ("clean", "slight", "medium", "heavy", "union")
SCENARIOS = {
    "TG": "Text Generation",
    "RS": "Real-Time Search",
    "DU": "Data Understanding",
    "PL": "Personal Life",
    "AM": "Application Manipulation",
    "IR": "Information Retrieval",
    "FT": "Financial Transactions",
}
_SYSTEM_SUFFIX = "\n\nLet's Begin!"  # the upstream get_config strips these 13 characters


def load(split: str = "clean", data_dir: str | Path | None = None) -> list[EvalItem]:
    """The items of one noise level; ids are "<split>_<index>" (upstream ids repeat across noisy copies)."""
    if split not in SPLITS:
        raise ValueError(f"unknown RoTBench split {split!r}; expected one of {', '.join(SPLITS)}")
    path = _files.find(data_dir, f"rotbench/First_Turn/{split}.json")
    items = []
    for index, record in enumerate(_files.read_json(path)):
        system, user, answer = (turn["value"] for turn in record["conversations"])
        tools = tool_config(system)
        items.append(
            EvalItem(
                id=f"{split}_{index}",
                split=split,
                scenario=record["scenario"],
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                tools=tools,
                gold=list(answer),
                extra={"upstream_id": record["id"], "system_prefix": system[: system.find("[")]},
            )
        )
    return items


def tool_config(system: str) -> list[dict[str, Any]]:
    """The JSON tool list embedded in the system prompt (upstream get_config)."""
    return json.loads(system[system.find("[") : -len(_SYSTEM_SUFFIX)])


def gold_call(gold: str) -> tuple[str, dict[str, Any]]:
    """(action, arguments) of one gold alternative string."""
    action = gold[gold.find("Action:") + 8 : gold.find("Action Input:")].rstrip("\n")
    return action, json.loads(gold[gold.find("Action Input:") + 14 :])


def score(
    items: list[EvalItem], predictions: list[str], *, official_parity: bool = False
) -> list[ItemResult]:
    """One ItemResult per item; predictions[i] is the raw model text for items[i]."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    fn = _score_official if official_parity else _score_fixed
    return [fn(item, pred) for item, pred in zip(items, predictions, strict=True)]


# ----------------------------------------------------------------------------------------- default (fixed)


def _score_fixed(item: EvalItem, prediction: str) -> ItemResult:
    result = ItemResult(item.id, item.split, item.scenario, False, False, False, prediction)
    call = first_call(prediction, item.tools)
    if call is None:
        result.note = "no readable Action / Action Input"
        return result
    action, args = call
    finish_slot, ask_slot = item.tools[-1]["name"], item.tools[-2]["name"]
    for alternative in item.gold:
        gold_action, gold_args = gold_call(alternative)
        if not (action == gold_action or (action == "finish" and gold_action == finish_slot)):
            continue
        result.ts = True
        if set(args) != set(gold_args):
            continue
        result.pi = True
        if gold_action in (finish_slot, ask_slot) or all(
            value == "None" or args[key] == value for key, value in gold_args.items()
        ):
            result.cf = True
            break
    return result


# --------------------------------------------------------------------------------------- official parity


def _official_test_value(prediction: str) -> tuple[str, Any]:
    """Upstream get_test_value(version=0), offsets and all. Raises IndexError where upstream does."""
    test_action = prediction[prediction.find("Action:") + 8 : prediction.find("Action Input:")]
    if test_action[-1] == "\n":
        test_action = test_action[:-1]
    try:
        test_action_input = json.loads(prediction[prediction.find("Action Input:") + 14 :])
    except json.JSONDecodeError:
        return test_action, 0
    if isinstance(test_action_input, str):
        return test_action, 0
    return test_action, test_action_input


def _official_levels(item: EvalItem, prediction: str) -> tuple[list[bool], str]:
    """[TS, PI, CF] as upstream ts_eval / pi_eval / cf_eval count this item, and a note on skips/crashes."""
    config = item.tools
    try:
        test_action, parsed = _official_test_value(prediction)
    except IndexError:
        return [False] * 3, "upstream evaluate.py crashes on this prediction (IndexError on an empty action)"
    if not parsed:
        return [False] * 3, "skipped by upstream evaluate.py (Action Input empty, {} or not JSON)"

    def passes(depth: int) -> bool:
        # One upstream pass (depth 1 = ts_eval, 2 = pi_eval, 3 = cf_eval). Each re-parses the prediction;
        # within a pass test_action and test_action_input persist, and mutate, across the alternatives.
        action, args = test_action, json.loads(json.dumps(parsed))
        for ans in item.gold:
            answer_action = ans[ans.find("Action:") + 8 : ans.find("Action Input:")]
            if answer_action[-1] == "\n":
                answer_action = answer_action[:-1]
            answer_args = json.loads(ans[ans.find("Action Input:") + 14 :])
            if answer_action == config[-1]["name"] and action == "finish":
                action = answer_action
            if answer_action != action:
                continue
            if depth == 1:
                return True
            if answer_args.keys() != args.keys():  # AttributeError for a non-dict input, as upstream
                continue
            if depth == 2:
                return True
            if answer_action == config[-1]["name"]:
                answer_action = "finish"
            if answer_action == config[-2]["name"]:
                answer_action = "ask_to_user"
            for key in [k for k, v in answer_args.items() if v == "None"]:
                del answer_args[key]
                del args[key]
            if answer_args != args and answer_action not in ("finish", "ask_to_user"):
                continue
            return True
        return False

    levels, note = [], ""
    for depth in (1, 2, 3):
        try:
            levels.append(passes(depth))
        except AttributeError:
            levels.append(False)
            note = "upstream evaluate.py crashes on this prediction (Action Input is not a dict)"
    return levels, note


def _score_official(item: EvalItem, prediction: str) -> ItemResult:
    (ts, pi, cf), note = _official_levels(item, prediction)
    return ItemResult(item.id, item.split, item.scenario, ts, pi, cf, prediction, note=note)


def gold_predictions(items: list[EvalItem]) -> list[str]:
    """The first gold alternative of each item, verbatim."""
    return [item.gold[0] for item in items]
