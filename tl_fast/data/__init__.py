"""tl_fast.data: TL-Training's first two stages as a data pipeline (MAE filtering, PKT-weighted SFT samples).

    trajs, load_report = load_trajectories("trajectories.jsonl.gz")          # rotllama | tl_raw | openai
    trajs, decon = decontaminate(trajs, load_eval_queries(shipped_eval_files()))
    samples, mae_report = mae_split(trajs, MAEConfig())
    ds = build_sft_dataset(samples, tokenizer, RenderConfig(), PKTConfig())  # ids, labels, weights
    batch = collate_packed([ds[i] for i in range(8)])

CLI: `python -m tl_fast.data prepare --data ... --tokenizer ... --output ...` (see `--help`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

_ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_DATA = _ASSETS / "data" / "rotllama_sample.jsonl.gz"  # 300 real trajectories, decontaminated
SHIPPED_TOKENIZER = _ASSETS / "tokenizer"  # byte-level BPE, 2,051 tokens, paper chat template

# Names load on first use, so `python -m tl_fast.data --help` and the configs import no torch.
_LAZY = {
    "tl_fast.data.collate": ("collate_packed", "collate_padded", "pack_by_tokens"),
    "tl_fast.data.config": ("PAPER_ERROR_PATTERNS", "DataConfig", "MAEConfig", "PKTConfig", "RenderConfig"),
    "tl_fast.data.decontam": (
        "DecontamReport",
        "decontaminate",
        "load_eval_queries",
        "normalize_query",
        "shipped_eval_files",
    ),
    "tl_fast.data.formats": ("LoadReport", "MalformedRecord", "load_trajectories"),
    "tl_fast.data.mae": ("MAEReport", "authors_rule_flags", "mae_split", "tool_error"),
    "tl_fast.data.pkt": ("IGNORE_INDEX", "build_sft_dataset", "drop_long", "encode_sample", "show_weights"),
    "tl_fast.data.render": (
        "PAPER_CHAT_TEMPLATE",
        "PPOPrompt",
        "RenderedCall",
        "ppo_prompt",
        "render_call",
        "render_prompt",
        "render_sample",
        "render_tools",
    ),
    "tl_fast.data.types": ("Call", "Message", "Sample", "Tool", "Trajectory"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tl_fast.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = [
    "IGNORE_INDEX",
    "PAPER_CHAT_TEMPLATE",
    "PAPER_ERROR_PATTERNS",
    "SAMPLE_DATA",
    "SHIPPED_TOKENIZER",
    "Call",
    "DataConfig",
    "DecontamReport",
    "LoadReport",
    "MAEConfig",
    "MAEReport",
    "MalformedRecord",
    "Message",
    "PKTConfig",
    "PPOPrompt",
    "RenderConfig",
    "RenderedCall",
    "Sample",
    "Tool",
    "Trajectory",
    "authors_rule_flags",
    "build_sft_dataset",
    "collate_packed",
    "collate_padded",
    "decontaminate",
    "drop_long",
    "encode_sample",
    "load_eval_queries",
    "load_trajectories",
    "mae_split",
    "normalize_query",
    "pack_by_tokens",
    "ppo_prompt",
    "render_call",
    "render_prompt",
    "render_sample",
    "render_tools",
    "shipped_eval_files",
    "show_weights",
    "tool_error",
]
