"""The IRM reward as OpenRLHF's custom reward function (OpenRLHF is not a dependency: plain Python + torch).

    python -m openrlhf.cli.train_ppo_ray ... \\
        --remote_rm_url $(python -c "import tl_fast.integrations.openrlhf as m; print(m.__file__)") \\
        --label_key label           # each prompt row's "label": the JSON text below

OpenRLHF loads the file given as `--remote_rm_url` and calls `reward_func(queries, prompts, labels)` per chunk
of rollouts: `queries` are prompt + response decoded with skip_special_tokens=False (padding and chat special
tokens included), `prompts` the prompt texts, `labels` the `--label_key` field of each row:
    {"tools": [<JSON-schema tools>], "gold": "get_weather(city='Paris')"}     # JSON text, or a dict
It returns {"rewards": (B,) fp32 for the advantages, "scores": (B,) fp32 in [0, 1] for --dynamic_filtering
(1 = correct call), "extra_logs": {name: float} logged to wandb}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from tl_fast.integrations._reward import Scorer, answer_text, category_shares, parse_label

__all__ = ["reward_func", "response_of"]

_SCORER = Scorer()
_TAIL = 64  # characters of the prompt's end searched for when the whole prompt does not decode back verbatim


def response_of(query: str, prompt: str) -> tuple[str, bool]:
    """(the response part of `query`, whether the prompt was found in it). The query is decoded from token
    ids, so left padding precedes the prompt and its text can differ slightly from `prompt`; the prompt's end
    is searched for then. When neither is found the whole query is scored (most likely a format error)."""
    at = query.find(prompt) if prompt else -1
    if at >= 0:
        return query[at + len(prompt) :], True
    tail = prompt[-_TAIL:].strip()
    at = query.rfind(tail) if tail else -1
    if at >= 0:
        return query[at + len(tail) :], True
    return query, False


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs
) -> dict[str, Any]:
    """IRM rewards of a chunk of rollouts (see the module docstring for the label format)."""
    if not len(queries) == len(prompts) == len(labels):
        raise ValueError(f"got {len(queries)} queries, {len(prompts)} prompts and {len(labels)} labels")
    parsed = [parse_label(label, where=f"label of rollout {i}") for i, label in enumerate(labels)]
    responses, found = [], 0
    for query, prompt in zip(queries, prompts, strict=True):
        text, ok = response_of(query, prompt or "")
        responses.append(answer_text(text))
        found += ok
    verdicts, rewards = _SCORER(
        responses, [t for t, _ in parsed], [g for _, g in parsed], "label of rollout {}"
    )
    logs = {f"irm/{c}": share for c, share in category_shares(verdicts).items()}
    logs["irm/prompt_not_found"] = float(len(queries) - found)
    return {
        "rewards": torch.tensor(rewards, dtype=torch.float32),
        "scores": torch.tensor([float(v.correct) for v in verdicts], dtype=torch.float32),
        "extra_logs": logs,
    }
