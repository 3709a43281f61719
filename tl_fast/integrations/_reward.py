"""What the RL integrations share: reading tools / gold from a trainer's columns or label field, turning a
completion into the text the parser reads, and scoring a batch with `tl_fast.reward.categorize_batch`.

    scorer = Scorer()                                        # IRM table, protocol "tl"
    verdicts, rewards = scorer(["get_weather(city='Paris')"], [tools], [gold])
    tools, gold = parse_label('{"tools": [...], "gold": "get_weather(city=\'Paris\')"}', where="row 0")

Errors in the data (unreadable tools or gold) raise ValueError naming the row: they are bugs in the data set,
and a run that trained on them would learn nothing. A completion the parser cannot read is never an error:
categorize() gives it `format_error`, as in tl_fast's own PPO trainer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from tl_fast.reward import CATEGORIES, RewardTable, Verdict, categorize_batch

# (verdicts, predictions, tools_list, golds) -> one reward per prediction. The default is each verdict's table
# value; another scheme (binary, ToolRL, ...) is a callable of this shape passed as `reward=`.
RewardScheme = Callable[[Sequence[Verdict], Sequence[str], Sequence[list], Sequence[Any]], Sequence[float]]


def drop_nulls(value: Any) -> Any:
    """A copy without None-valued dict entries. Arrow (datasets, parquet) unifies the struct fields of all
    rows, so a schema or a call read back from a dataset carries `None` for every key another row had; left
    in, they would be phantom parameters and arguments. JSON text keeps explicit nulls: no cleaning there."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [drop_nulls(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays / scalars (parquet)
        return drop_nulls(value.tolist())
    return value


@lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    return json.loads(text)


def read_json_field(value: Any, what: str, where: str) -> Any:
    """A column value given as JSON text or as Python objects (cleaned with drop_nulls)."""
    if isinstance(value, (str, bytes)):
        try:
            return _json(value.decode() if isinstance(value, bytes) else value)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: {what} is not valid JSON ({exc}): {str(value)[:80]!r}") from None
    return drop_nulls(value)


def read_tools(value: Any, where: str) -> list[dict]:
    tools = read_json_field(value, "tools", where)
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError(f"{where}: tools must be a list of JSON-schema objects, got {str(tools)[:80]!r}")
    return tools


def read_gold(value: Any, where: str) -> Any:
    """A gold call string stays a string (the categorizer parses it); JSON text of a call is decoded."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                return _json(value)
            except json.JSONDecodeError:
                pass  # "[f(a=1), g()]" is a call list in Python syntax, not JSON
        return value
    if value is None:
        raise ValueError(f"{where}: gold is missing")
    return drop_nulls(value)


def parse_label(label: Any, where: str) -> tuple[list[dict], Any]:
    """(tools, gold) from a label `{"tools": [<JSON-schema tools>], "gold": <call string or calls>}` given as
    JSON text or a dict (verl's `ground_truth`, OpenRLHF's `labels`)."""
    obj = read_json_field(label, "the label", where)
    if not isinstance(obj, dict) or "tools" not in obj or "gold" not in obj:
        raise ValueError(
            f'{where}: the label must be {{"tools": [...], "gold": ...}} (JSON text or a dict), '
            f"got {str(label)[:80]!r}"
        )
    return read_tools(obj["tools"], where), read_gold(obj["gold"], where)


def _call_json(tool_calls: list) -> str:
    """OpenAI-style tool_calls as the JSON call list the parser reads; "" (a format error) when unreadable."""
    calls = []
    for tc in tool_calls:
        fn = tc.get("function", tc) if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return ""
        args = fn.get("arguments")
        if args is None:
            args = {}
        elif isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                return ""
        calls.append({"name": fn["name"], "arguments": args})
    return json.dumps(calls, ensure_ascii=False)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def completion_text(completion: Any) -> str:
    """The text to categorize: a plain-text completion's answer_text; a conversational one (a list of
    messages) is its first assistant message, which answers the prompt's gold: its `tool_calls` when it has
    any (as JSON), else its content's answer_text. Anything else gives "" (a format error)."""
    if isinstance(completion, str):
        return answer_text(completion)
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, list):
        return ""
    for msg in completion:
        if isinstance(msg, dict) and msg.get("role", "assistant") == "assistant":
            tool_calls = msg.get("tool_calls")
            if tool_calls:
                return _call_json(tool_calls)
            return answer_text(_content_text(msg.get("content")))
    return ""


