"""BFCL parity: our port of BFCL's decoder + AST checker gives BFCL's own verdicts on real model outputs."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import pytest

from tl_fast._native_glue import native_available, native_module
from tl_fast.reward import categorize, categorize_batch
from tl_fast.reward._py_bfcl import bfcl_decode, standardize_string

BACKENDS = ["python"] + (["native"] if native_available() else [])
DATA = Path(__file__).parent / "data" / "bfcl_gemma4_verdicts.jsonl.gz"


def corpus() -> dict[str, list[dict]]:
    by_category = defaultdict(list)
    with gzip.open(DATA, "rt") as f:
        for line in f:
            row = json.loads(line)
            by_category[row["category"]].append(row)
    return by_category


@pytest.mark.parametrize("backend", BACKENDS)
def test_gemma4_outputs_get_bfcls_verdicts(backend):
    """All 2,351 items of 8 categories: same validity and same first error_type as BFCL's checker."""
    checked = 0
    for category, rows in corpus().items():
        verdicts = categorize_batch(
            [r["result"] for r in rows],
            [r["function"] for r in rows],
            [r["ground_truth"] for r in rows],
            protocol="bfcl",
            bfcl_category=category,
            backend=backend,
        )
        for row, v in zip(rows, verdicts, strict=True):
            assert (v.correct, v.error_type) == (row["valid"], row["error_type"]), row["id"]
            assert v.category == "correct" if v.correct else v.category != "correct"
        checked += len(rows)
    assert checked == 2351


TOOLS = [
    {
        "name": "f",
        "parameters": {
            "type": "dict",
            "properties": {
                "s": {"type": "string"},
                "n": {"type": "integer"},
                "x": {"type": "float"},
                "xs": {"type": "array", "items": {"type": "integer"}},
                "d": {"type": "dict"},
                "b": {"type": "boolean"},
            },
            "required": ["s"],
        },
    }
]
GOLD = [
    {
        "f": {
            "s": ["New York, NY"],
            "n": [3, ""],
            "x": [2.0, ""],
            "xs": [[1, 2], ""],
            "d": [{"k": ["v"]}, ""],
            "b": [True, ""],
        }
    }
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "prediction, valid, error_type",
    [
        ("[f(s='new york ny')]", True, None),  # standardize_string: case, spaces and ",./-_*^" ignored
        ("f(s='New York, NY', x=2)", True, None),  # int -> float is allowed; brackets are added
        ("```\n[f(s='New York, NY', n=3)]\n```", True, None),
        ("[f(s='New York, NY', n=3.0)]", False, "type_error:simple"),
        ("[f(s='New York, NY', n=4)]", False, "value_error:others"),
        ("[f(s='Boston')]", False, "value_error:string"),
        ("[f(s='New York, NY', xs=[1, 3])]", False, "value_error:list/tuple"),
        # BFCL: the "" option passes the nested type check (it is not a list), so the value check reports
        ("[f(s='New York, NY', xs=[1, 'a'])]", False, "value_error:list/tuple"),
        ("[f(s='New York, NY', d={'k': 'w'})]", False, "value_error:dict_value"),
        ("[f(s='New York, NY', d={'z': 'v'})]", False, "value_error:dict_key"),
        ("[f(s='New York, NY', b=true)]", False, "type_error:simple"),  # BFCL reads `true` as the name "true"
        ("[f(s='New York, NY', q=1)]", False, "simple_function_checker:unexpected_param"),
        ("[f(n=3)]", False, "simple_function_checker:missing_required"),
        ("[g(s='New York, NY')]", False, "simple_function_checker:wrong_func_name"),
        ("[f(s='New York, NY'), f(s='x')]", False, "simple_function_checker:wrong_count"),
        ("[f(s='New York, NY')]<end_of_turn>", False, "ast_decoder:decoder_failed"),  # no token stripping
        ("[f(s=lambda: 1)]", False, "ast_decoder:decoder_failed"),
        ("[f('New York, NY')]", False, "simple_function_checker:missing_required"),  # positional: dropped
        ("[f(s='New York, NY', n=1+2)]", True, None),  # BFCL evaluates arithmetic
    ],
)
def test_checker_quirks(backend, prediction, valid, error_type):
    v = categorize(prediction, TOOLS, GOLD, protocol="bfcl", bfcl_category="simple_python", backend=backend)
    assert (v.correct, v.error_type) == (valid, error_type)


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_is_order_free_and_multiple_checks_the_first(backend):
    tools = TOOLS + [
        {
            "name": "g",
            "parameters": {"type": "dict", "properties": {"a": {"type": "integer"}}, "required": []},
        }
    ]
    gold = [{"g": {"a": [1]}}, {"f": {"s": ["x"]}}]
    ok = categorize(
        "[f(s='x'), g(a=1)]", tools, gold, protocol="bfcl", bfcl_category="parallel_multiple", backend=backend
    )
    assert ok.correct
    bad = categorize(
        "[f(s='y'), g(a=1)]", tools, gold, protocol="bfcl", bfcl_category="parallel", backend=backend
    )
    assert (bad.error_type, bad.category) == (
        "parallel_function_checker_no_order:cannot_find_match",
        "value_error",
    )
    count = categorize("[g(a=1)]", tools, gold, protocol="bfcl", bfcl_category="parallel", backend=backend)
    assert count.error_type == "parallel_function_checker_no_order:wrong_count"
    multiple = categorize(
        "[g(a=1)]", tools, [gold[0]], protocol="bfcl", bfcl_category="multiple", backend=backend
    )
    assert multiple.correct


@pytest.mark.skipif(not native_available(), reason="native core not built")
def test_native_decoder_equals_bfcl_decoder():
    native = native_module()
    texts = [r["result"] for rows in corpus().values() for r in rows]
    texts += [
        "[f(a=2**3, b=7//2, c=-7 % 3, d=1/4, e='ab'*2, f=g(1, 'x'), h=x[0], i=(1,), j={1: [2]}, k=...)]",
        "[f(l=not True, m=-True)]",
        "[f(a==1, b:=2, x=g(b is not None, c not in d, e if f else g, not h, i | j ^ k & l << 2))]",
        "[f(x=g(m or n and o, a if b else (c if d else e), not (a or b), a or b or c or (d and e)))]",
        "[f(x=g(2 ** -1, (-2) ** 2, a.b.c(1), x[1][2], {1, 2}, a < (b < c), 2 ** 3 ** 4, (2 ** 3) ** 4))]",
        "[f(x=g(-(-1), a - (b - c), 'it\\'s', 1e100, 1.5e-7))]",
        "[f(y=z[1, 2], w=q[0](1))]",
    ]
    for text in texts:
        assert native.bfcl_decode(text) == bfcl_decode(text), text


@pytest.mark.skipif(not native_available(), reason="native core not built")
def test_native_standardize_string_equals_python_lower_on_common_scripts():
    samples = [
        "New York, NY",
        "ÀÉÎÕÜ Ÿ",
        "ΑΒΓ Δέλτα",
        "Привет, МИР",
        "Ａｂｃ",
        "거실, 에어컨",
        "Ĳ ĳ Ł ł Ž ž",
        "O'Brien_*^",
    ]
    for s in samples:
        assert native_module().bfcl_standardize(s) == standardize_string(s), s


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_type_error_without_an_optional_answer(backend):
    gold = [{"f": {"s": ["x"], "xs": [[1, 2]]}}]
    v = categorize("[f(s='x', xs=[1, 'a'])]", TOOLS, gold, protocol="bfcl", backend=backend)
    assert (v.correct, v.error_type) == (False, "type_error:nested")
