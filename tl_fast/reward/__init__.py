"""Tool-call parsing and IRM error categorization (C++ core with a pure-Python twin).

    from tl_fast.reward import parse_tool_calls, categorize, categorize_batch
    calls = parse_tool_calls("[get_weather(city='Paris')]")
    verdict = categorize("get_weather(city='Paris')", tools, "get_weather(city='Paris')")

parse.py (formats, limits), categorize.py (protocols, gold forms), table.py (reward values).
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
from tl_fast.reward.parse import ParseError, ToolCall, parse_tool_calls
from tl_fast.reward.table import CATEGORIES, RewardTable

__all__ = [
    "CATEGORIES",
    "ParseError",
    "Prepared",
    "RewardTable",
    "ToolCall",
    "Verdict",
    "bfcl_decode",
    "categorize",
    "categorize_batch",
    "categorize_prepared",
    "parse_tool_calls",
    "prepare",
    "set_problem_cache_size",
]
