"""Per-call match statistics of predicted tool calls against gold calls (protocol "tl"), from the C++ core or
its Python twin: the inputs of ToolRL's correctness reward (tl_fast.reward.schemes.ToolRLReward).

    from tl_fast.reward import prepare, match_stats_batch
    stats = match_stats_batch(["get_weather(city='Paris')"], prepare([tools], [gold]))
    stats[0].common_names, stats[0].gold[0].matched_values      # 1, 1

How calls are paired and what counts as a key or a matched value: csrc/match_stats.h.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tl_fast._native_glue import native_module


class CallMatch(NamedTuple):
    """One gold call and the predicted call paired with it (pred = -1: none)."""

    pred: int
    gold_keys: int  # |K_gold|: gold parameters, less optional ones the paired call does not give
    pred_keys: int  # |K_pred| of the paired call (0 when none)
    common_keys: int  # |K_gold ∩ K_pred|
    matched_values: int  # gold keys given with an accepted value


class MatchStats(NamedTuple):
    parsed: bool  # the prediction parsed into at least one call
    pred_calls: int
    gold_calls: int
    common_names: int  # multiset intersection of predicted and gold call names
    gold: tuple[CallMatch, ...]  # one per gold call, in gold order (empty when not parsed)


def match_stats_batch(
    predictions: Sequence[str], prepared, *, num_threads: int | None = None
) -> list[MatchStats]:
    """One MatchStats per prediction against the prepared problem at the same index (protocol "tl").

    `prepared` comes from tl_fast.reward.prepare; its backend (native C++ threads with the GIL released, or
    the Python twin) computes the statistics.
    """
    if len(predictions) != len(prepared):
        raise ValueError(f"got {len(predictions)} predictions for {len(prepared)} problems")
    if prepared._native is not None:
        rows = native_module().match_stats_set(list(predictions), prepared._native, num_threads or 0)
        return [MatchStats(p, n, g, c, tuple(CallMatch(*m) for m in calls)) for p, n, g, c, calls in rows]
    from tl_fast.reward._py_match import match_stats

    return [match_stats(text, problem) for text, problem in zip(predictions, prepared._python, strict=True)]
