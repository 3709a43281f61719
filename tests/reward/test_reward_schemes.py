"""Reward schemes irm / binary / toolrl on hand-made predictions, native and Python twin equal, and ToolRL's
reward against an independent re-statement of the reference code (qiancheng0/ToolRL rlla.py)."""

import random
from collections import Counter

import pytest

from tl_fast import native_available
from tl_fast.reward import (
    BinaryReward,
    IRMReward,
    RewardTable,
    ToolRLReward,
    match_stats_batch,
    prepare,
    reward_scheme,
)

BACKENDS = ["python"] + (["native"] if native_available() else [])
TOOLS = [
    {
        "name": "get_weather",
        "parameters": {
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string"},
            },
            "required": ["city"],
        },
    },
    {"name": "search", "parameters": {"properties": {"q": {"type": "string"}}}},
]
GOLD = "get_weather(city='Paris', days=3)"
PARALLEL = [GOLD, "search(q='x')"]

# (prediction, gold, toolrl reward, binary, irm category). ToolRL by hand, S_max = 1 + Σ_g (1 + |keys(g)|):
#   one gold call with keys {city, days}: S_max = 1 + (1 + 2) = 4, R = 1 + (6 S / 4 - 3)
#   the two-call gold adds (1 + 1) for search(q): S_max = 6, R = 1 + (6 S / 6 - 3)
CASES = [
    # S = J(names)=1 + J(keys)=1 + 2 values = 4 -> 1 + 3
    (GOLD, GOLD, 4.0, 1.0, "correct"),
    # positional arguments bind to the schema's names: the same call
    ("get_weather('Paris', 3)", GOLD, 4.0, 1.0, "correct"),
    # wrong tool: J(names) = 0, nothing pairs: S = 0 -> 1 - 3
    ("search(q='Paris')", GOLD, -2.0, 0.0, "wrong_tool"),
    # missing days: J(keys) = 1/2, 1 value: S = 1 + 0.5 + 1 = 2.5 -> 1 + 6*2.5/4 - 3
    ("get_weather(city='Paris')", GOLD, 1.75, 0.0, "param_missing"),
    # hallucinated zzz: J(keys) = 2/3, 2 values: S = 11/3 -> 1 + 5.5 - 3
    ("get_weather(city='Paris', days=3, zzz=1)", GOLD, 3.5, 0.0, "param_hallucination"),
    # redundant unit (in the schema, not in the gold): the same key arithmetic
    ("get_weather(city='Paris', days=3, unit='C')", GOLD, 3.5, 0.0, "param_redundant"),
    # wrong value: J(keys) = 1, 1 value: S = 3 -> 1 + 4.5 - 3
    ("get_weather(city='Paris', days=4)", GOLD, 2.5, 0.0, "value_error"),
    # typed values: 3.0 == 3 but '3' != 3
    ("get_weather(city='Paris', days=3.0)", GOLD, 4.0, 1.0, "correct"),
    ("get_weather(city='Paris', days='3')", GOLD, 2.5, 0.0, "value_error"),
    # malformed text: format 0, correctness -3
    ("get_weather(city='Paris'", GOLD, -3.0, 0.0, "format_error"),
    ("I think the weather is nice", GOLD, -3.0, 0.0, "irrelevant"),  # no call at all (abstained)
    # parallel calls in any order: S = 1 + (1 + 2) + (1 + 1) = 6 = S_max -> 1 + 3
    ("[search(q='x'), get_weather(city='Paris', days=3)]", PARALLEL, 4.0, 1.0, "correct"),
    # one of two: J(names) = 1/2, S = 0.5 + 3 = 3.5 -> 1 + 3.5 - 3
    (GOLD, PARALLEL, 1.5, 0.0, "count_mismatch"),
    # the same call twice: J(names) = 1/3 (multisets), search unpaired: S = 1/3 + 3 -> 1 + 10/3 - 3
    (f"[{GOLD}, {GOLD}]", PARALLEL, 1 + 10 / 3 - 3, 0.0, "wrong_tool"),
    # a hallucinated tool next to a right call: J(names) = 1/3; get_weather pairs: S = 1/3 + 3 -> as above
    (f"[{GOLD}, nope(q='x')]", PARALLEL, 1 + 10 / 3 - 3, 0.0, "tool_hallucination"),
    # JSON form of the right call
    ('{"name": "get_weather", "arguments": {"days": 3, "city": "Paris"}}', GOLD, 4.0, 1.0, "correct"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c[0][:40] for c in CASES])
def test_schemes_on_hand_made_predictions(case, backend):
    text, gold, toolrl, binary, category = case
    args = ([text], [TOOLS], [gold])
    got = ToolRLReward().score(*args, backend=backend)[0]
    assert got.reward == pytest.approx(toolrl, abs=1e-12)
    assert got.verdict.category == category
    assert got.parts["format"] == (0.0 if category in ("format_error", "irrelevant") else 1.0)
    assert BinaryReward().score(*args, backend=backend)[0].reward == binary
    irm = IRMReward().score(*args, backend=backend)[0]
    assert irm.reward == RewardTable().reward(category) and irm.verdict.category == category


