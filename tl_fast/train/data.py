"""The trainer's data step: load -> decontaminate -> MAE split -> render, tokenize, PKT weights -> batches."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from tl_fast.train.config import TrainConfig
from tl_fast.train.rollout import PromptItem


@dataclass
class PreparedData:
    sft_batches: list[dict]  # this rank's micro-batches, in training order
    ppo_items: list[PromptItem]
    counts: dict  # every count of the data report, flat, for metrics.jsonl and report.md


def prepare_data(cfg: TrainConfig, tokenizer, stages: list[str], accelerator) -> PreparedData:
    from tl_fast.data import (
        SAMPLE_DATA,
        build_sft_dataset,
        collate_packed,
        collate_padded,
        decontaminate,
        drop_long,
        load_eval_queries,
        load_trajectories,
        mae_split,
        pack_by_tokens,
        ppo_prompt,
        shipped_eval_files,
    )

    source = cfg.data.data or str(SAMPLE_DATA)
    trajs, load_report = load_trajectories(source, format=cfg.data.data_format, strict=cfg.data.strict)
    counts = {"records in": load_report.records_in, "trajectories": len(trajs)}
    counts.update({f"malformed: {k}": v for k, v in load_report.dropped.items()})
    if cfg.data.eval_sets and cfg.data.decontaminate:
        if cfg.data.eval_sets == "shipped":
            paths = shipped_eval_files()
        else:
            paths = [p.strip() for p in cfg.data.eval_sets.split(",") if p.strip()]
        trajs, decon = decontaminate(trajs, load_eval_queries(paths))
        counts[f"decontaminated ({decon.rule} normalized query)"] = decon.removed
    # Without the MAE stage every assistant turn is trained on, failed calls included (plain SFT).
    mae_cfg = cfg.mae if "mae" in stages else replace(cfg.mae, error_patterns=(), structured_errors=False)
    samples, mae_report = mae_split(trajs, mae_cfg)
    counts["assistant turns"] = mae_report.assistant_turns
    counts.update({f"MAE dropped: {k}": v for k, v in mae_report.dropped.items()})
    counts["samples"] = len(samples)
    if cfg.data.max_samples is not None:
        samples = samples[: cfg.data.max_samples]
        counts["samples used (--max-samples)"] = len(samples)

    sft_batches: list[dict] = []
    if "sft" in stages:
        pkt = cfg.pkt if cfg.pkt.enabled else replace(cfg.pkt, enabled=False)
        ds = build_sft_dataset(samples, tokenizer, cfg.render, pkt)
        if cfg.data.max_length:
            ds, too_long = drop_long(ds, cfg.data.max_length)
            counts["SFT samples over max_length"] = too_long
        order = list(range(len(ds)))
        random.Random(cfg.run.seed).shuffle(order)  # fixed order: --resume skips exactly what was trained
        rows = [ds[i] for i in order]
        groups = pack_by_tokens([len(r["input_ids"]) for r in rows], cfg.sft.tokens_per_batch)
        collate = collate_packed if cfg.sft.pack else lambda rs: collate_padded(rs, tokenizer.pad_token_id)
        batches = [collate([rows[i] for i in g]) for g in groups]
        # each rank takes every world-th batch; equal counts keep DDP's collectives in step
        world, rank = accelerator.num_processes, accelerator.process_index
        per_rank = len(batches) // world
        sft_batches = batches[rank::world][:per_rank]
        counts["SFT batches per rank"] = per_rank

    ppo_items: list[PromptItem] = []
    if "ppo" in stages:
        for s in samples:
            if not s.target.calls:
                continue
            p = ppo_prompt(s, cfg.render, tokenizer)
            if len(tokenizer(p.prompt, add_special_tokens=False)["input_ids"]) <= cfg.ppo.max_prompt_tokens:
                ppo_items.append(PromptItem(p.prompt, p.tools, p.gold))
        counts["PPO prompts"] = len(ppo_items)
    return PreparedData(sft_batches, ppo_items, counts)
