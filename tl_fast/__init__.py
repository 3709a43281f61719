"""tl_fast: fast TL-Training (MAE data filtering, PKT token-weighted SFT, IRM-PPO) for tool-using LLMs.

    import tl_fast
    loss = tl_fast.fused_linear_cross_entropy(hidden, lm_head.weight, labels, token_weights)
    calls = tl_fast.parse_tool_calls("get_weather(city='Paris')")

Names are imported lazily so that `import tl_fast` stays cheap (no torch import for parsing-only users).
"""

from __future__ import annotations

import importlib
import pkgutil

# Run from a source checkout after `pip install .`, the compiled tl_fast._native lives only in the installed
# copy: extending __path__ lets the checkout's sources find it (sources first, installed copy second).
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    "native_available": "tl_fast._native_glue",
    # tool-call parsing and reward categorization (issue: parser)
    "ToolCall": "tl_fast.reward.parse",
    "ParseError": "tl_fast.reward.parse",
    "parse_tool_calls": "tl_fast.reward.parse",
    "categorize": "tl_fast.reward.categorize",
    "categorize_batch": "tl_fast.reward.categorize",
    "Verdict": "tl_fast.reward.categorize",
    "RewardTable": "tl_fast.reward.table",
    # RL reward schemes irm / binary / toolrl (issue: RL beyond PPO)
    "reward_scheme": "tl_fast.reward.schemes",
    "IRMReward": "tl_fast.reward.schemes",
    "BinaryReward": "tl_fast.reward.schemes",
    "ToolRLReward": "tl_fast.reward.schemes",
    # data pipeline (MAE, rendering, PKT weights)
    "load_trajectories": "tl_fast.data",
    "mae_split": "tl_fast.data",
    "build_sft_dataset": "tl_fast.data",
    "collate_packed": "tl_fast.data",
    "collate_padded": "tl_fast.data",
    "decontaminate": "tl_fast.data",
    "render_call": "tl_fast.data",
    # token-weighted cross-entropy (issue: cross-entropy kernels)
    "cross_entropy": "tl_fast.losses",
    "fused_linear_cross_entropy": "tl_fast.losses",
    "CrossEntropyLoss": "tl_fast.losses",
    "FusedLinearCrossEntropyLoss": "tl_fast.losses",
    # RL math (issue: PPO kernels)
    "gae": "tl_fast.rl",
    "masked_mean": "tl_fast.rl",
    "masked_whiten": "tl_fast.rl",
    "fused_linear_logprobs": "tl_fast.rl",
    "ppo_policy_loss": "tl_fast.rl",
    "ppo_value_loss": "tl_fast.rl",
    "kl_penalty": "tl_fast.rl",
    "masked_sum": "tl_fast.rl",
    "masked_var": "tl_fast.rl",
    "PolicyLossStats": "tl_fast.rl",
    "ValueLossStats": "tl_fast.rl",
    "KLStats": "tl_fast.rl",
    # group-relative RL (issue: RL beyond PPO)
    "group_advantages": "tl_fast.rl",
    "aggregate_loss": "tl_fast.rl",
    "overlong_penalty": "tl_fast.rl",
    "GroupStats": "tl_fast.rl",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tl_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
