"""Error category and rule reward of a predicted tool call (IRM-PPO's reward; BFCL's AST checker).

    from tl_fast.reward import categorize, categorize_batch
    tools = [{"name": "get_weather", "parameters": {"type": "object",
              "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    v = categorize("get_weather(city='Paris')", tools, "get_weather(city='Paris')")
    v.correct, v.category, v.reward              # True, 'correct', 1.0
    vs = categorize_batch(texts, tools_list, golds, num_threads=2)  # C++ threads, GIL released

protocol="tl" (TL-Training's categories, table.py): gold is a call string, {"name", "arguments"}, BFCL's
{name: {param: [acceptable values]}} ("" = may be omitted), or a list of these for parallel calls (matched
order-free, the worst pair decides). Values compare typed: 1 == 1.0, True != 1, lists == tuples; strings
exactly, or with string_match="normalize" after trimming, collapsing whitespace and lower-casing ASCII.
protocol="bfcl": BFCL's decoder + AST checker; gold is BFCL's `ground_truth` list and `bfcl_category` its
test category; Verdict.error_type is BFCL's first error label (None when valid). bfcl_mode="prompt" reads
prompt-mode text (`[f(a=1)]`); bfcl_mode="fc" reads a function-calling result as JSON text (BFCL's
`[{"f": "{\"a\": 1}"}]`, OpenAI tool calls, an assistant message or response; other text is the model's
message), with BFCL's `underscore_to_dot` (default: on in FC mode, as for OpenAI-style models, whose tool
"a.b" is called "a_b"). The relevance categories ("irrelevance", "live_irrelevance": right when no call is
made; "live_relevance": right when any call is) take gold=None.

No call (prose, an empty list, a text message) is category "irrelevant" where a call was wanted and
"correct" where none was (a TL gold of [] or BFCL irrelevance); a call where none was wanted is
"tool_hallucination" (a tool not offered) or "wrong_tool".

For many predictions against fixed problems (PPO prompts, an eval set), `prepare` once and call
`categorize_prepared`: building the problems is the Python-bound part of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tl_fast._native_glue import native_module
from tl_fast.reward import _py_categorize
from tl_fast.reward.table import CATEGORIES, RewardTable

_DEFAULT_TABLE = RewardTable()


@dataclass(frozen=True)
class Verdict:
    """correct: the call is right; category: one of table.CATEGORIES; reward: its table value;
    error_type: BFCL's error label under protocol="bfcl" (None when valid, always None under "tl")."""

    correct: bool
    category: str
    reward: float
    error_type: str | None = None


class Prepared:
    """Problems (tools + gold) built once for `categorize_prepared`; identical object pairs are shared."""

    def __init__(
        self,
        tools_list: Sequence[list[dict]],
        golds: Sequence[Any],
        *,
        protocol: str = "tl",
        bfcl_category: str | None = None,
        string_match: str = "exact",
        backend: str = "native",
        bfcl_mode: str = "prompt",
        underscore_to_dot: bool | None = None,
    ):
        if backend not in ("native", "python"):
            raise ValueError(f"unknown backend {backend!r}; expected 'native' or 'python'")
        if len(tools_list) != len(golds):
            raise ValueError(f"got {len(tools_list)} tool lists but {len(golds)} golds")
        if bfcl_mode not in ("prompt", "fc"):
            raise ValueError(f"unknown bfcl_mode {bfcl_mode!r}; expected 'prompt' or 'fc'")
        dots = bfcl_mode == "fc" if underscore_to_dot is None else bool(underscore_to_dot)
        native = native_module() if backend == "native" else None
        self._native = None
        self._python: list[_py_categorize.Problem] = []
        if native is not None:
            self._native = native.ProblemSet(
                _list(tools_list), _list(golds), protocol, bfcl_category or "", string_match, bfcl_mode, dots
            )
        else:
            seen: dict[tuple[int, int], _py_categorize.Problem] = {}
            for k, (tools, gold) in enumerate(zip(tools_list, golds, strict=True)):
                key = (id(tools), id(gold))
                if key not in seen:
                    try:
                        seen[key] = _py_categorize.build_problem(
                            tools,
                            gold,
                            protocol=protocol,
                            bfcl_category=bfcl_category,
                            string_match=string_match,
                            bfcl_mode=bfcl_mode,
                            underscore_to_dot=dots,
                        )
                    except ValueError as exc:
                        raise ValueError(f"item {k}: {exc}") from None
                self._python.append(seen[key])

    @property
    def backend(self) -> str:
        return "native" if self._native is not None else "python"

    def __len__(self) -> int:
        return len(self._native) if self._native is not None else len(self._python)


def _make_verdict(correct: bool, category: int, reward: float, error_type: str | None) -> Verdict:
    return Verdict(correct, CATEGORIES[category], reward, error_type)


def _list(items: Sequence[Any]) -> list:
    return items if type(items) is list else list(items)


def _str_list(items: Sequence[str]) -> list:
    if isinstance(items, str):
        raise TypeError("predictions must be a sequence of str, not one str")
    return _list(items)


def set_problem_cache_size(entries: int) -> None:
    """How many (tools, gold) problems the native backend keeps between categorize_batch / prepare calls
    (default 8192; 0 turns the cache off). Entries hold references to the schema and gold leaf values."""
    if entries < 0:
        raise ValueError(f"entries must be >= 0, got {entries}")
    native = native_module()
    if native is not None:
        native.set_problem_cache_size(entries)


