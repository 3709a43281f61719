"""PPO benchmark: GAE, the fused policy loss and lm_head log-probs, tl_fast against the usual torch forms.

    python benchmarks/bench_ppo.py            # H100-size shapes, appends rows to benchmarks/results/ppo.csv
    python benchmarks/bench_ppo.py --quick    # toy shapes, checks that all providers agree; runs on CPU too
    python benchmarks/bench_ppo.py --only gae,policy_loss --no-save

Shapes (full): GAE and the policy loss at B=256, T=1024; log-probs at N=16384, H=4096, V=128256 in bf16.
Providers:
  gae          tl_fast (one Triton launch) | torch_loop (the per-time-step Python loop of TRL / OpenRLHF) |
               torch_vectorized (the compacted, blocked-matmul twin in tl_fast/kernels/ppo.py)
  policy_loss  tl_fast (fused kernel, fwd+bwd) | torch_eager (TRL-style formula, masked stats) | torch_compile
  logprobs     tl_fast (fused_linear_logprobs) | torch_materialized (log_softmax + gather on (N, V) logits) |
               torch_chunked (row chunks, logits recomputed in the backward) | gemm_floor (the three GEMMs of
               the work done: h W^T, dL W, dL^T h; the sum of their medians)
On CPU (only with --quick) the Triton kernels run under TRITON_INTERPRET=1, so the times are not speeds;
--quick never writes result rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

CUDA = torch.cuda.is_available()
if not CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before any @triton.jit is created

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS_DIR, Measurement, measure, print_table, write_results  # noqa: E402

import tl_fast  # noqa: E402
from tl_fast.kernels.ppo import gae_torch  # noqa: E402

DEVICE = "cuda" if CUDA else "cpu"


def check(name: str, got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> None:
    torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=atol, msg=lambda m: f"{name}: {m}")


# ----------------------------------------------------------------------------------------------------------
# GAE


def gae_loop(rewards, values, mask, gamma: float, lam: float):
    """The loop public PPO trainers run (OpenRLHF `get_advantages_and_returns`; TRL is the same loop)."""
    values = values * mask
    rewards = rewards * mask
    last, reversed_adv = 0.0, []
    T = rewards.shape[1]
    for t in reversed(range(T)):
        next_values = values[:, t + 1] if t < T - 1 else 0.0
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last = delta + gamma * lam * last
        reversed_adv.append(last)
    adv = torch.stack(reversed_adv[::-1], dim=1)
    return adv, adv + values


def bench_gae(B: int, T: int, rows: list[Measurement]) -> None:
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    rewards = torch.randn(B, T, device=DEVICE, generator=gen)
    values = torch.randn(B, T, device=DEVICE, generator=gen)
    # Right padding only (responses of random length): the loop above is correct only for that layout.
    lengths = torch.randint(1, T + 1, (B, 1), device=DEVICE, generator=gen)
    mask = torch.arange(T, device=DEVICE)[None, :] < lengths
    fmask = mask.float()
    want = gae_loop(rewards, values, fmask, 1.0, 0.95)
    for name, fn in (
        ("tl_fast", lambda: tl_fast.gae(rewards, values, mask, 1.0, 0.95)),
        ("torch_vectorized", lambda: gae_torch(rewards, values, mask, 1.0, 0.95)),
    ):
        got = fn()
        for g, w in zip(got, want, strict=True):
            check(f"gae {name}", g * fmask, w * fmask, rtol=1e-4, atol=1e-3)
    shape = f"B={B},T={T}"
    io_bytes = B * T * (4 + 4 + 1 + 4 + 4)  # read r, V, mask; write A, R
    loop_fn = lambda: gae_loop(rewards, values, fmask, 1.0, 0.95)  # noqa: E731
    loop = measure(loop_fn, bench="gae", provider="torch_loop", mode="fwd", shape=shape, bytes_moved=io_bytes)
    rows.append(loop)
    for provider, fn in (
        ("tl_fast", lambda: tl_fast.gae(rewards, values, mask, 1.0, 0.95)),
        ("torch_vectorized", lambda: gae_torch(rewards, values, mask, 1.0, 0.95)),
    ):
        m = measure(fn, bench="gae", provider=provider, mode="fwd", shape=shape, bytes_moved=io_bytes)
        m.extra["speedup_vs_loop"] = f"{loop.ms_p50 / m.ms_p50:.1f}"
        rows.append(m)


# ----------------------------------------------------------------------------------------------------------
# Policy loss


def policy_loss_eager(logp, old, adv, mask, clip: float = 0.2):
    """TRL-style clipped surrogate with its statistics, one torch op at a time."""
    mask = mask.float()
    log_ratio = (logp - old) * mask
    ratio = torch.exp(log_ratio)
    l1 = -adv * ratio
    l2 = -adv * ratio.clamp(1 - clip, 1 + clip)
    loss_tok = torch.maximum(l1, l2)
    n = mask.sum().clamp(min=1)
    loss = (loss_tok * mask).sum() / n
    with torch.no_grad():
        clip_frac = ((l2 > l1).float() * mask).sum() / n
        approx_kl = (((ratio - 1) - log_ratio) * mask).sum() / n
        ratio_mean = (ratio * mask).sum() / n
    return loss, (clip_frac, approx_kl, ratio_mean)


def bench_policy_loss(B: int, T: int, rows: list[Measurement]) -> None:
    gen = torch.Generator(device=DEVICE).manual_seed(1)
    old = torch.randn(B, T, device=DEVICE, generator=gen) - 2
    logp = (old + 0.2 * torch.randn(B, T, device=DEVICE, generator=gen)).requires_grad_()
    adv = torch.randn(B, T, device=DEVICE, generator=gen)
    mask = torch.rand(B, T, device=DEVICE, generator=gen) > 0.2

    def run(loss_fn):
        def step():
            loss, stats = loss_fn(logp, old, adv, mask)
            return torch.autograd.grad(loss, logp)[0], loss, stats

        return step

    providers = [
        ("tl_fast", run(lambda *a: tl_fast.ppo_policy_loss(*a, clip=0.2))),
        ("torch_eager", run(policy_loss_eager)),
    ]
    if CUDA:
        providers.append(("torch_compile", run(torch.compile(policy_loss_eager))))
    want_grad, want_loss, want_stats = run(policy_loss_eager)()
    shape = f"B={B},T={T}"
    for provider, step in providers:
        grad, loss, stats = step()
        check(f"policy_loss {provider} loss", loss, want_loss, rtol=1e-5, atol=1e-6)
        check(f"policy_loss {provider} grad", grad, want_grad, rtol=1e-5, atol=1e-7)
        check(f"policy_loss {provider} clip_frac", stats[0], want_stats[0], rtol=1e-5, atol=1e-6)
        rows.append(measure(step, bench="policy_loss", provider=provider, mode="full", shape=shape))


# ----------------------------------------------------------------------------------------------------------
# Log-probs through the lm_head


class ChunkedLogprobs(torch.autograd.Function):
    """log_softmax(h W^T)[tokens] one block of rows at a time; the backward recomputes each block's logits."""

    @staticmethod
    def forward(ctx, hidden, weight, tokens, chunk: int):
        out = torch.empty(hidden.shape[0], device=hidden.device, dtype=torch.float32)
        for s in range(0, hidden.shape[0], chunk):
            logits = (hidden[s : s + chunk] @ weight.T).float()
            out[s : s + chunk] = logits.gather(1, tokens[s : s + chunk, None])[:, 0] - logits.logsumexp(-1)
        ctx.save_for_backward(hidden, weight, tokens)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad_out):
        hidden, weight, tokens = ctx.saved_tensors
        grad_h = torch.empty_like(hidden)
        grad_w = torch.zeros_like(weight, dtype=torch.float32)
        for s in range(0, hidden.shape[0], ctx.chunk):
            h, g = hidden[s : s + ctx.chunk], grad_out[s : s + ctx.chunk, None]
            # d logp_y / d logits = onehot(y) - softmax(logits)
            dlogits = -torch.softmax((h @ weight.T).float(), -1) * g
            dlogits.scatter_add_(1, tokens[s : s + ctx.chunk, None], g)
            dlogits = dlogits.to(hidden.dtype)
            grad_h[s : s + ctx.chunk] = dlogits @ weight
            grad_w += (dlogits.T @ h).float()
        return grad_h, grad_w.to(weight.dtype), None, None


