"""RoTBench scoring: gold answers, the upstream script's quirks (parity mode) and the fixed default mode."""

from __future__ import annotations

import json

import pytest

from tl_fast.eval import rotbench
from tl_fast.eval.metrics import EvalItem, summarize


def react(action: str, args: dict, thought: str = "") -> str:
    return f"Thought: {thought}\nAction: {action}\nAction Input: {json.dumps(args)}"


def tool(name: str, *params: str) -> dict:
    props = {p: {"type": "string", "description": p} for p in params}
    return {"name": name, "description": name, "parameters": {"type": "object", "properties": props}}


# A synthetic item: tool list ends with the ask_to_user and finish slots, as every RoTBench item does.
TOOLS = [tool("search", "query", "limit"), tool("translate", "text", "lang"), tool("ask_to_user", "question")]
TOOLS.append(tool("finish", "answer"))


def item(*gold: str, tools=TOOLS) -> EvalItem:
    return EvalItem("t_0", "clean", "TG", [], tools, list(gold))


def verdict(it: EvalItem, prediction: str, parity: bool = False) -> tuple[bool, bool, bool]:
    (r,) = rotbench.score([it], [prediction], official_parity=parity)
    return r.ts, r.pi, r.cf


@pytest.mark.parametrize("split", rotbench.SPLITS)
def test_gold_scores_100_in_default_mode(split):
    items = rotbench.load(split)
    assert len(items) == {"clean": 105, "union": 105}.get(split, 210)
    assert summarize(rotbench.score(items, rotbench.gold_predictions(items))) == {
        "TS": 100.0,
        "PI": 100.0,
        "CF": 100.0,
        "n": len(items),
    }


def test_official_parity_caps_clean_at_97_of_105():
    items = rotbench.load("clean")
    results = rotbench.score(items, rotbench.gold_predictions(items), official_parity=True)
    assert sum(r.ts for r in results) == sum(r.pi for r in results) == sum(r.cf for r in results) == 97
    assert summarize(results)["TS"] == 92.38
    skipped = {r.id for r in results if not r.ts}
    empty_gold = {it.id for it in items if rotbench.gold_call(it.gold[0])[1] == {}}
    assert skipped == empty_gold and len(skipped) == 8
    assert all("skipped by upstream" in r.note for r in results if not r.ts)


def test_scenarios_and_tools_are_read():
    items = rotbench.load("clean")
    assert {it.scenario for it in items} == set(rotbench.SCENARIOS)
    assert all(it.tools[-1]["name"] == "finish" and it.tools[-2]["name"] == "ask_to_user" for it in items)
    assert items[0].messages[1]["role"] == "user" and "See you later" in items[0].messages[1]["content"]


@pytest.mark.parametrize("parity", [False, True])
def test_hand_made_wrong_predictions_nest_ts_pi_cf(parity):
    it = item(
        react("search", {"query": "cats", "limit": "None"}), react("translate", {"text": "hi", "lang": "fr"})
    )
    assert verdict(it, react("translate", {"text": "hi", "lang": "fr"}), parity) == (True, True, True)
    assert verdict(it, react("search", {"query": "cats", "limit": 99}), parity) == (
        True,
        True,
        True,
    )  # "None"
    assert verdict(it, react("search", {"query": "dogs", "limit": 5}), parity) == (True, True, False)
    assert verdict(it, react("search", {"query": "cats"}), parity) == (True, False, False)
    assert verdict(it, react("translate", {"text": "hi", "lang": "fr", "x": 1}), parity) == (
        True,
        False,
        False,
    )
    assert verdict(it, react("ask_to_user", {"question": "?"}), parity) == (False, False, False)
    assert verdict(it, "I would search for cats.", parity) == (False, False, False)


@pytest.mark.parametrize("parity", [False, True])
def test_finish_and_ask_slots_compare_no_values(parity):
    renamed = [*TOOLS[:2], tool("ask_user_x", "question"), tool("fPnish", "answer")]
    it = item(react("fPnish", {"answer": "Paris"}), tools=renamed)
    assert verdict(it, react("fPnish", {"answer": "London"}), parity) == (True, True, True)
    # "finish" stands for whatever the last slot is called (upstream's one leniency)
    assert verdict(it, react("finish", {"answer": "London"}), parity) == (True, True, True)
    ask = item(react("ask_user_x", {"question": "Which city?"}), tools=renamed)
    assert verdict(ask, react("ask_user_x", {"question": "Where?"}), parity) == (True, True, True)


def test_parity_reproduces_upstream_quirks_that_default_mode_fixes():
    it = item(react("search", {"query": "cats", "limit": "3"}), react("translate", {}))
    good = react("search", {"query": "cats", "limit": "3"})
    # 1. Action Input {} is skipped upstream
    assert verdict(it, react("translate", {}), parity=True) == (False, False, False)
    assert verdict(it, react("translate", {}), parity=False) == (True, True, True)
    # 2. fixed offsets: no space after "Action:" loses the name's first character
    assert verdict(it, good.replace("Action: ", "Action:"), parity=True) == (False, False, False)
    assert verdict(it, good.replace("Action: ", "Action:"), parity=False) == (True, True, True)
    # 3. text after the JSON (an invented observation) makes upstream's json.loads fail
    assert verdict(it, good + "\nObservation: 3 cats", parity=True) == (False, False, False)
    assert verdict(it, good + "\nObservation: 3 cats", parity=False) == (True, True, True)
    # 4. an empty action crashes upstream (IndexError); we count it wrong and say so
    (r,) = rotbench.score([it], ['Action:\nAction Input: {"a": 1}'], official_parity=True)
    assert (r.ts, r.pi, r.cf) == (False, False, False) and "crashes" in r.note


def test_parity_reproduces_none_key_mutation_across_alternatives():
    # Upstream cf_eval deletes the gold-"None" keys from the *prediction* while looping: after alternative 1
    # (limit "None", query mismatch) the prediction has lost "limit" and then matches alternative 2's keys.
    it = item(react("search", {"query": "cats", "limit": "None"}), react("search", {"query": "dogs"}))
    pred = react("search", {"query": "dogs", "limit": 7})
    assert verdict(it, pred, parity=True) == (True, True, True)
    assert verdict(it, pred, parity=False) == (True, True, False)


def test_non_dict_action_input():
    it = item(react("search", {"query": "cats"}))
    assert verdict(it, "Action: search\nAction Input: [1]", parity=True)[0] is True  # upstream TS passes
    (r,) = rotbench.score([it], ["Action: search\nAction Input: [1]"], official_parity=True)
    assert not r.pi and "crashes" in r.note
    assert verdict(it, "Action: search\nAction Input: [1]", parity=False) == (False, False, False)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="1 items but 0 predictions"):
        rotbench.score([item(react("finish", {"answer": ""}))], [])
    with pytest.raises(ValueError, match="unknown RoTBench split 'noisy'"):
        rotbench.load("noisy")