def test_scheme_options_and_names():
    args = (["search(q='x')", GOLD], [TOOLS, TOOLS], [GOLD, GOLD])
    assert reward_scheme("binary", correct=2.0, wrong=-1.0).rewards(*args) == [-1.0, 2.0]
    assert reward_scheme("irm", table=RewardTable(wrong_tool=-9.0)).rewards(*args) == [-9.0, 1.0]
    # CORRECTMAX1 of the reference: correctness in [-1, 1]; wrong tool gives its minimum
    assert reward_scheme("toolrl", correct_max=1.0, correct_min=-1.0).rewards(*args) == [0.0, 2.0]
    with pytest.raises(ValueError, match="toolrl"):
        reward_scheme("tool_rl")


def test_a_scheme_is_the_integrations_reward_callable():
    from tl_fast.integrations._reward import Scorer  # the scorer behind every integration's reward

    texts = ["search(q='x')", GOLD, "search(q=", "search(query='cats', limit=3)"]
    args = (texts, [TOOLS] * 4, [GOLD] * 4)
    for name in ("binary", "toolrl"):
        scheme = reward_scheme(name)
        verdicts, rewards = Scorer(reward=scheme)(*args)
        assert rewards == scheme.rewards(*args)
        assert rewards != [v.reward for v in verdicts]  # not the IRM table's values
        assert [v.category for v in verdicts] == [s.verdict.category for s in scheme.score(*args)]


def test_optional_bfcl_parameters_count_only_when_given():
    # BFCL gold: unit may be omitted (""), days accepts 3 or 4
    gold = {"get_weather": {"city": ["Paris"], "days": [3, 4], "unit": ["", "C"]}}
    for backend in BACKENDS:
        p = prepare([TOOLS] * 3, [gold] * 3, backend=backend)
        texts = ["get_weather(city='Paris', days=4)", "get_weather(city='Paris', days=4, unit='F')", "x"]
        a, b, c = match_stats_batch(texts, p)
        assert a.gold[0][1:] == (2, 2, 2, 2)  # unit omitted: 2 gold keys, both matched
        assert b.gold[0][1:] == (3, 3, 3, 2)  # unit given with a wrong value: it counts, unmatched
        assert not c.parsed and c.gold == ()


def test_toolrl_needs_the_tl_protocol():
    for backend in BACKENDS:
        p = prepare([TOOLS], [[{"get_weather": {"city": ["Paris"]}}]], protocol="bfcl", backend=backend)
        with pytest.raises(ValueError, match="protocol 'tl'"):
            match_stats_batch([GOLD], p)


# ---- an independent statement of the reference reward, on JSON-like dicts -------------------------------


def ref_match_score(a: list, b: list) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    ca, cb = Counter(a), Counter(b)
    inter = sum(min(ca[k], cb[k]) for k in ca.keys() & cb.keys())
    return inter / (len(a) + len(b) - inter)


def ref_toolrl(gold: list[dict], pred: list[dict] | None) -> float:
    """rlla.py: format (1 when the calls parse) + compute_tool_call_reward(gold, pred, 3, -3)."""
    if pred is None:
        return 0.0 + -3.0
    if gold == pred:
        return 1.0 + 3.0
    score = ref_match_score([g["name"] for g in gold], [p["name"] for p in pred])
    s_max, used = 1.0, set()
    for g in gold:
        s_max += 1 + len(g["parameters"])
        best, best_i = 0.0, None
        for i, p in enumerate(pred):
            if i in used or p["name"] != g["name"]:
                continue
            total = ref_match_score(list(g["parameters"]), list(p["parameters"]))
            total += sum(
                1.0 for k, v in g["parameters"].items() if k in p["parameters"] and p["parameters"][k] == v
            )
            if total > best:
                best, best_i = total, i
        if best_i is not None:
            used.add(best_i)
            score += best
    return 1.0 + 6.0 * score / s_max - 3.0


def render(call: dict) -> str:
    return call["name"] + "(" + ", ".join(f"{k}={v!r}" for k, v in call["parameters"].items()) + ")"


def random_call(rng: random.Random) -> dict:
    keys = rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
    values = [1, 2, 2.0, "x", "y", [1, 2], None]
    return {"name": rng.choice(["f", "g", "h"]), "parameters": {k: rng.choice(values) for k in keys}}


def test_toolrl_equals_the_reference_code_and_the_twin_on_random_calls():
    rng = random.Random(0)
    tools = [{"name": n, "parameters": {"properties": {k: {} for k in "abcd"}}} for n in "fgh"]
    texts, golds, want = [], [], []
    for _ in range(400):
        gold = [random_call(rng) for _ in range(rng.randint(1, 3))]
        pred = [random_call(rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:  # near misses: a gold call with one parameter dropped or changed
            pred = [dict(g, parameters=dict(g["parameters"])) for g in gold]
            if pred[0]["parameters"] and rng.random() < 0.5:
                pred[0]["parameters"].popitem()
            rng.shuffle(pred)
        text = "[" + ", ".join(render(p) for p in pred) + "]"
        if rng.random() < 0.1:
            text, pred = text[:-1], None  # malformed
        texts.append(text)
        golds.append("[" + ", ".join(render(g) for g in gold) + "]")
        want.append(ref_toolrl(gold, pred))
    got = {b: ToolRLReward().rewards(texts, [tools] * len(texts), golds, backend=b) for b in BACKENDS}
    for b in BACKENDS:
        assert got[b] == pytest.approx(want, abs=1e-9), b
    if len(BACKENDS) == 2:
        stats = [match_stats_batch(texts, prepare([tools] * len(texts), golds, backend=b)) for b in BACKENDS]
        assert stats[0] == stats[1]
        assert sum(s.parsed for s in stats[0]) > 300  # the comparison covered parsed calls, not only errors
