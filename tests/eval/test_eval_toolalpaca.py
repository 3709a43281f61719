"""ToolAlpaca first-golden-step scoring: loaders, tool schemas, gold repairs and hand-made wrong answers."""

from __future__ import annotations

import json

import pytest

from tl_fast.eval import toolalpaca
from tl_fast.eval.metrics import summarize


def react(action: str, args: dict) -> str:
    return f"Thought: I should call it.\nAction: {action}\nAction Input: {json.dumps(args)}"


def verdict(item, prediction: str) -> tuple[bool, bool, bool]:
    (r,) = toolalpaca.score([item], [prediction])
    return r.ts, r.pi, r.cf


@pytest.mark.parametrize(("split", "n"), [("eval_real", 114), ("eval_simulated", 100)])
def test_gold_scores_100(split, n):
    items = toolalpaca.load(split)
    assert len(items) == n and len({it.id for it in items}) == n
    assert summarize(toolalpaca.score(items, toolalpaca.gold_predictions(items))) == {
        "TS": 100.0,
        "PI": 100.0,
        "CF": 100.0,
        "n": n,
    }


def test_tool_schema_from_function_description():
    text = (
        'Get public holidays\nParameters: {"year": "Required. integer. ", "countryCode": "Required. string. '
        'Two-character country code.", "offset": "integer. utc timezone offset."}\nOutput: Success.'
    )
    schema = toolalpaca.tool_schema("PublicHolidays", text)
    assert schema["description"] == "Get public holidays"
    assert schema["parameters"]["required"] == ["year", "countryCode"]
    assert schema["parameters"]["properties"]["year"]["type"] == "integer"
    assert schema["parameters"]["properties"]["offset"] == {
        "type": "integer",
        "description": "utc timezone offset.",
    }
    # some upstream entries have no summary line at all
    bare = toolalpaca.tool_schema(
        "airport", 'Parameters: {"icao": "Required. string. ICAO code."}\nOutput: ok'
    )
    assert bare["description"] == "" and bare["parameters"]["required"] == ["icao"]
    with pytest.raises(ValueError, match="no 'Parameters"):
        toolalpaca.tool_schema("broken", "Get things\nOutput: ok")


def test_every_api_offers_get_details():
    for it in toolalpaca.load("eval_simulated"):
        assert it.tools[-1]["name"] == toolalpaca.ASK_USER


def test_gold_repairs():
    assert toolalpaca._repair_gold('{"id": ${animeId from searchAnime}, "n": 1}') == {"id": "<any>", "n": 1}
    assert toolalpaca._repair_gold('{"start": "{start date}", "end": ${end date}"}') == {
        "start": "<any>",
        "end": "<any>",
    }
    assert toolalpaca._repair_gold('{"base": "USD", "symbols": "symbols": ["EUR"]}') == {
        "base": "USD",
        "symbols": ["EUR"],
    }


def _first(split: str, predicate):
    return next(it for it in toolalpaca.load(split) if predicate(it))


def test_hand_made_wrong_predictions():
    # eval_real item 4: LongWeekendLongWeekend {"year": 2024, "countryCode": "US"}
    it = toolalpaca.load("eval_real")[4]
    assert toolalpaca.first_gold(it) == ("LongWeekendLongWeekend", {"year": 2024, "countryCode": "US"})
    assert verdict(it, react("LongWeekendLongWeekend", {"year": "2024", "countryCode": "US"})) == (
        True,
        True,
        True,
    )
    assert verdict(it, react("LongWeekendLongWeekend", {"year": 2023, "countryCode": "US"})) == (
        True,
        True,
        False,
    )
    assert verdict(it, react("LongWeekendLongWeekend", {"year": 2024})) == (True, False, False)
    assert verdict(it, react("PublicHolidayPublicHolidaysV3", {"year": 2024, "countryCode": "US"})) == (
        False,
        False,
        False,
    )
    assert verdict(it, "The long weekends are in May.") == (False, False, False)


def test_empty_string_means_omitted_and_placeholders_accept_anything():
    # eval_simulated item 1: searchAxolotlImages {"color": "wild", "gender": "", "size": "medium", "page": 1}
    it = toolalpaca.load("eval_simulated")[1]
    assert toolalpaca.first_gold(it)[1]["gender"] == ""
    assert verdict(it, react("searchAxolotlImages", {"color": "wild", "size": "medium", "page": 1})) == (
        True,
        True,
        True,
    )
    assert (
        verdict(it, react("searchAxolotlImages", {"color": "wild", "size": "small", "page": 1}))[2] is False
    )
    placeholder = _first("eval_simulated", lambda i: "${" in i.gold[0]["Action_Input"])
    name, args = toolalpaca.first_gold(placeholder)
    filled = {k: ("anything" if v == toolalpaca.WILDCARD else v) for k, v in args.items()}
    assert verdict(placeholder, react(name, filled)) == (True, True, True)


def test_get_details_question_is_free_text():
    it = _first("eval_simulated", lambda i: i.gold[0]["Action"] == toolalpaca.ASK_USER)
    assert verdict(it, react(toolalpaca.ASK_USER, {"Question": "Which IP address?"})) == (True, True, True)
