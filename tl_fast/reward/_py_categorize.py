"""Pure-Python twin of csrc/categorize.cpp: problem building and TL-Training's error categories.

    from tl_fast.reward._py_categorize import build_problem, categorize
    problem = build_problem(tools, "get_weather(city='Paris')", protocol="tl")
    correct, category, error_type = categorize("get_weather(city='paris')", problem, rewards)

The category rules are those of the authors' reward code (see tl_fast/reward/table.py); this module and the
C++ core are held equal by tests/reward/test_reward_categorize.py and test_reward_property.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tl_fast.reward import _py_bfcl
from tl_fast.reward._py_json import call_object
from tl_fast.reward._py_parse import Fail, parse
from tl_fast.reward.table import CATEGORIES

_SPACE = " \t\n\r\f\v"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class ToolSchema:
    name: str
    params: dict[str, tuple[str | None, str | None]] = field(
        default_factory=dict
    )  # name -> (type, items.type)
    required: list[str] = field(default_factory=list)


@dataclass
class GoldParam:
    name: str
    accepted: list[Any]
    optional: bool = False


@dataclass
class GoldCall:
    name: str
    params: dict[str, GoldParam] = field(default_factory=dict)


@dataclass
class Problem:
    protocol: str
    bfcl_category: str
    string_match: str
    tools: list[ToolSchema]
    gold: list[GoldCall]
    expect: str = "calls"  # "calls" (the gold), "no_call" or "any_call" (see csrc/categorize.h Expect)
    bfcl_mode: str = "prompt"  # BFCL result layout: "prompt" text or "fc" (function-calling mode)
    underscore_to_dot: bool = False  # BFCL's per-model flag: tool "a.b" is called as "a_b"

    def find_tool(self, name: str) -> ToolSchema | None:
        for tool in self.tools:
            if tool.name == name:
                return tool
        return None


def build_problem(
    tools: list[dict],
    gold: Any,
    *,
    protocol: str = "tl",
    bfcl_category: str | None = None,
    string_match: str = "exact",
    bfcl_mode: str = "prompt",
    underscore_to_dot: bool = False,
) -> Problem:
    if protocol not in ("tl", "bfcl"):
        raise ValueError(f"unknown protocol {protocol!r}; expected 'tl' or 'bfcl'")
    if string_match not in ("exact", "normalize"):
        raise ValueError(f"unknown string_match {string_match!r}; expected 'exact' or 'normalize'")
    if bfcl_mode not in ("prompt", "fc"):
        raise ValueError(f"unknown bfcl_mode {bfcl_mode!r}; expected 'prompt' or 'fc'")
    if not isinstance(tools, (list, tuple)):
        raise ValueError("tools must be a list of tool schemas")
    category = bfcl_category or ("simple_python" if protocol == "bfcl" else "")
    problem = Problem(protocol, category, string_match, [_tool(t) for t in tools], [])
    problem.bfcl_mode, problem.underscore_to_dot = bfcl_mode, bool(underscore_to_dot)
    empty_gold = isinstance(gold, list) and not gold
    if protocol == "bfcl" and _py_bfcl.relevance_category(category):
        # BFCL scores these by whether the model calls at all; there is no possible answer to compare
        if gold is not None and not empty_gold:
            raise ValueError(f"BFCL category {category!r} has no possible answer; pass gold=None or []")
        problem.expect = "no_call" if "irrelevance" in category else "any_call"
    elif protocol == "tl" and empty_gold:
        problem.expect = "no_call"
    else:
        _add_gold(gold, problem)
        if not problem.gold:
            raise ValueError("gold holds no call")
    return problem


def _tool(t: Any) -> ToolSchema:
    if isinstance(t, dict) and "name" not in t and "function" in t:
        t = t["function"]
    if not isinstance(t, dict) or not isinstance(t.get("name"), str):
        raise ValueError("every tool needs a string 'name'")
    schema = ToolSchema(t["name"])
    params = t.get("parameters")
    if not isinstance(params, dict):
        return schema
    props = params.get("properties")
    if isinstance(props, dict):
        for name, spec in props.items():
            spec = spec if isinstance(spec, dict) else {}
            type_name = spec.get("type") if isinstance(spec.get("type"), str) else None
            items = spec.get("items")
            item_type = items.get("type") if isinstance(items, dict) else None
            schema.params[name] = (type_name, item_type if isinstance(item_type, str) else None)
    required = params.get("required")
    if isinstance(required, list):
        schema.required = [r for r in required if isinstance(r, str)]
    return schema


def _add_gold(g: Any, problem: Problem) -> None:
    if isinstance(g, str):
        try:
            calls = parse(g)
        except Fail as exc:
            raise ValueError(f"gold call does not parse: {exc.reason}") from None
        for call in calls:
            gc = GoldCall(call.name, {k: GoldParam(k, [v]) for k, v in call.arguments.items()})
            if call.positional:
                tool = problem.find_tool(call.name)
                if tool is None or len(call.positional) > len(tool.params):
                    raise ValueError(f"gold call {call.name!r} has positional arguments that match no schema")
                for name, v in zip(tool.params, call.positional, strict=False):
                    gc.params[name] = GoldParam(name, [v])
            problem.gold.append(gc)
        return
    if isinstance(g, (list, tuple)):
        for item in g:
            _add_gold(item, problem)
        return
    if not isinstance(g, dict):
        raise ValueError("gold must be a call string, a dict or a list")
    fn = g.get("function")
    name = g["name"] if "name" in g else fn.get("name") if isinstance(fn, dict) else None
    if isinstance(name, str):  # a call object, read as the parser reads one
        try:
            name, args = call_object(g)
        except ValueError as exc:
            raise ValueError(f"gold call: {exc}") from None
        problem.gold.append(GoldCall(name, {k: GoldParam(k, [v]) for k, v in args.items()}))
        return
    if len(g) == 1:
        ((name, params),) = g.items()
        if isinstance(name, str) and isinstance(params, dict):  # BFCL {name: {param: [values]}}
            gc = GoldCall(name)
            for param, options in params.items():
                accepted = list(options) if isinstance(options, list) else [options]
                optional = any(isinstance(o, str) and o == "" for o in accepted)
                gc.params[param] = GoldParam(param, accepted, optional)
            problem.gold.append(gc)
            return
    raise ValueError("gold dict must have 'name' (+ 'arguments') or be BFCL's {name: {param: [values]}}")


# ---- TL protocol ----------------------------------------------------------------------------------------


def normalize(s: str) -> str:
    """string_match="normalize": trim, collapse whitespace runs to one space, lower-case ASCII letters."""
    return " ".join(_split_space(s)).translate(_ASCII_LOWER)


def _split_space(s: str) -> list[str]:
    out, word = [], []
    for c in s:
        if c in _SPACE:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(c)
    if word:
        out.append("".join(word))
    return out


def tl_equal(a: Any, b: Any, mode: str) -> bool:
    """1 == 1.0, True != 1, lists == tuples, dicts ignore key order; strings per `mode`."""
    num = (int, float)
    if isinstance(a, num) and not isinstance(a, bool) and isinstance(b, num) and not isinstance(b, bool):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(tl_equal(x, y, mode) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b if mode == "exact" else normalize(a) == normalize(b)
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for ka, va in a.items():
            if not any(tl_equal(ka, kb, mode) and tl_equal(va, vb, mode) for kb, vb in b.items()):
                return False
        return True
    return False


def categorize_pair(name: str, arguments: dict, positional: list, gold: GoldCall, problem: Problem) -> str:
    tool = problem.find_tool(name)
    if tool is None:
        return "tool_hallucination"
    if name != gold.name:
        return "wrong_tool"
    schema_names = list(tool.params)
    args: list[tuple[str, Any]] = []
    hallucinated = False
    for k, v in enumerate(positional):  # positional arguments take the schema's names in order
        if k < len(schema_names):
            args.append((schema_names[k], v))
        else:
            args.append((f"<positional {k}>", v))
            hallucinated = True
    bound = {n for n, _ in args}
    for n, v in arguments.items():
        hallucinated = hallucinated or n in bound  # given twice: not a valid call of the schema
        args.append((n, v))
    redundant = False
    for n, _ in args:
        if n not in tool.params:
            hallucinated = True
        elif n not in gold.params:
            redundant = True
    given = {n for n, _ in args}
    missing = any(not g.optional and g.name not in given for g in gold.params.values())
    flags = [
        f for f, on in (("hallucination", hallucinated), ("redundant", redundant), ("missing", missing)) if on
    ]
    if flags:
        return "+".join(f"param_{f}" for f in flags)
    for n, v in args:
        g = gold.params[n]
        accepted = [a for a in g.accepted if not (g.optional and isinstance(a, str) and a == "")]
        if not any(tl_equal(v, a, problem.string_match) for a in accepted):
            return "value_error"
    return "correct"


def _categorize_tl(prediction: str, problem: Problem, rewards: list[float]) -> str:
    try:
        calls = parse(prediction)
    except Fail:
        return "format_error"
    if not calls:  # no call: right when none was wanted, else an abstention
        return "correct" if problem.expect == "no_call" else "irrelevant"
    if any(problem.find_tool(c.name) is None for c in calls):
        return "tool_hallucination"
    if problem.expect == "no_call":  # a call where none was wanted: every offered tool is the wrong one
        return "wrong_tool"
    n = len(calls)
    if n != len(problem.gold):
        return "count_mismatch"
    if n == 1:
        c = calls[0]
        return categorize_pair(c.name, c.arguments, c.positional, problem.gold[0], problem)
    cat = [
        [categorize_pair(c.name, c.arguments, c.positional, g, problem) for g in problem.gold] for c in calls
    ]

    def reward(i: int, j: int) -> float:
        return rewards[CATEGORIES.index(cat[i][j])]

    match = [0] * n
    if n <= 12:  # exact assignment by DP over subsets (same order and tie-breaking as the C++ core)
        full = (1 << n) - 1
        best = [float("-inf")] * (full + 1)
        choice = [-1] * (full + 1)
        best[0] = 0.0
        for mask in range(full):
            if best[mask] == float("-inf"):
                continue
            i = bin(mask).count("1")
            for j in range(n):
                if mask & (1 << j):
                    continue
                nxt = mask | (1 << j)
                r = best[mask] + reward(i, j)
                if r > best[nxt]:
                    best[nxt], choice[nxt] = r, j
        mask = full
        for i in reversed(range(n)):
            match[i] = choice[mask]
            mask &= ~(1 << match[i])
    else:  # greedy beyond 12 calls: best remaining pair first
        used_p, used_g = [False] * n, [False] * n
        for _ in range(n):
            br, bi, bj = float("-inf"), 0, 0
            for i in range(n):
                for j in range(n):
                    if not used_p[i] and not used_g[j] and reward(i, j) > br:
                        br, bi, bj = reward(i, j), i, j
            used_p[bi] = used_g[bj] = True
            match[bi] = bj
    worst = "correct"
    for i in range(n):
        r, wr = reward(i, match[i]), rewards[CATEGORIES.index(worst)]
        if r < wr or (r == wr and worst == "correct"):
            worst = cat[i][match[i]]
    return worst


def categorize(prediction: str, problem: Problem, rewards: list[float]) -> tuple[bool, str, str | None]:
    """(correct, category, BFCL error_type or None) of one prediction."""
    if problem.protocol == "tl":
        category = _categorize_tl(prediction, problem, rewards)
        return category == "correct", category, None
    valid, error_type, category = _py_bfcl.bfcl_check(prediction, problem)
    return valid, category, error_type
