"""The trainer's data step: load -> decontaminate -> MAE split -> render, tokenize, PKT weights -> batches.

Every count is printed as one table before training (`tl_fast.data.summary`); a step that leaves nothing to
train on stops the run with a one-line error before the run folder is made.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tl_fast._cli import UserError
from tl_fast.data.summary import DataSummary
from tl_fast.train.config import TrainConfig

if TYPE_CHECKING:
    from tl_fast.train.rollout import PromptItem


@dataclass
class PreparedData:
    sft_batches: list[dict]  # this rank's micro-batches, in training order
    ppo_items: list[PromptItem]
    counts: dict  # every count of the data summary, flat, for metrics.jsonl and report.md
    summary: DataSummary


def read_data(cfg: TrainConfig, stages: list[str]):
    """(samples, summary): load -> decontaminate -> MAE, before any model or tokenizer is loaded, so unusable
    data is reported at once."""
    from tl_fast.data.pipeline import data_source, read_samples

    summary = DataSummary(data_source(cfg.data))
    return read_samples(cfg.data, cfg.mae, summary, mae_enabled="mae" in stages), summary


def prepare_data(
    cfg: TrainConfig, tokenizer, stages: list[str], accelerator, read=None, show: bool = True
) -> PreparedData:
    """`read`: what read_data returned (read here when None). `cfg.data.max_length` must be resolved (an
    int; 0 = no limit). `show` prints the summary."""
    from tl_fast.data import build_sft_dataset, collate_packed, collate_padded, pack_by_tokens, ppo_prompt
    from tl_fast.data.pipeline import renderable
    from tl_fast.train.rollout import PromptItem

    samples, summary = read if read is not None else read_data(cfg, stages)
    samples = renderable(samples, cfg.render, tokenizer, summary)

    sft_batches: list[dict] = []
    if "sft" in stages:
        pkt = cfg.pkt if cfg.pkt.enabled else replace(cfg.pkt, enabled=False)
        ds = build_sft_dataset(samples, tokenizer, cfg.render, pkt)
        lengths = [len(ids) for ids in ds["input_ids"]]
        summary.over_length(lengths, cfg.data.max_length)
        keep = [i for i, n in enumerate(lengths) if not cfg.data.max_length or n <= cfg.data.max_length]
        random.Random(cfg.run.seed).shuffle(keep)  # fixed order: --resume skips exactly what was trained
        rows = [ds[i] for i in keep]
        groups = pack_by_tokens([len(r["input_ids"]) for r in rows], cfg.sft.tokens_per_batch)
        collate = collate_packed if cfg.sft.pack else lambda rs: collate_padded(rs, tokenizer.pad_token_id)
        batches = [collate([rows[i] for i in g]) for g in groups]
        # each rank takes every world-th batch; equal counts keep DDP's collectives in step
        world, rank = accelerator.num_processes, accelerator.process_index
        per_rank = len(batches) // world
        sft_batches = batches[rank::world][:per_rank]
        summary.add("SFT micro-batches per process", per_rank)
        if per_rank < cfg.sft.grad_accum:
            raise UserError(
                f"{per_rank} packed micro-batches per process (of {cfg.sft.tokens_per_batch} tokens, "
                f"{world} process(es)) < --sft-grad-accum {cfg.sft.grad_accum}: no optimizer step possible; "
                "lower --sft-grad-accum or --sft-tokens-per-batch, or give more data"
            )

    ppo_items: list[PromptItem] = []
    if "ppo" in stages:
        too_long = 0
        for s in samples:
            if not s.target.calls:
                continue
            p = ppo_prompt(s, cfg.render, tokenizer)
            if len(tokenizer(p.prompt, add_special_tokens=False)["input_ids"]) <= cfg.ppo.max_prompt_tokens:
                ppo_items.append(PromptItem(p.prompt, p.tools, p.gold))
            else:
                too_long += 1
        summary.ppo_prompts(len(ppo_items), too_long, cfg.ppo.max_prompt_tokens)
    if show:
        print(summary.table(), flush=True)
        for line in summary.warnings:
            print(line, file=sys.stderr, flush=True)
    return PreparedData(sft_batches, ppo_items, summary.counts, summary)