def logprobs_materialized(hidden, weight, tokens):
    return torch.log_softmax((hidden @ weight.T).float(), -1).gather(1, tokens[:, None])[:, 0]


def bench_logprobs(N: int, H: int, V: int, dtype: torch.dtype, rows: list[Measurement]) -> None:
    gen = torch.Generator(device=DEVICE).manual_seed(2)
    hidden = (torch.randn(N, H, device=DEVICE, generator=gen) / H**0.25).to(dtype).requires_grad_()
    weight = (torch.randn(V, H, device=DEVICE, generator=gen) / H**0.25).to(dtype).requires_grad_()
    tokens = torch.randint(0, V, (N,), device=DEVICE, generator=gen)
    upstream = torch.randn(N, device=DEVICE, generator=gen)
    chunk = max(1, min(N, 512))
    providers = {
        "tl_fast": lambda: tl_fast.fused_linear_logprobs(hidden, weight, tokens),
        "torch_materialized": lambda: logprobs_materialized(hidden, weight, tokens),
        "torch_chunked": lambda: ChunkedLogprobs.apply(hidden, weight, tokens, chunk),
    }
    ref = None
    shape = f"N={N},H={H},V={V},{str(dtype).removeprefix('torch.')}"
    flops = 6 * N * H * V  # forward GEMM + the two backward GEMMs
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == torch.bfloat16 else dict(rtol=1e-4, atol=1e-4)
    for provider, fwd in providers.items():
        full = lambda fwd=fwd: torch.autograd.grad(fwd(), (hidden, weight), upstream)  # noqa: E731
        out = fwd()
        grads = full()
        if ref is None:
            ref = (out.detach(), grads)  # tl_fast first: the others are checked against it
        else:
            check(f"logprobs {provider}", out, ref[0], **tol)
            check(f"logprobs {provider} grad_hidden", grads[0], ref[1][0], **tol)
            check(f"logprobs {provider} grad_weight", grads[1], ref[1][1], **tol)
        del out, grads
        with torch.no_grad():
            fwd_only = measure(
                fwd, bench="logprobs", provider=provider, mode="fwd", shape=shape, flops=flops // 3
            )
            rows.append(fwd_only)
        rows.append(measure(full, bench="logprobs", provider=provider, mode="full", shape=shape, flops=flops))

    # The GEMM floor of the work done, each GEMM timed alone into a preallocated output.
    with torch.no_grad():
        h, w = hidden.detach(), weight.detach()
        dlogits = torch.randn(N, V, device=DEVICE, generator=gen).to(dtype)
        logits = torch.empty(N, V, device=DEVICE, dtype=dtype)
        gemm = dict(bench="logprobs", shape=shape)
        gemms = [
            measure(lambda: torch.matmul(h, w.T, out=logits), provider="gemm_fwd", mode="fwd", **gemm),
            measure(lambda: torch.matmul(dlogits, w), provider="gemm_dhidden", mode="bwd", **gemm),
            measure(lambda: torch.matmul(dlogits.T, h), provider="gemm_dweight", mode="bwd", **gemm),
        ]
    p20, p50, p80 = (sum(getattr(g, k) for g in gemms) for k in ("ms_p20", "ms_p50", "ms_p80"))
    floor = Measurement("logprobs", "gemm_floor", "full", shape, p20, p50, p80, flops=flops)
    rows.extend(gemms)
    rows.append(floor)
    for r in rows:
        if r.bench == "logprobs" and r.mode == "full" and r.shape == shape:
            r.extra["x_gemm_floor"] = f"{r.ms_p50 / floor.ms_p50:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="toy shapes; runs on CPU; never writes rows")
    parser.add_argument("--only", default="gae,policy_loss,logprobs", help="comma-separated sections")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder for ppo.csv")
    args = parser.parse_args(argv)
    if not CUDA and not args.quick:
        parser.error("full-size shapes need a CUDA device; use --quick on CPU")
    sections = set(args.only.split(","))
    unknown = sections - {"gae", "policy_loss", "logprobs"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; expected gae, policy_loss, logprobs")

    rows: list[Measurement] = []
    if "gae" in sections:
        bench_gae(*((8, 40) if args.quick else (256, 1024)), rows)
    if "policy_loss" in sections:
        bench_policy_loss(*((8, 40) if args.quick else (256, 1024)), rows)
    if "logprobs" in sections:
        if args.quick:
            bench_logprobs(48, 32, 1000, torch.float32, rows)
        else:
            bench_logprobs(16384, 4096, 128256, torch.bfloat16, rows)
    print_table(rows)
    for r in rows:
        if r.extra:
            print(f"{r.bench:<12}{r.provider:<20}" + " ".join(f"{k}={v}" for k, v in r.extra.items()))
    if not (args.quick or args.no_save):
        print(f"rows appended to {write_results(rows, 'ppo', args.out)}")


if __name__ == "__main__":
    main()
