"""tl_fast.data: TL-Training's first two stages as a data pipeline (MAE filtering, PKT-weighted SFT samples).

    trajs, load_report = load_trajectories("trajectories.jsonl.gz")          # rotllama | tl_raw | openai
    trajs, decon = decontaminate(trajs, load_eval_queries(shipped_eval_files()))
    samples, mae_report = mae_split(trajs, MAEConfig())
    ds = build_sft_dataset(samples, tokenizer, RenderConfig(), PKTConfig())  # ids, labels, weights
    batch = collate_packed([ds[i] for i in range(8)])

CLI: `python -m tl_fast.data prepare --input ... --tokenizer ... --output ...` (see `--help`).
"""

from pathlib import Path

from tl_fast.data.collate import collate_packed, collate_padded, pack_by_tokens
from tl_fast.data.config import PAPER_ERROR_PATTERNS, MAEConfig, PKTConfig, RenderConfig
from tl_fast.data.decontam import (
    DecontamReport,
    decontaminate,
    load_eval_queries,
    normalize_query,
    shipped_eval_files,
)
from tl_fast.data.formats import LoadReport, MalformedRecord, load_trajectories
from tl_fast.data.mae import MAEReport, authors_rule_flags, mae_split, tool_error
from tl_fast.data.pkt import IGNORE_INDEX, build_sft_dataset, drop_long, encode_sample, show_weights
from tl_fast.data.render import (
    PAPER_CHAT_TEMPLATE,
    PPOPrompt,
    RenderedCall,
    ppo_prompt,
    render_call,
    render_prompt,
    render_sample,
    render_tools,
)
from tl_fast.data.types import Call, Message, Sample, Tool, Trajectory

_ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_DATA = (
    _ASSETS / "data" / "rotllama_sample.jsonl.gz"
)  # 300 real trajectories, decontaminated vs RoTBench
SHIPPED_TOKENIZER = _ASSETS / "tokenizer"  # byte-level BPE, 2,051 tokens, paper chat template

__all__ = [
    "IGNORE_INDEX",
    "PAPER_CHAT_TEMPLATE",
    "PAPER_ERROR_PATTERNS",
    "SAMPLE_DATA",
    "SHIPPED_TOKENIZER",
    "Call",
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