# pad-like tokens the parser does not strip (it strips <|...|> and </s>)
_EXTRA_SPECIAL = ("<pad>", "<s>", "<unk>", "[PAD]")
_THINK_END = "</think>"  # Qwen3 / DeepSeek-R1 reasoning (R1's template opens <think> in the prompt)


def answer_text(text: str) -> str:
    """The part of a generated text that answers: after the last `</think>` when the model reasoned first,
    without runs of pad-like tokens at either end (OpenRLHF decodes with skip_special_tokens=False). An
    unterminated reasoning block is no answer and stays a format error."""
    cut = text.rfind(_THINK_END)
    if cut >= 0:
        text = text[cut + len(_THINK_END) :]
    changed = True
    while changed:
        changed = False
        stripped = text.strip()
        for tok in _EXTRA_SPECIAL:
            if stripped.startswith(tok):
                stripped, changed = stripped[len(tok) :], True
            if stripped.endswith(tok):
                stripped, changed = stripped[: -len(tok)], True
        text = stripped
    return text


class Scorer:
    """predictions x (tools, gold) -> (verdicts, rewards), with the categories counted.

    protocol: "tl" (TL-Training's categories) or "bfcl"; table: the reward of each category (RewardTable());
    reward: an optional RewardScheme replacing the table lookup (e.g. a binary or ToolRL scheme);
    string_match / bfcl_category: passed to categorize_batch; num_threads: C++ threads (None = all cores).
    """

    def __init__(
        self,
        protocol: str = "tl",
        table: RewardTable | None = None,
        reward: RewardScheme | None = None,
        *,
        string_match: str = "exact",
        bfcl_category: str | None = None,
        num_threads: int | None = None,
    ):
        if protocol not in ("tl", "bfcl"):
            raise ValueError(f"protocol={protocol!r}: expected 'tl' or 'bfcl'")
        if table is not None and not isinstance(table, RewardTable):
            raise TypeError(f"table must be a tl_fast.reward.RewardTable, got {type(table).__name__}")
        if reward is not None and not callable(reward):
            raise TypeError(
                f"reward must be a callable (verdicts, predictions, tools, golds), got {reward!r}"
            )
        self.protocol, self.table, self.reward = protocol, table, reward
        self.kwargs = {
            "string_match": string_match,
            "bfcl_category": bfcl_category,
            "num_threads": num_threads,
        }
        self.totals: Counter = Counter()  # category -> completions scored so far

    def __call__(
        self,
        predictions: Sequence[str],
        tools_list: Sequence[list],
        golds: Sequence[Any],
        where: str = "row {}",
    ) -> tuple[list[Verdict], list[float]]:
        """where: how an error names item k of the batch (`where.format(k)`)."""
        try:
            verdicts = categorize_batch(
                list(predictions), list(tools_list), list(golds), protocol=self.protocol, table=self.table,
                **self.kwargs,
            )  # fmt: skip
        except ValueError as exc:  # bad tools or gold: "item k: ..."
            m = re.match(r"item (\d+): (.*)", str(exc), re.S)
            at, detail = (where.format(m[1]), m[2]) if m else ("this batch", str(exc))
            raise ValueError(
                f"{at}: unusable tools or gold (a data bug, not a model error): {detail}"
            ) from None
        if self.reward is None:
            rewards = [v.reward for v in verdicts]
        else:
            rewards = [float(r) for r in self.reward(verdicts, predictions, tools_list, golds)]
            if len(rewards) != len(verdicts):
                raise ValueError(
                    f"the reward scheme returned {len(rewards)} rewards for {len(verdicts)} items"
                )
        self.totals.update(v.category for v in verdicts)
        return verdicts, rewards


def category_shares(verdicts: Sequence[Verdict]) -> dict[str, float]:
    """The share of each category (every one of CATEGORIES, zeros included, so averages over batches hold)."""
    counts = Counter(v.category for v in verdicts)
    n = max(1, len(verdicts))
    return {c: counts[c] / n for c in CATEGORIES}
