"""Tool-call parsing and IRM error categorization (C++ core with a pure-Python twin).

    from tl_fast.reward import parse_tool_calls, categorize, categorize_batch
    calls = parse_tool_calls("[get_weather(city='Paris')]")
    verdict = categorize("get_weather(city='Paris')", tools, "get_weather(city='Paris')")

parse.py (formats, limits), categorize.py (protocols, gold forms), table.py (reward values),
schemes.py (the RL reward schemes irm / binary / toolrl), match.py (ToolRL's per-call match statistics).
"""

from tl_fast.reward.categorize import (
    Prepared,
    Verdict,
    bfcl_decode,
    categorize,
    categorize_batch,
    categorize_prepared,
    prepare,
    set_problem_cache_size,
)
from tl_fast.reward.match import CallMatch, MatchStats, match_stats_batch
from tl_fast.reward.parse import ParseError, ToolCall, parse_tool_calls
from tl_fast.reward.schemes import SCHEMES, BinaryReward, IRMReward, Score, ToolRLReward, reward_scheme
from tl_fast.reward.table import CATEGORIES, RewardTable

__all__ = [
    "CATEGORIES",
    "SCHEMES",
    "BinaryReward",
    "CallMatch",
    "IRMReward",
    "MatchStats",
    "Score",
    "ToolRLReward",
    "ParseError",
    "Prepared",
    "RewardTable",
    "ToolCall",
    "Verdict",
    "bfcl_decode",
    "categorize",
    "categorize_batch",
    "categorize_prepared",
    "match_stats_batch",
    "parse_tool_calls",
    "prepare",
    "reward_scheme",
    "set_problem_cache_size",
]
