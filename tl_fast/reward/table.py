"""Reward values of the IRM error categories (TL-Training, Ye et al. 2024, §3.3 and the authors' code).

    from tl_fast.reward import RewardTable
    table = RewardTable(value_error=-0.5)        # override any entry
    table.reward("param_missing")                # -0.5

Defaults are the authors' (Junjie-Ye/TL-Training, code/irm/dschat/rlhf/ppo_trainer.py): format error -2,
tool hallucination -2, wrong tool -1.5; parameter errors H = hallucinated (not in the schema), R = redundant
(in the schema, not in the gold call), M = missing: H+R+M -1.8, H+R or H+M -1.3, R+M -1.0, H -0.8,
R or M -0.5; a wrong value -0.25; correct +1. `count_mismatch` (several calls, wrong number) is ours:
-1.5, like a wrong tool, since the authors score single calls only. `irrelevant` is an abstention: the
answer makes no call (prose, an empty list, a text message in BFCL's FC mode) where one was wanted; it is
-2 like a format error, as in the authors' code (an answer without `name(...)` raises and scores -2), and is
its own entry so RL can treat a deliberate "no call" apart, e.g. `RewardTable(irrelevant=-1.0)`. Where no
call is the right answer (BFCL irrelevance, a TL gold of []) abstaining is `correct`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Index order = csrc/categorize.h `Category`; the native core receives rewards in this order.
CATEGORIES: tuple[str, ...] = (
    "format_error",
    "tool_hallucination",
    "wrong_tool",
    "count_mismatch",
    "param_hallucination+param_redundant+param_missing",
    "param_hallucination+param_redundant",
    "param_hallucination+param_missing",
    "param_redundant+param_missing",
    "param_hallucination",
    "param_redundant",
    "param_missing",
    "value_error",
    "correct",
    "irrelevant",  # appended after "correct" so that the older indices stay as they were
)


@dataclass(frozen=True)
class RewardTable:
    """Reward per category; every field is one entry of the authors' table (see the module docstring)."""

    format_error: float = -2.0
    tool_hallucination: float = -2.0
    wrong_tool: float = -1.5
    count_mismatch: float = -1.5
    param_hallucination_redundant_missing: float = -1.8
    param_hallucination_and_one_more: float = -1.3  # H+R or H+M
    param_redundant_missing: float = -1.0
    param_hallucination: float = -0.8
    param_redundant_or_missing: float = -0.5  # R alone or M alone
    value_error: float = -0.25
    correct: float = 1.0
    irrelevant: float = -2.0  # no call where one was wanted (an abstention)

    def values(self) -> list[float]:
        """One reward per entry of CATEGORIES, in that order."""
        return [
            self.format_error,
            self.tool_hallucination,
            self.wrong_tool,
            self.count_mismatch,
            self.param_hallucination_redundant_missing,
            self.param_hallucination_and_one_more,
            self.param_hallucination_and_one_more,
            self.param_redundant_missing,
            self.param_hallucination,
            self.param_redundant_or_missing,
            self.param_redundant_or_missing,
            self.value_error,
            self.correct,
            self.irrelevant,
        ]

    def reward(self, category: str) -> float:
        try:
            return self.values()[CATEGORIES.index(category)]
        except ValueError:
            raise ValueError(
                f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}"
            ) from None
