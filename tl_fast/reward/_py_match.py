"""Pure-Python twin of csrc/match_stats.cpp: per-call match statistics for ToolRL's correctness reward.

    from tl_fast.reward._py_categorize import build_problem
    from tl_fast.reward._py_match import match_stats
    stats = match_stats("get_weather(city='Paris')", build_problem(tools, gold))

Pairing, key and value rules: csrc/match_stats.h. tests/reward/test_reward_schemes.py holds this module
and the C++ core equal.
"""

from __future__ import annotations

from typing import Any

from tl_fast.reward._py_categorize import GoldCall, GoldParam, Problem, tl_equal
from tl_fast.reward._py_parse import Fail, parse
from tl_fast.reward.match import CallMatch, MatchStats


def _bound_arguments(name: str, arguments: dict, positional: list, problem: Problem) -> dict[str, Any]:
    """Keys in binding order (positional first); a key given twice keeps its first value."""
    tool = problem.find_tool(name)
    schema = list(tool.params) if tool is not None else []
    out: dict[str, Any] = {}
    for k, v in enumerate(positional):
        # '<' cannot start a parameter name, so an unbound positional argument never meets a gold key
        out.setdefault(schema[k] if k < len(schema) else f"<positional {k}>", v)
    for key, v in arguments.items():
        out.setdefault(key, v)
    return out


def _accepted(v: Any, g: GoldParam, mode: str) -> bool:
    options = [a for a in g.accepted if not (g.optional and isinstance(a, str) and a == "")]
    return any(tl_equal(v, a, mode) for a in options)


def _pair(args: dict[str, Any], gold: GoldCall, mode: str, pred: int = -1) -> CallMatch:
    gold_keys = common = values = 0
    for g in gold.params.values():
        if g.name not in args:
            gold_keys += 0 if g.optional else 1
            continue
        gold_keys += 1
        common += 1
        values += _accepted(args[g.name], g, mode)
    return CallMatch(pred, gold_keys, len(args) if pred >= 0 else 0, common, values)


def jaccard(common: int, a: int, b: int) -> float:
    """ToolRL's match_score from sizes: 1 for two empty sets, 0 when one is empty, else |∩| / |∪|."""
    if a == 0 and b == 0:
        return 1.0
    if a == 0 or b == 0:
        return 0.0
    return common / (a + b - common)


def match_stats(prediction: str, problem: Problem) -> MatchStats:
    if problem.protocol != "tl":
        raise ValueError("match statistics need protocol 'tl'")
    try:
        calls = parse(prediction)
    except Fail:
        calls = []
    if not calls:
        return MatchStats(False, 0, len(problem.gold), 0, ())
    name_used = [False] * len(calls)
    common_names = 0
    for g in problem.gold:  # multiset intersection of names
        for i, c in enumerate(calls):
            if not name_used[i] and c.name == g.name:
                name_used[i] = True
                common_names += 1
                break
    args = [_bound_arguments(c.name, c.arguments, c.positional, problem) for c in calls]
    used = [False] * len(calls)
    per_gold = []
    for g in problem.gold:
        best, best_score = _pair({}, g, problem.string_match), 0.0
        for i, c in enumerate(calls):
            if used[i] or c.name != g.name:
                continue
            m = _pair(args[i], g, problem.string_match, pred=i)
            score = jaccard(m.common_keys, m.gold_keys, m.pred_keys) + m.matched_values
            if score > best_score:  # strictly: the first of equal candidates wins, as in ToolRL's loop
                best, best_score = m, score
        if best.pred >= 0:
            used[best.pred] = True
        per_gold.append(best)
    return MatchStats(True, len(calls), len(problem.gold), common_names, tuple(per_gold))
