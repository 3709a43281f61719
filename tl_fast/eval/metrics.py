"""TS / PI / CF bookkeeping shared by the three benchmarks.

    results = [ItemResult(id="clean_0", split="clean", scenario="TG", ts=True, pi=True, cf=False), ...]
    summarize(results)           # {"TS": 100.0, "PI": 100.0, "CF": 0.0, "n": 1}

Notation: TS = tool selection (the right tool), PI = parameter identification (TS and the right parameter
names), CF = content filling (PI and the right values). Each is a percentage of *all* items of the group, so
unparsable or skipped predictions count as wrong, and TS >= PI >= CF holds item by item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# The outcome of an item with no prediction (no line in the file, a failed request, a prompt over the
# context): an evaluation outcome, not one of the categorizer's error categories.
MISSING = "missing"


@dataclass
class EvalItem:
    """One benchmark question, benchmark-neutral.

    `messages` is the chat without the tool list ([{"role": "system"|"user", "content": str}]); `tools` is the
    tool list as JSON-schema dicts ({"name", "description", "parameters"}), so the prompt can be rendered the
    way training renders it. `gold` is the benchmark's own answer object (see each benchmark module).
    """

    id: str
    split: str
    scenario: str
    messages: list[dict[str, str]]
    tools: list[dict[str, Any]]
    gold: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemResult:
    """The verdict on one prediction; `category` is the IRM error category from tl_fast.reward.categorize."""

    id: str
    split: str
    scenario: str
    ts: bool
    pi: bool
    cf: bool
    prediction: str = ""
    category: str | None = None  # or MISSING
    error_type: str | None = None  # BFCL checker label (protocol="bfcl"), None when valid; or MISSING
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pct(hits: int, total: int) -> float:
    return round(100.0 * hits / total, 2) if total else 0.0


def summarize(results: Iterable[ItemResult]) -> dict[str, float | int]:
    """{"TS", "PI", "CF"} in percent of all given items, plus "n"."""
    results = list(results)
    n = len(results)
    return {
        "TS": pct(sum(r.ts for r in results), n),
        "PI": pct(sum(r.pi for r in results), n),
        "CF": pct(sum(r.cf for r in results), n),
        "n": n,
    }


def by_split(results: Iterable[ItemResult]) -> dict[str, dict[str, float | int]]:
    groups: dict[str, list[ItemResult]] = {}
    for r in results:
        groups.setdefault(r.split, []).append(r)
    return {split: summarize(rs) for split, rs in groups.items()}


def by_scenario(results: Iterable[ItemResult]) -> dict[str, dict[str, dict[str, float | int]]]:
    """{split: {scenario: {"TS", "PI", "CF", "n"}}}, scenarios in order of first appearance."""
    groups: dict[str, dict[str, list[ItemResult]]] = {}
    for r in results:
        groups.setdefault(r.split, {}).setdefault(r.scenario, []).append(r)
    return {split: {sc: summarize(rs) for sc, rs in scs.items()} for split, scs in groups.items()}


def category_histogram(results: Iterable[ItemResult]) -> dict[str, int]:
    counts = Counter(r.category for r in results if r.category is not None)
    return dict(counts.most_common())


def error_type_histogram(results: Iterable[ItemResult]) -> dict[str, int]:
    counts = Counter(r.error_type or "valid" for r in results)
    return dict(counts.most_common())


def first_call(text: str, tools: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) of the first tool call in `text`, read by tl_fast.parse_tool_calls(format="auto"),
    the parser the categorizer (and PPO's reward) reads with: ReAct, Python calls, JSON, tagged calls.
    Positional arguments are bound to the tool's parameter names. None when no call can be read.
    """
    from tl_fast.reward.parse import parse_tool_calls

    try:
        calls = parse_tool_calls(text, format="auto")
    except Exception:  # a ParseError or a syntax the parser rejects: a format error for scoring
        return None
    if not calls:
        return None
    call = calls[0]
    params = next((list(_properties(t)) for t in tools if t.get("name") == call.name), [])
    try:
        args = call.bind(params) if call.positional else dict(call.arguments)
    except Exception:  # more positional arguments than parameters
        return None
    return call.name, args


def _properties(tool: dict[str, Any]) -> dict[str, Any]:
    return (tool.get("parameters") or {}).get("properties") or {}
