"""BFCL pieces: loading, gold answers as text, the PI pairing, and the BFCL-syntax adapter for generations."""

from __future__ import annotations

import ast

from tl_fast.eval import bfcl


def test_every_category_loads_with_its_answers():
    sizes = {s: len(bfcl.load(s)) for s in bfcl.SPLITS}
    assert sizes == {
        "simple_python": 400,
        "multiple": 200,
        "parallel": 200,
        "parallel_multiple": 200,
        "live_simple": 258,
        "live_multiple": 1053,
        "live_parallel": 16,
        "live_parallel_multiple": 24,
        "irrelevance": 240,
        "live_irrelevance": 884,
        "live_relevance": 16,
    }
    # the relevance categories have no possible answer; four live_irrelevance questions offer no function
    assert all(i.gold is None for s in bfcl.RELEVANCE_SPLITS for i in bfcl.load(s))
    assert sum(not i.tools for i in bfcl.load("live_irrelevance")) == 4


def test_gold_predictions_are_python_lists_of_calls():
    items = bfcl.load("simple_python")[:3] + bfcl.load("parallel_multiple")[:3]
    for item, text in zip(items, bfcl.gold_predictions(items), strict=True):
        tree = ast.parse(text, mode="eval").body
        assert isinstance(tree, ast.List) and len(tree.elts) == len(item.gold)
    # "" in the acceptable values = left out; otherwise the first acceptable value
    assert bfcl.gold_predictions(bfcl.load("simple_python")[:1]) == [
        "[calculate_triangle_area(base=10, height=5)]"
    ]


def test_keys_match_pairs_calls_one_to_one():
    gold = [{"f": {"a": [1], "b": ["", 2]}}, {"f": {"a": [3], "c": [4]}}]
    assert bfcl._keys_match([("f", {"a", "c"}), ("f", {"a"})], gold)  # order free, optional b left out
    assert bfcl._keys_match([("f", {"a", "b"}), ("f", {"a", "c"})], gold)
    assert not bfcl._keys_match([("f", {"a"}), ("f", {"a"})], gold)  # the second gold call needs c
    assert not bfcl._keys_match([("f", {"a", "d"}), ("f", {"a", "c"})], gold)  # d is not a gold parameter
    assert not bfcl._keys_match([("f", {"a", "c"})], gold)  # count


def test_to_bfcl_syntax_brackets_calls_written_one_per_line():
    text = "get_weather(city='Paris', days=3)\nget_time(tz='CET')"
    assert bfcl.to_bfcl_syntax(text) == "[get_weather(city='Paris', days=3), get_time(tz='CET')]"
    assert bfcl.to_bfcl_syntax("I cannot help with that") == "I cannot help with that"
