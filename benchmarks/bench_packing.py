"""Packed rows without a varlen kernel vs padded batches: SFT steps of the trainer's PKT loss on real data.

    python benchmarks/bench_packing.py --save            # CPU: tiny Llama 4x256, 8 steps of 8,192 tokens
    python benchmarks/bench_packing.py --providers packed_sample,padded --steps 4

Every provider trains a fresh copy of the same model on the same 8 batches of RoTLLaMA samples (the vendored
sample, MAE-split, rendered and PKT-weighted as the trainer does), forward + backward + AdamW per step:
- packed_sample: one packed row per batch, per-sample causal SDPA inside it (tl_fast_sdpa, the CPU default)
- packed_mask:   one packed row, plain SDPA with transformers' block-diagonal mask over the whole row
- padded:        the same samples right-padded to the longest of the batch (SDPA, padding mask)
- padded_sorted: padded after sorting the whole data by length (length-bucketed batches of the same tokens)
Reports seconds per step (median of the steps after the first) and in total; rows go to
benchmarks/results/bench_packing.csv with --save.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measurement, print_table, write_results  # noqa: E402

PROVIDERS = ("packed_sample", "packed_mask", "padded", "padded_sorted")


def sft_rows(max_length: int) -> list[dict]:
    import random

    from tl_fast.data import SAMPLE_DATA, build_sft_dataset, load_trajectories, mae_split
    from tl_fast.data.config import MAEConfig, PKTConfig, RenderConfig
    from tl_fast.train.config import ModelConfig
    from tl_fast.train.model import load_tokenizer

    tokenizer = load_tokenizer(ModelConfig())
    trajs, _ = load_trajectories(str(SAMPLE_DATA))
    samples, _ = mae_split(trajs, MAEConfig())
    ds = build_sft_dataset(samples, tokenizer, RenderConfig(), PKTConfig())
    rows = [ds[i] for i in range(len(ds)) if len(ds[i]["input_ids"]) <= max_length]
    random.Random(0).shuffle(rows)  # the trainer's fixed shuffled order
    return rows


def batches(rows: list[dict], provider: str, tokens: int, steps: int, pad_id: int) -> list[dict]:
    from tl_fast.data import collate_packed, collate_padded, pack_by_tokens

    if provider == "padded_sorted":
        rows = sorted(rows, key=lambda r: len(r["input_ids"]))
    groups = pack_by_tokens([len(r["input_ids"]) for r in rows], tokens)
    if provider == "padded_sorted":  # the same number of batches, spread over the length range
        groups = groups[:: max(1, len(groups) // steps)]
    groups = groups[:steps]
    if len(groups) < steps:
        raise SystemExit(f"only {len(groups)} batches of {tokens} tokens in the data; pass fewer --steps")
    if provider.startswith("packed"):
        return [collate_packed([rows[i] for i in g]) for g in groups]
    return [collate_padded([rows[i] for i in g], pad_id) for g in groups]


def run(provider: str, args, rows: list[dict]) -> Measurement:
    from tl_fast.attention import PACKED_NAME, register_packed_attention
    from tl_fast.train.config import ModelConfig
    from tl_fast.train.model import PKTLoss, build_policy, load_tokenizer

    register_packed_attention()
    cfg = ModelConfig(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads)
    cfg.intermediate_size = args.hidden * 8 // 3 // 64 * 64
    tokenizer = load_tokenizer(cfg)
    torch.manual_seed(0)
    attn = PACKED_NAME if provider == "packed_sample" else "sdpa"
    policy = build_policy(cfg, tokenizer, torch.float32, attn)
    loss_module = PKTLoss(policy)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    data = batches(rows, provider, args.tokens, args.steps, tokenizer.pad_token_id)
    real = sum(int(b["input_ids"].numel()) for b in data)
    ms, losses = [], []
    t_all = time.perf_counter()
    for batch in data:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_module(batch)
        loss.backward()
        opt.step()
        ms.append((time.perf_counter() - t0) * 1e3)
        losses.append(loss.item())
    total = time.perf_counter() - t_all
    steady = torch.tensor(ms[1:] or ms, dtype=torch.float64)
    p20, p50, p80 = (
        float(x) for x in torch.quantile(steady, torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64))
    )
    shape = f"L={args.layers},H={args.hidden},tokens={args.tokens},steps={args.steps}"
    extra = {"total_s": round(total, 2), "positions": real, "threads": torch.get_num_threads()}
    extra["loss_first"], extra["loss_last"] = round(losses[0], 4), round(losses[-1], 4)
    return Measurement("sft_step", provider, "full", shape, p20, p50, p80, None, extra=extra)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--providers", default=",".join(PROVIDERS), help=f"comma-separated subset of {PROVIDERS}")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--tokens", type=int, default=8192, help="tokens per batch (packed budget)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--max-length", type=int, default=2048, help="drop samples longer than this")
    p.add_argument(
        "--save", action="store_true", help="append the rows to benchmarks/results/bench_packing.csv"
    )
    args = p.parse_args()
    providers = [x for x in args.providers.split(",") if x]
    unknown = set(providers) - set(PROVIDERS)
    if unknown:
        raise SystemExit(f"unknown providers {sorted(unknown)}; choose from {PROVIDERS}")
    import datasets

    datasets.disable_progress_bars()
    rows = sft_rows(args.max_length)
    results = []
    for provider in providers:
        m = run(provider, args, rows)
        results.append(m)
        e = m.extra
        print(f"{provider:<14} {e['total_s']:7.1f} s for {args.steps} steps, {m.ms_p50 / 1e3:6.2f} s/step "
              f"(p50 after the first), {e['positions']:,} positions", flush=True)  # fmt: skip
    print_table(results)
    if args.save:
        print(f"rows appended to {write_results(results, 'bench_packing')}")


if __name__ == "__main__":
    main()
