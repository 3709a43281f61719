"""SFT and PPO throughput of the tl_fast trainer vs plain transformers, on a CodeLlama-7B-shaped model.

    python benchmarks/bench_train.py --save     # H100: 7B shape, random init, LoRA r=16, bf16, 4096 tokens
    python benchmarks/bench_train.py --layers 2 --hidden 256 --heads 4 --tokens 512 --steps 2   # CPU smoke

SFT providers (same model, same tokens per step):
- tl_fast: one packed padding-free batch (varlen FlashAttention on CUDA), PKT loss from
  fused_linear_cross_entropy on the final hidden states, token weights on.
- hf_baseline: padded batch (SDPA), `model(input_ids, attention_mask, labels).loss` (materialized logits).
Reports tokens/s, model TFLOP/s and MFU (6·N_params·tokens convention, N = all parameters), peak memory.
PPO: one iteration (rollout with KV cache, scoring, experience, update) with its time breakdown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measurement, print_table, write_results  # noqa: E402

H100_BF16_DENSE_TFLOPS = 989.0


def build(args, attn: str):
    from transformers import LlamaConfig, LlamaForCausalLM

    from tl_fast.train.config import ModelConfig
    from tl_fast.train.model import add_lora

    cfg = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        max_position_embeddings=max(4096, args.tokens),
        tie_word_embeddings=False,
    )
    cfg._attn_implementation = attn
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    with torch.device(args.device):
        model = LlamaForCausalLM(cfg).to(dtype)
    if args.grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    n_params = sum(p.numel() for p in model.parameters())
    if args.lora_r:
        model = add_lora(model, ModelConfig(lora_r=args.lora_r, lora_alpha=2 * args.lora_r))
    return model, n_params


def sequences(args) -> list[int]:
    """Lengths of the samples packed into one step: a realistic mix (256..2048) summing to args.tokens."""
    g = torch.Generator().manual_seed(0)
    lengths, total = [], 0
    while total < args.tokens:
        n = int(torch.randint(256, 2049, (1,), generator=g))
        n = min(n, args.tokens - total)
        lengths.append(n)
        total += n
    return lengths


def sft_step_tl_fast(model, lengths, args):
    from tl_fast.data.collate import collate_packed
    from tl_fast.train.model import PKTLoss

    rows = []
    for n in lengths:
        ids = torch.randint(3, args.vocab, (n,)).tolist()
        labels = [-100] * (n // 2) + ids[n // 2 :]
        weights = [1.0] * n
        rows.append({"input_ids": ids, "labels": labels, "token_weights": weights})
    batch = {k: v.to(args.device) if torch.is_tensor(v) else v for k, v in collate_packed(rows).items()}
    loss_module = PKTLoss(model)
    return lambda: loss_module(batch).backward()


def sft_step_hf(model, lengths, args):
    B, T = len(lengths), max(lengths)
    ids = torch.randint(3, args.vocab, (B, T), device=args.device)
    mask = torch.zeros(B, T, dtype=torch.long, device=args.device)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, : T // 2] = -100
    return lambda: model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()


def bench_sft(args) -> list[Measurement]:
    from tl_fast.attention import select_attention

    lengths = sequences(args)
    shape = f"L={args.layers},H={args.hidden},V={args.vocab},tokens={args.tokens},lora={args.lora_r}"
    rows = []
    device = torch.device(args.device)
    for provider, attn, make in (
        ("tl_fast", select_attention("auto", device)[0], sft_step_tl_fast),
        ("hf_baseline", "sdpa", sft_step_hf),
    ):
        model, n_params = build(args, attn)
        step = make(model, lengths, args)
        flops = 6.0 * n_params * args.tokens
        m = _time(step, args)
        m = Measurement("train_sft", provider, "full", shape, *m, flops=flops)
        if torch.cuda.is_available():
            m.extra["mfu"] = f"{m.tflops / H100_BF16_DENSE_TFLOPS:.3f}"
        m.extra["tokens_per_s"] = f"{args.tokens / (m.ms_p50 * 1e-3):.0f}"
        m.peak_mem_mb = _peak_mb(step)
        rows.append(m)
        del model, step
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return rows


def bench_ppo(args) -> list[Measurement]:
    """One PPO iteration on the 7B shape: time of rollout (generate), scoring, experience and update."""
    from tl_fast.attention import select_attention
    from tl_fast.reward import categorize_batch
    from tl_fast.train.config import PPOConfig
    from tl_fast.train.model import Critic
    from tl_fast.train.ppo import ppo_update
    from tl_fast.train.rollout import Experience, PolicyLogprobs, response_logprobs, response_values

    model, _ = build(args, select_attention("auto", torch.device(args.device))[0])
    critic = Critic(model)
    cfg = PPOConfig(
        rollout_batch=args.ppo_batch, minibatch=args.ppo_batch, ppo_epochs=1, max_new_tokens=args.new_tokens
    )
    B, P, R = args.ppo_batch, args.prompt_tokens, args.new_tokens
    prompts = torch.randint(3, args.vocab, (B, P), device=args.device)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    times = {}
    sync()
    t0 = time.perf_counter()
    from tl_fast.train.model import causal_lm

    with torch.no_grad():
        out = causal_lm(model).generate(
            input_ids=prompts,
            max_new_tokens=R,
            min_new_tokens=R,
            do_sample=True,
            use_cache=True,
            pad_token_id=0,
        )
    sync()
    times["rollout"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tools = [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
    categorize_batch(["f(x=1)"] * B, [tools] * B, ["f(x=1)"] * B, protocol="tl")
    times["scoring"] = time.perf_counter() - t0
    mask = torch.ones_like(out)
    t0 = time.perf_counter()
    with torch.no_grad():
        lp = response_logprobs(model, out, mask, R)
        if hasattr(model, "disable_adapter"):  # LoRA: the reference is the model without its adapters
            with model.disable_adapter():
                ref = response_logprobs(model, out, mask, R)
        else:
            ref = response_logprobs(model, out, mask, R)
        values = response_values(critic, out, mask, R)
    sync()
    times["experience"] = time.perf_counter() - t0
    exp = Experience(
        out,
        mask,
        torch.ones(B, R, device=out.device, dtype=torch.long),
        lp,
        ref,
        values,
        torch.ones(B, device=out.device),
        ["correct"] * B,
        [""] * B,
    )
    actor_opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    critic_opt = torch.optim.AdamW([p for p in critic.parameters() if p.requires_grad], lr=1e-6)
    t0 = time.perf_counter()
    ppo_update(PolicyLogprobs(model), critic, actor_opt, critic_opt, exp, cfg)
    sync()
    times["update"] = time.perf_counter() - t0
    shape = f"B={B},prompt={P},new={R},L={args.layers},H={args.hidden}"
    total = sum(times.values()) * 1e3
    row = Measurement("train_ppo_iter", "tl_fast", "full", shape, total, total, total)
    row.extra.update({k: f"{v * 1e3:.1f}ms" for k, v in times.items()})
    return [row]


def _time(step, args) -> tuple[float, float, float]:
    for _ in range(args.warmup):
        step()
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    times = []
    for _ in range(args.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    q = torch.quantile(
        torch.tensor(times, dtype=torch.float64), torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)
    )
    return tuple(float(x) for x in q)


def _peak_mb(step) -> float | None:
    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--intermediate", type=int, default=11008)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--vocab", type=int, default=32016)
    p.add_argument("--tokens", type=int, default=4096, help="tokens per SFT step (one packed batch)")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--grad-ckpt", action="store_true")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--ppo-batch", type=int, default=8)
    p.add_argument("--prompt-tokens", type=int, default=1024)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--skip-ppo", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--save", action="store_true", help="append rows to benchmarks/results/train.csv")
    args = p.parse_args()
    rows = bench_sft(args)
    if not args.skip_ppo:
        rows += bench_ppo(args)
    print_table(rows)
    for r in rows:
        print(r.provider, r.bench, r.extra)
    if args.save:
        print("wrote", write_results(rows, "train"))


if __name__ == "__main__":
    main()