def prepare(
    tools_list: Sequence[list[dict]],
    golds: Sequence[Any],
    *,
    protocol: str = "tl",
    bfcl_category: str | None = None,
    string_match: str = "exact",
    backend: str = "native",
    bfcl_mode: str = "prompt",
    underscore_to_dot: bool | None = None,
) -> Prepared:
    """Build the problems of a batch once (see `categorize_prepared`)."""
    return Prepared(
        tools_list,
        golds,
        protocol=protocol,
        bfcl_category=bfcl_category,
        string_match=string_match,
        backend=backend,
        bfcl_mode=bfcl_mode,
        underscore_to_dot=underscore_to_dot,
    )


def categorize_prepared(
    predictions: Sequence[str],
    prepared: Prepared,
    *,
    table: RewardTable | None = None,
    num_threads: int | None = None,
) -> list[Verdict]:
    """One Verdict per prediction against the prepared problem at the same index.

    num_threads: C++ threads (None = all cores); the GIL is released while they run. The Python backend
    runs sequentially.
    """
    if len(predictions) != len(prepared):
        raise ValueError(f"got {len(predictions)} predictions for {len(prepared)} problems")
    rewards = (table or _DEFAULT_TABLE).values()
    if prepared._native is not None:
        return native_module().categorize_set(
            _str_list(predictions), prepared._native, rewards, num_threads or 0, _make_verdict
        )
    cache: dict[tuple, Verdict] = {}
    out = []
    for text, problem in zip(predictions, prepared._python, strict=True):
        correct, category, error_type = _py_categorize.categorize(text, problem, rewards)
        key = (correct, category, error_type)
        if key not in cache:
            cache[key] = Verdict(correct, category, rewards[CATEGORIES.index(category)], error_type)
        out.append(cache[key])
    return out


def categorize_batch(
    predictions: Sequence[str],
    tools_list: Sequence[list[dict]],
    golds: Sequence[Any],
    *,
    protocol: str = "tl",
    bfcl_category: str | None = None,
    backend: str = "native",
    num_threads: int | None = None,
    table: RewardTable | None = None,
    string_match: str = "exact",
    bfcl_mode: str = "prompt",
    underscore_to_dot: bool | None = None,
) -> list[Verdict]:
    """categorize() over a batch: predictions[k] against tools_list[k] and golds[k].

    The native backend builds each problem once per batch and keeps built problems between batches (an RL
    loop scores the same prompts again): the cache compares tools and golds by content, so equal objects made
    anew hit it and objects mutated in place miss it (`set_problem_cache_size`). While one thread looks the
    problems up, the others already categorize.
    """
    if backend not in ("native", "python"):
        raise ValueError(f"unknown backend {backend!r}; expected 'native' or 'python'")
    native = native_module() if backend == "native" else None
    if native is not None:
        if bfcl_mode not in ("prompt", "fc"):
            raise ValueError(f"unknown bfcl_mode {bfcl_mode!r}; expected 'prompt' or 'fc'")
        rewards = (table or _DEFAULT_TABLE).values()
        return native.categorize_batch(
            _str_list(predictions),
            _list(tools_list),
            _list(golds),
            protocol,
            bfcl_category or "",
            string_match,
            bfcl_mode,
            bfcl_mode == "fc" if underscore_to_dot is None else bool(underscore_to_dot),
            rewards,
            num_threads or 0,
            _make_verdict,
        )
    prepared = prepare(
        tools_list,
        golds,
        protocol=protocol,
        bfcl_category=bfcl_category,
        string_match=string_match,
        backend=backend,
        bfcl_mode=bfcl_mode,
        underscore_to_dot=underscore_to_dot,
    )
    return categorize_prepared(predictions, prepared, table=table, num_threads=num_threads)


def categorize(
    prediction: str,
    tools: list[dict],
    gold: Any,
    *,
    protocol: str = "tl",
    bfcl_category: str | None = None,
    table: RewardTable | None = None,
    string_match: str = "exact",
    backend: str = "native",
    bfcl_mode: str = "prompt",
    underscore_to_dot: bool | None = None,
) -> Verdict:
    """The Verdict of one prediction (see the module docstring for protocols and gold forms)."""
    return categorize_batch(
        [prediction],
        [tools],
        [gold],
        protocol=protocol,
        bfcl_category=bfcl_category,
        backend=backend,
        num_threads=1,
        table=table,
        string_match=string_match,
        bfcl_mode=bfcl_mode,
        underscore_to_dot=underscore_to_dot,
    )[0]


def bfcl_decode(text: str, *, bfcl_mode: str = "prompt", backend: str = "native") -> list[dict] | None:
    """BFCL's decoded calls [{name: {param: value}}] of one answer (prompt text, or an FC result's JSON),
    or None where BFCL's AST runner stops at the decoder (ast_decoder:decoder_failed or
    decoder_wrong_output_format). The same decoder protocol="bfcl" scores with."""
    if bfcl_mode not in ("prompt", "fc"):
        raise ValueError(f"unknown bfcl_mode {bfcl_mode!r}; expected 'prompt' or 'fc'")
    native = native_module() if backend == "native" else None
    if native is not None:
        if bfcl_mode == "prompt":
            return native.bfcl_decode(text)
        status, calls, _ = native.bfcl_decode_fc(text)
    else:
        from tl_fast.reward import _py_bfcl

        status, calls, _ = _py_bfcl.decode(text, bfcl_mode)
    return calls if status == "calls" else None
