"""The native problem cache behind categorize_batch / prepare: hits for equal content, misses for anything a
verdict could depend on (in-place mutation, a freed object's reused id), correct verdicts either way."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest

from tl_fast._native_glue import native_available, native_module
from tl_fast.reward import categorize, categorize_batch, categorize_prepared, prepare
from tl_fast.reward.categorize import set_problem_cache_size

pytestmark = pytest.mark.skipif(not native_available(), reason="native core not built")


def tools():
    return [
        {
            "name": "get_weather",
            "description": "Weather of a city.",
            "parameters": {
                "type": "dict",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        }
    ]


def gold():
    return [{"get_weather": {"city": ["Paris"], "days": [3, ""]}}]


@pytest.fixture(autouse=True)
def fresh_cache():
    native_module().clear_problem_cache()
    set_problem_cache_size(8192)
    yield
    set_problem_cache_size(8192)


def stats():
    return native_module().problem_cache_stats()


def verdict(pred, t, g, **kw):
    [v] = categorize_batch([pred], [t], [g], protocol="bfcl", bfcl_category="simple_python", **kw)
    return (v.correct, v.category, v.error_type)


def test_equal_content_hits_the_cache_and_scores_the_same():
    pred = "[get_weather(city='Paris', days=3)]"
    first = verdict(pred, tools(), gold())
    assert stats()["misses"] == 1 and stats()["hits"] == 0
    again = verdict(pred, tools(), gold())  # new objects, same content: an RL loop reading its dataset again
    assert again == first == (True, "correct", None)
    assert stats()["hits"] == 1 and stats()["entries"] == 1


@pytest.mark.parametrize("hash_leaves", [True, False])
def test_in_place_mutation_is_seen(hash_leaves):
    # hash_leaves=False: every entry of this shape has one hash, so the leaf comparison (what a real collision
    # would rest on) must tell them apart.
    native_module()._problem_cache_hash_leaves(hash_leaves)
    try:
        _mutations_are_seen()
    finally:
        native_module()._problem_cache_hash_leaves(True)


def _mutations_are_seen():
    t, g = tools(), gold()
    pred = "[get_weather(city='Paris')]"

    def both():
        native = verdict(pred, t, g)
        assert native == verdict(pred, t, g, backend="python")
        return native

    assert both() == (True, "correct", None)
    g[0]["get_weather"]["city"][0] = "Lyon"  # the gold changed under the same objects
    assert both() == (False, "value_error", "value_error:string")
    g[0]["get_weather"]["city"][0] = "Paris"
    t[0]["parameters"]["required"].append("days")  # a nested list of the schema
    assert both() == (False, "param_missing", "simple_function_checker:missing_required")
    t[0]["parameters"]["required"].pop()
    t[0]["name"] = "get_forecast"  # the tool's name
    assert both()[1] == "tool_hallucination"
    t[0]["name"] = "get_weather"
    assert both() == (True, "correct", None)
    t[0]["description"] = "not read by the checker"  # what no verdict depends on may change freely
    hits = stats()["hits"]
    both()
    assert stats()["hits"] == hits + 1


def test_reused_ids_of_freed_objects_do_not_alias():
    pred = "[get_weather(city='Paris')]"
    seen = {}
    for k in range(200):  # freed lists and dicts hand their addresses to the next ones
        city = "Paris" if k % 2 else f"City{k}"
        g = [{"get_weather": {"city": [city], "days": [""]}}]
        t = tools()
        seen[(id(t), id(g))] = seen.get((id(t), id(g)), 0) + 1
        assert verdict(pred, t, g)[0] == (k % 2 == 1), k
        del t, g  # freed at once (no cycles): their memory goes to the next ones
    assert max(seen.values()) > 1  # ids were indeed reused: the test exercised what it claims


def test_values_equal_in_python_but_not_for_the_checker_stay_apart():
    pred = "[get_weather(city='Paris', days=1)]"
    as_int = gold()
    as_int[0]["get_weather"]["days"] = [1]
    as_bool = gold()
    as_bool[0]["get_weather"]["days"] = [True]  # True == 1 in Python, not for BFCL's type checker
    assert verdict(pred, tools(), as_int)[0]
    assert verdict(pred, tools(), as_bool) == verdict(pred, tools(), as_bool, backend="python")
    as_float = gold()
    as_float[0]["get_weather"]["days"] = [-0.0]
    assert verdict("[get_weather(city='Paris', days=0)]", tools(), as_float) == verdict(
        "[get_weather(city='Paris', days=0)]", tools(), as_float, backend="python"
    )


def test_uncacheable_types_and_a_disabled_cache_still_score():
    pred = "[get_weather(city='Paris', days=3)]"
    odd = [OrderedDict(tools()[0])]  # a dict subclass: converted every time, never cached
    assert verdict(pred, odd, gold()) == (True, "correct", None)
    assert stats()["uncacheable"] == 1 and stats()["entries"] == 0
    set_problem_cache_size(0)
    assert verdict(pred, tools(), gold()) == (True, "correct", None)
    assert stats()["entries"] == 0
    set_problem_cache_size(2)
    golds = [[{"get_weather": {"city": [c], "days": [""]}}] for c in ("A", "B", "C", "Paris")]
    for _ in range(2):
        got = [verdict("[get_weather(city='Paris')]", tools(), g)[0] for g in golds]
        assert got == [False, False, False, True]
    assert stats()["entries"] == 2


def test_batch_paths_agree_with_the_twin_on_shared_and_repeated_objects():
    shared_tools = tools()
    golds = [[{"get_weather": {"city": [f"C{k % 50}"], "days": [""]}}] for k in range(3000)]
    preds = [f"[get_weather(city='C{(k * 7) % 50}')]" for k in range(3000)]
    tools_list = [shared_tools] * len(golds)  # one tools object, many golds
    for threads in (1, 2, 3):
        native = categorize_batch(preds, tools_list, golds, protocol="bfcl", num_threads=threads)
        assert native == categorize_batch(preds, tools_list, golds, protocol="bfcl", backend="python")
        prepared = prepare(tools_list, golds, protocol="bfcl")
        assert categorize_prepared(preds, prepared, num_threads=threads) == native
    assert sum(v.correct for v in native) == sum((k * 7) % 50 == k % 50 for k in range(3000))


def test_items_of_interleaved_pairs_get_their_own_verdicts_in_order():
    # categorize_batch scores the items of one (tools, gold) pair together: the verdicts must still come back
    # in item order, each against its own pair, also when pairs recur out of order.
    pool = [[{"get_weather": {"city": [f"C{j}"], "days": [j, ""]}}] for j in range(7)]
    shared = tools()
    golds = [pool[(k * 3) % 7] for k in range(2000)]
    preds = [f"[get_weather(city='C{k % 7}', days={k % 5})]" if k % 11 else "no call" for k in range(2000)]
    expected = categorize_batch(preds, [shared] * 2000, golds, protocol="bfcl", backend="python")
    assert len({(v.correct, v.category) for v in expected}) >= 3  # the order is visible in the verdicts
    tools_list = [shared] * 2000
    for threads in (1, 2, 3):
        assert categorize_batch(preds, tools_list, golds, protocol="bfcl", num_threads=threads) == expected


def test_a_bad_item_names_its_index_and_leaves_no_thread_behind():
    golds = [gold()] * 500 + [{"not": "a gold"}] + [gold()] * 10
    with pytest.raises(ValueError, match="item 500"):
        categorize_batch(["x"] * 511, [tools()] * 511, golds, num_threads=2)
    assert categorize("[get_weather(city='Paris')]", tools(), copy.deepcopy(gold()), protocol="bfcl").correct


def test_protocol_and_string_match_are_part_of_the_key():
    t, g = tools(), gold()
    pred = "[get_weather(city='paris')]"  # BFCL standardizes strings; the TL protocol compares them exactly
    assert categorize_batch([pred], [t], [g], protocol="bfcl")[0].correct
    assert categorize_batch([pred], [t], [g], protocol="tl")[0].category == "value_error"
    assert categorize_batch([pred], [t], [g], protocol="tl", string_match="normalize")[0].correct
    assert stats()["entries"] == 3


def test_bfcl_mode_and_underscore_to_dot_are_part_of_the_key():
    # BFCL's underscore_to_dot: an FC model that may not emit '.' calls the tool "weather.get" as weather_get
    t = [dict(tools()[0], name="weather.get")]
    g = [{"weather.get": {"city": ["Paris"], "days": [3, ""]}}]
    pred = "[weather_get(city='Paris')]"
    for _ in range(2):  # the second round is served from the cache: each key must still get its own problem
        assert verdict(pred, t, g, underscore_to_dot=True)[0]
        assert not verdict(pred, t, g, underscore_to_dot=False)[0]
        fc = categorize_batch(
            ['[{"weather_get": "{\\"city\\": \\"Paris\\"}"}]'],
            [t],
            [g],
            protocol="bfcl",
            bfcl_category="simple_python",
            bfcl_mode="fc",
        )[0]
        assert fc.correct  # FC mode: BFCL's FC handler layout, underscore_to_dot on by default
    assert stats()["entries"] == 3
