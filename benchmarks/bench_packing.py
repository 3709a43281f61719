"""Packed rows without a varlen kernel vs padded batches: SFT steps of the trainer's PKT loss on real data.

    python benchmarks/bench_packing.py --save            # CPU: tiny Llama 4x256, 8 steps of 8,192 tokens
    python benchmarks/bench_packing.py --providers packed_sample,padded --steps 4

Every provider trains a fresh copy of the same model on the same 8 batches of RoTLLaMA samples (the vendored
sample, MAE-split, rendered and PKT-weighted as the trainer does), forward + backward + AdamW per step; the
providers' steps interleave, so a load change on a shared machine affects them alike:
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


class Trainer:
    """One provider's fresh model, optimizer and batches; step(k) trains on batch k."""

    def __init__(self, provider: str, args, rows: list[dict]):
        from tl_fast.attention import PACKED_NAME, register_packed_attention
        from tl_fast.train.config import ModelConfig
        from tl_fast.train.model import PKTLoss, build_policy, load_tokenizer

        register_packed_attention()
        cfg = ModelConfig(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads)
        cfg.intermediate_size = args.hidden * 8 // 3 // 64 * 64
        tokenizer = load_tokenizer(cfg)
        torch.manual_seed(0)
        attn = PACKED_NAME if provider == "packed_sample" else "sdpa"
        self.provider = provider
        self.loss_module = PKTLoss(build_policy(cfg, tokenizer, torch.float32, attn))
        self.opt = torch.optim.AdamW(self.loss_module.parameters(), lr=1e-3)
        self.data = batches(rows, provider, args.tokens, args.steps, tokenizer.pad_token_id)
        self.ms: list[float] = []
        self.losses: list[float] = []

    def step(self, k: int) -> None:
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_module(self.data[k])
        loss.backward()
        self.opt.step()
        self.ms.append((time.perf_counter() - t0) * 1e3)
        self.losses.append(loss.item())

    def result(self, args) -> Measurement:
        steady = torch.tensor(self.ms[1:] or self.ms, dtype=torch.float64)
        q = torch.quantile(steady, torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)).tolist()
        shape = f"L={args.layers},H={args.hidden},tokens={args.tokens},steps={args.steps}"
        extra = {
            "total_s": round(sum(self.ms) / 1e3, 2),
            "positions": sum(int(b["input_ids"].numel()) for b in self.data),
            "threads": torch.get_num_threads(),
            "loss_first": round(self.losses[0], 4),
            "loss_last": round(self.losses[-1], 4),
        }
        return Measurement("sft_step", self.provider, "full", shape, *q, None, extra=extra)


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
    trainers = [Trainer(provider, args, rows) for provider in providers]
    # Steps interleave the providers (in rotating order), so a load change on a shared machine hits all alike.
    for k in range(args.steps):
        for t in trainers[k % len(trainers) :] + trainers[: k % len(trainers)]:
            t.step(k)
    results = [t.result(args) for t in trainers]
    for m in results:
        e = m.extra
        print(f"{m.provider:<14} {e['total_s']:7.1f} s for {args.steps} steps, {m.ms_p50 / 1e3:6.2f} s/step "
              f"(p50 after the first), {e['positions']:,} positions, loss {e['loss_first']} -> "
              f"{e['loss_last']}", flush=True)  # fmt: skip
    print_table(results)
    if args.save:
        print(f"rows appended to {write_results(results, 'bench_packing')}")


if __name__ == "__main__":
    main()
