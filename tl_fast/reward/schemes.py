"""Reward schemes for RL on tool calls: `irm` (TL-Training), `binary` (Tool-N1) and `toolrl` (ToolRL).

    from tl_fast.reward import reward_scheme
    scheme = reward_scheme("toolrl")                  # or IRMReward(RewardTable(...)), BinaryReward(), ...
    scores = scheme.score(texts, tools_list, golds)   # list[Score]: reward, verdict, parts
    [s.reward for s in scores]

One implementation serves the trainer (`--reward`), the integrations and user code. Every scheme also returns
the categorizer's Verdict of each prediction, so the error-category mix is logged whatever is optimized.

- irm: the category's value in a RewardTable (TL-Training, Ye et al. 2024 §3.3; the authors' values).
- binary: 1 when the call is exactly right (format valid, as many calls as the gold, every call paired with a
  gold call of the same name, no hallucinated / redundant / missing parameter, every value accepted), else 0:
  Nemotron-Research-Tool-N1's reward (Zhang et al. 2025, arXiv 2505.00024 §2.3, r = 1 iff FormatCorrect and
  ToolCallMatch). Ours compares values typed (1 == 1.0, "1" != 1) where the Tool-N1 code turns numbers into
  strings before comparing, and has no <think> format part (TL-Training's outputs are bare calls).
- toolrl: R = R_format + R_correct (Qian et al. 2025, arXiv 2504.13958 §3.3; code: qiancheng0/ToolRL,
  verl/utils/reward_score/rlla.py). R_format ∈ {0, 1}: 1 when the output parses into at least one call (the
  reference checks its <think>/<tool_call> template instead). R_correct ∈ [-3, 3]: -3 when it does not parse,
  else, with P the predicted calls, G the gold calls and J the Jaccard index (match_score in the code):
      S     = J(names(P), names(G)) + Σ_{g ∈ G paired with p} [J(keys(g), keys(p)) + #{k ∈ keys(g): p[k] ok}]
      S_max = 1 + Σ_{g ∈ G} (1 + |keys(g)|)
      R_correct = (3 - (-3)) · S / S_max + (-3)  =  6 S / S_max - 3
  names are multisets; J(∅, ∅) = 1 and J(A, ∅) = 0 as in match_score; the pairing is the reference code's
  greedy one (csrc/match_stats.h). An exact answer gives S = S_max, R = 4. Values compare typed (the
  reference uses Python ==, where True == 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tl_fast.reward._py_match import jaccard
from tl_fast.reward.categorize import Verdict, categorize_prepared, prepare
from tl_fast.reward.match import MatchStats, match_stats_batch
from tl_fast.reward.table import RewardTable


class Score(NamedTuple):
    reward: float
    verdict: Verdict  # the categorizer's verdict (category mix), whatever the scheme
    parts: dict[str, float]  # the reward's components, e.g. {"format": 1.0, "correct": 0.5} for toolrl


class _Scheme:
    """score(predictions, tools_list, golds) for every scheme; subclasses implement `score_prepared`."""

    name = ""

    def score(
        self,
        predictions: Sequence[str],
        tools_list: Sequence[list[dict]],
        golds: Sequence[Any],
        *,
        string_match: str = "exact",
        backend: str = "native",
        num_threads: int | None = None,
    ) -> list[Score]:
        """One Score per prediction against tools_list[k] and golds[k] (TL protocol; see categorize)."""
        prepared = prepare(tools_list, golds, string_match=string_match, backend=backend)
        return self.score_prepared(predictions, prepared, num_threads=num_threads)

    def score_prepared(self, predictions: Sequence[str], prepared, *, num_threads: int | None = None):
        raise NotImplementedError

    def rewards(self, predictions, tools_list, golds, **kwargs) -> list[float]:
        return [s.reward for s in self.score(predictions, tools_list, golds, **kwargs)]

    def __call__(self, verdicts, predictions, tools_list, golds) -> list[float]:
        """The integrations' `reward=` shape: trl.IRMReward(reward=reward_scheme("toolrl")) and the like.

        The verdicts are not reused: the scheme scores with its own table and TL protocol, so a trainer's
        reward and an integration's are the same numbers for the same texts.
        """
        return self.rewards(list(predictions), list(tools_list), list(golds))


@dataclass(frozen=True)
class IRMReward(_Scheme):
    """TL-Training's rule reward: the table value of the predicted call's error category."""

    table: RewardTable = field(default_factory=RewardTable)
    name = "irm"

    def score_prepared(self, predictions, prepared, *, num_threads=None) -> list[Score]:
        verdicts = categorize_prepared(predictions, prepared, table=self.table, num_threads=num_threads)
        return [Score(v.reward, v, {}) for v in verdicts]


@dataclass(frozen=True)
class BinaryReward(_Scheme):
    """Tool-N1's reward: `correct` for an exactly right call, `wrong` for anything else."""

    correct: float = 1.0
    wrong: float = 0.0
    name = "binary"

    def score_prepared(self, predictions, prepared, *, num_threads=None) -> list[Score]:
        verdicts = categorize_prepared(predictions, prepared, num_threads=num_threads)
        out = []
        for v in verdicts:
            r = self.correct if v.correct else self.wrong
            out.append(Score(r, v, {"exact": float(v.correct)}))
        return out


@dataclass(frozen=True)
class ToolRLReward(_Scheme):
    """ToolRL's reward: format ∈ [format_min, format_max] plus correctness ∈ [correct_min, correct_max]."""

    format_max: float = 1.0
    format_min: float = 0.0
    correct_max: float = 3.0
    correct_min: float = -3.0
    name = "toolrl"

    def parts(self, stats: MatchStats) -> tuple[float, float]:
        """(R_format, R_correct) of one prediction's statistics (formula: module docstring)."""
        if not stats.parsed:
            return self.format_min, self.correct_min
        s = jaccard(stats.common_names, stats.pred_calls, stats.gold_calls)
        s_max = 1.0
        for m in stats.gold:
            s_max += 1.0 + m.gold_keys
            if m.pred >= 0:
                s += jaccard(m.common_keys, m.gold_keys, m.pred_keys) + m.matched_values
        correct = (self.correct_max - self.correct_min) * s / s_max + self.correct_min
        return self.format_max, correct

    def score_prepared(self, predictions, prepared, *, num_threads=None) -> list[Score]:
        verdicts = categorize_prepared(predictions, prepared, num_threads=num_threads)
        stats = match_stats_batch(predictions, prepared, num_threads=num_threads)
        out = []
        for v, st in zip(verdicts, stats, strict=True):
            fmt, correct = self.parts(st)
            out.append(Score(fmt + correct, v, {"format": fmt, "correct": correct}))
        return out


SCHEMES = {"irm": IRMReward, "binary": BinaryReward, "toolrl": ToolRLReward}


def reward_scheme(name: str, **kwargs) -> IRMReward | BinaryReward | ToolRLReward:
    """The scheme called `name` (irm | binary | toolrl), built with `kwargs` (e.g. table=RewardTable(...))."""
    if name not in SCHEMES:
        raise ValueError(f"unknown reward scheme {name!r}; expected one of {', '.join(SCHEMES)}")
    return SCHEMES[name](**kwargs)
