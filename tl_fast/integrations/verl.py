"""The IRM reward as verl's custom reward function (verl is not a dependency: this is plain Python).

    # verl config (ppo_trainer.yaml / command line):
    #   custom_reward_function.path=$(python -c "import tl_fast.integrations.verl as m; print(m.__file__)")
    #   custom_reward_function.name=compute_score           # reward_model.reward_manager=naive (default)
    #   custom_reward_function.name=compute_score_batch     # reward_model.reward_manager=batch (C++ threads)

Each parquet row's `reward_model.ground_truth` is the label, JSON text (or a dict):
    {"tools": [<JSON-schema tools>], "gold": "get_weather(city='Paris')"}   # or {"name", "arguments"}, a list
verl's NaiveRewardManager calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` per
response and reads `result["score"]`; every key of the returned dict becomes a `reward_extra_info` column, so
the keys are the same for every response. The BatchRewardManager calls
`compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)` once per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tl_fast.integrations._reward import Scorer, answer_text, parse_label

__all__ = ["compute_score", "compute_score_batch"]

_SCORER = Scorer()


def _result(verdict, reward: float) -> dict[str, Any]:
    return {
        "score": float(reward),
        "category": verdict.category,
        "correct": float(verdict.correct),
        "error_type": verdict.error_type or "",
    }


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs,
) -> dict[str, Any]:
    """{"score": the IRM reward, "category": its error category, "correct": 1.0 | 0.0, "error_type": BFCL's
    label or ""} for one response. `solution_str` may carry chat special tokens (<|im_end|>, </s>, padding);
    the parser strips them. A malformed ground truth raises ValueError (a data bug)."""
    where = f"ground_truth of a {data_source or 'verl'} row"
    tools, gold = parse_label(ground_truth, where=where)
    verdicts, rewards = _SCORER([_text(solution_str)], [tools], [gold], where=where)
    return _result(verdicts[0], rewards[0])


def compute_score_batch(
    data_sources: Sequence[str | None],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[dict | None] | None = None,
    **kwargs,
) -> list[dict[str, Any]]:
    """compute_score over a batch in one categorize_batch call (the C++ core's threads, GIL released)."""
    if not len(solution_strs) == len(ground_truths):
        raise ValueError(f"got {len(solution_strs)} responses but {len(ground_truths)} ground truths")
    labels = [parse_label(gt, where=f"ground_truth of row {i}") for i, gt in enumerate(ground_truths)]
    verdicts, rewards = _SCORER(
        [_text(s) for s in solution_strs],
        [t for t, _ in labels],
        [g for _, g in labels],
        "ground_truth of row {}",
    )
    return [_result(v, r) for v, r in zip(verdicts, rewards, strict=True)]


def _text(solution: Any) -> str:
    return answer_text(solution) if isinstance(solution, str) else ""
