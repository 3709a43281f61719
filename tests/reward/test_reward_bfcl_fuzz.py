"""The BFCL checker's type and value rules: the C++ core and the Python twin on random problems.

    .venv/bin/python -m pytest -q tests/reward/test_reward_bfcl_fuzz.py

Random parameter types (every BFCL Python type, item types for arrays, an unsupported one) meet random gold
options ("" = may be omitted, options of another type = BFCL's "variable" case) and random model values
(a gold option as is or changed by case, spacing, punctuation, int -> float, list -> tuple; or anything
else). Both backends must give the same verdict, BFCL error label and IRM category. Seeded: the same
problems every run. The corpus test (test_reward_bfcl.py) checks both against BFCL's own verdicts.
"""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest

from tl_fast._native_glue import native_available
from tl_fast.reward import categorize_batch

TYPES = ["string", "integer", "float", "boolean", "array", "tuple", "dict", "any", "string", "dict", "object"]
ITEM_TYPES = ["string", "integer", "float", "boolean", "dict", "array", None]
STRINGS = ["New York, NY", "new york ny", "NEW-YORK_NY", "Paris", "paris", "", "a_b", "x'y", "1", "True", "b"]
KEYS = ["k", "a", "b"]


def scalar(rng: random.Random, kind: str):
    if kind == "string":
        return rng.choice(STRINGS)
    if kind == "integer":
        return rng.choice([0, 1, 2, 3, -1, 10**12, rng.randint(-5, 5)])
    if kind == "float":
        return rng.choice([0.0, 1.0, 2.5, -1.5, 3.0, 1e-3])
    if kind == "boolean":
        return rng.choice([True, False])
    return None


def value_of(rng: random.Random, type_name: str | None, item: str | None, depth: int = 0):
    """A value of the Python type BFCL maps `type_name` to (sometimes not quite: mixed lists)."""
    if type_name in ("array", "tuple") and depth < 2:
        kind = item if item in ("string", "integer", "float", "boolean") else "string"
        n = rng.randrange(4)
        if item == "dict":
            return [{k: scalar(rng, "string") for k in rng.sample(KEYS, 2)} for _ in range(n)]
        if item == "array":
            return [value_of(rng, "array", "integer", depth + 1) for _ in range(n)]
        items = [scalar(rng, kind) for _ in range(n)]
        if items and rng.random() < 0.2:
            items[-1] = scalar(rng, rng.choice(["string", "integer", "float"]))  # mixed
        return items
    if type_name == "dict" and depth < 2:
        keys = rng.sample(KEYS, rng.randrange(1, 3))
        return {k: scalar(rng, rng.choice(["string", "integer"])) for k in keys}
    return scalar(rng, type_name if type_name in ("string", "integer", "float", "boolean") else "string")


def gold_option(rng: random.Random, type_name: str, item: str | None):
    """One acceptable value in BFCL's possible-answer form (dicts map keys to lists of options)."""
    v = value_of(rng, type_name, item)
    if isinstance(v, dict):
        return {k: [x, scalar(rng, "string")] if rng.random() < 0.3 else [x] for k, x in v.items()}
    if isinstance(v, list) and item == "dict":
        return [{k: [x] for k, x in d.items()} for d in v]
    return v


def changed(rng: random.Random, v):
    """A gold option as a model might write it: the same, or off by case, spacing, type or one element."""
    v = copy.deepcopy(v)
    if isinstance(v, dict):  # possible-answer dict -> a model dict with one of the options per key
        d = {k: rng.choice(opts) if isinstance(opts, list) and opts else opts for k, opts in v.items()}
        roll = rng.random()
        if roll < 0.25 and d:
            key = rng.choice(list(d))
            d[key] = changed(rng, d[key])  # another value
        elif roll < 0.4:
            d[rng.choice(KEYS)] = "z"  # maybe another key
        elif roll < 0.5 and d:
            d.pop(rng.choice(list(d)))
        return d
    if isinstance(v, str):
        return rng.choice([v, v.upper(), v.replace(" ", ""), v + ".", " " + v, v + "x"])
    if isinstance(v, bool):
        return rng.choice([v, not v, int(v)])
    if isinstance(v, int):
        return rng.choice([v, float(v), v + 1, str(v)])
    if isinstance(v, float):
        return rng.choice([v, v + 0.5, int(v)])
    if isinstance(v, list):
        v = [changed(rng, x) if isinstance(x, dict) else x for x in v]
        choice = rng.randrange(4)
        if choice == 0:
            return tuple(v)
        if choice == 1 and v:
            return v[:-1]
        if choice == 2 and v and isinstance(v[0], str):
            return [x.upper() if isinstance(x, str) else x for x in v]
        return v
    return v


def problem(rng: random.Random):
    n_params = rng.randrange(1, 4)
    names = rng.sample(["p", "q", "r", "s"], n_params)
    props, gold, args = {}, {}, {}
    for name in names:
        type_name = rng.choice(TYPES)
        item = rng.choice(ITEM_TYPES) if type_name in ("array", "tuple") else None
        spec = {"type": type_name}
        if item is not None:
            spec["items"] = {"type": item}
        props[name] = spec
        base = "string" if type_name in ("any", "object") else type_name
        options = [gold_option(rng, base, item) for _ in range(rng.randrange(1, 3))]
        if rng.random() < 0.25:
            options.append(gold_option(rng, rng.choice(TYPES[:4]), None))  # another type: "variable"
        if rng.random() < 0.3:
            options.append("")  # optional
        gold[name] = options
        roll = rng.random()
        if roll < 0.8:
            args[name] = changed(rng, rng.choice(options))
        elif roll < 0.92:
            args[name] = value_of(rng, rng.choice(TYPES), rng.choice(ITEM_TYPES))
        # else: left out (missing, or fine when optional)
    required = [n for n in names if "" not in gold[n] and rng.random() < 0.7]
    tools = [{"name": "f", "parameters": {"type": "dict", "properties": props, "required": required}}]
    call = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"[f({call})]", tools, [{"f": gold}]


@pytest.mark.skipif(not native_available(), reason="native core not built")
def test_type_and_value_rules_native_equals_python():
    rng = random.Random(20240518)
    items = [problem(rng) for _ in range(4000)]
    preds, tools, golds = (list(x) for x in zip(*items, strict=True))
    kw = {"protocol": "bfcl", "bfcl_category": "simple_python"}
    python = categorize_batch(preds, tools, golds, backend="python", **kw)
    native = categorize_batch(preds, tools, golds, backend="native", num_threads=1, **kw)
    for p, a, b in zip(preds, python, native, strict=True):
        assert a == b, (p, a, b)
    labels = Counter(v.error_type for v in python)
    # the fuzz reaches every rule it is meant to compare, valid answers included
    for label in (
        None,
        "type_error:simple",
        "type_error:nested",
        "value_error:string",
        "value_error:list/tuple",
        "value_error:dict_value",
        "value_error:dict_key",
        "value_error:list_dict_count",
        "value_error:others",
        "checker:unsupported_type",
        "simple_function_checker:missing_required",
        "simple_function_checker:missing_optional",
    ):
        assert labels[label] >= 10, (label, labels)
