"""Fused linear cross-entropy with token weights (PKT-SFT loss): tl_fast vs torch, peers and the GEMM floor.

    python benchmarks/bench_cross_entropy.py            # H100 run: H=4096, V in {32016, 128256}, N 4k..32k
    python benchmarks/bench_cross_entropy.py --quick    # toy shapes, any device: checks the script end to end
    python benchmarks/bench_cross_entropy.py --shapes 16384,4096,128256 --chunk-size 512 --providers tl_fast

Providers: tl_fast (fused_linear_cross_entropy with token weights), torch_eager (F.linear + F.cross_entropy
on fp32 logits, weighted), torch_compile (the same function compiled), liger (Liger-Kernel FLCE, which takes
no token weights: timed without them), cce (Cut Cross-Entropy, reduction="none" then weighted), gemm_floor
(the three cuBLAS GEMMs alone: logits, grad_hidden, grad_weight). Peers are skipped when not installed.
Modes: "fwd" = loss only under torch.no_grad() (2*N*H*V FLOPs), "full" = forward + backward (6*N*H*V FLOPs).
Rows go to benchmarks/results/<name>.csv (appended, with device, versions, git SHA, date) and a PNG per run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import RESULTS_DIR, Measurement, measure, print_table, write_results  # noqa: E402

from tl_fast.losses import fused_linear_cross_entropy  # noqa: E402

BENCH = "fused_linear_ce"
FULL_SHAPES = [(n, 4096, v) for v in (32016, 128256) for n in (4096, 8192, 16384, 32768)]
QUICK_SHAPES = [(256, 64, 1000), (512, 64, 1000)]
PROVIDERS = ("gemm_floor", "tl_fast", "torch_eager", "torch_compile", "liger", "cce")


def weighted_ce_fp32(hidden, weight, labels, weights):
    """The eager reference: fp32 logits, per-token loss, sum w*l / sum w over non-ignored tokens."""
    rows = F.cross_entropy(F.linear(hidden, weight).float(), labels, reduction="none")
    w = weights * (labels != -100)
    return (rows * w).sum() / w.sum()


def make_provider(name: str, chunk_size: int | None) -> Callable | None:
    """loss_fn(hidden, weight, labels, weights) -> scalar loss, or None when the provider is unavailable."""
    if name == "tl_fast":
        return lambda h, w, y, tw: fused_linear_cross_entropy(h, w, y, tw, chunk_size=chunk_size)
    if name == "torch_eager":
        return weighted_ce_fp32
    if name == "torch_compile":
        return torch.compile(weighted_ce_fp32, dynamic=False)
    if name == "liger":
        try:
            from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss
        except ImportError:
            return None
        liger = LigerFusedLinearCrossEntropyLoss()
        return lambda h, w, y, tw: liger(w, h, y)  # no token weights in Liger's FLCE
    if name == "cce":
        try:
            from cut_cross_entropy import linear_cross_entropy
        except ImportError:
            return None

        def cce(h, w, y, tw):
            rows = linear_cross_entropy(h, w, y, reduction="none")
            tw = tw * (y != -100)
            return (rows * tw).sum() / tw.sum()

        return cce
    raise ValueError(f"unknown provider {name!r}; expected one of {PROVIDERS}")


def gemm_floor_fns(hidden, weight):
    """The three GEMMs of forward + backward with the (N, V) logits in the input dtype, nothing else."""
    N, V = hidden.shape[0], weight.shape[0]
    logits = torch.empty(N, V, dtype=hidden.dtype, device=hidden.device)
    gh, gw = torch.empty_like(hidden), torch.empty_like(weight)

    def fwd():
        torch.mm(hidden, weight.t(), out=logits)

    def full():
        fwd()
        torch.mm(logits, weight, out=gh)
        torch.mm(logits.t(), hidden, out=gw)

    return fwd, full


def make_inputs(N, H, V, dtype, device, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    hidden = (torch.randn(N, H, generator=g) * 0.5).to(dtype).to(device).requires_grad_()
    weight = (torch.randn(V, H, generator=g) * H**-0.5).to(dtype).to(device).requires_grad_()
    labels = torch.randint(0, V, (N,), generator=g)
    labels[torch.rand(N, generator=g) < 0.3] = -100  # prompt tokens
    weights = (torch.rand(N, generator=g) * 1.5 + 0.25).to(device)  # PKT weights
    return hidden, weight, labels.to(device), weights


def bench_shape(N, H, V, dtype, device, providers, chunk_size, cpu_reps) -> list[Measurement]:
    hidden, weight, labels, weights = make_inputs(N, H, V, dtype, device)
    shape = f"N={N},H={H},V={V},{str(dtype).removeprefix('torch.')}"
    flops = {"fwd": 2.0 * N * H * V, "full": 6.0 * N * H * V}
    rows: list[Measurement] = []
    floor: dict[str, float] = {}

    def clear_grads():
        hidden.grad = weight.grad = None

    for name in providers:
        if name == "gemm_floor":
            fns = dict(zip(("fwd", "full"), gemm_floor_fns(hidden.detach(), weight.detach()), strict=False))
        else:
            loss_fn = make_provider(name, chunk_size)
            if loss_fn is None:
                print(f"skip {name}: not installed")
                continue

            def fwd(loss_fn=loss_fn):
                with torch.no_grad():
                    loss_fn(hidden, weight, labels, weights)

            def full(loss_fn=loss_fn):
                clear_grads()
                loss_fn(hidden, weight, labels, weights).backward()

            fns = {"fwd": fwd, "full": full}
        for mode, fn in fns.items():
            clear_grads()
            if device == "cuda":
                torch.cuda.empty_cache()
            try:
                m = measure(fn, bench=BENCH, provider=name, mode=mode, shape=shape, flops=flops[mode],
                            cpu_reps=cpu_reps)  # fmt: skip
            except torch.OutOfMemoryError:
                print(f"skip {name} {mode} {shape}: out of memory")
                continue
            except Exception as exc:  # a peer or torch.compile failing must not end the run
                print(f"skip {name} {mode} {shape}: {type(exc).__name__}: {exc}")
                continue
            if name == "gemm_floor":
                floor[mode] = m.ms_p50
            if mode in floor:
                m.extra["x_gemm_floor"] = f"{m.ms_p50 / floor[mode]:.3f}"
            m.extra["token_weights"] = "no" if name in ("liger", "gemm_floor") else "yes"
            if name == "tl_fast" and chunk_size:
                m.extra["chunk_size"] = chunk_size
            rows.append(m)
        clear_grads()
    return rows


def plot(rows: list[Measurement], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r.shape.split(",", 1)[1], r.mode) for r in rows})
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (rest, mode) in zip(axes[0], groups, strict=False):
        for provider in dict.fromkeys(r.provider for r in rows):
            mine = [
                r for r in rows if (r.provider, r.mode, r.shape.split(",", 1)[1]) == (provider, mode, rest)
            ]
            pts = [(int(r.shape.split(",")[0][2:]), r.ms_p50) for r in mine]
            if pts:
                ax.plot(*zip(*sorted(pts), strict=False), marker="o", label=provider)
        ax.set(title=f"{mode}: {rest}", xlabel="N tokens", ylabel="median ms", xscale="log", yscale="log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    try:
        return [tuple(int(x) for x in s.split(",")) for s in text.split(";") if s]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--shapes wants 'N,H,V;N,H,V', got {text!r}") from exc


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"toy shapes {QUICK_SHAPES}, fp32 without CUDA")
    ap.add_argument("--shapes", type=parse_shapes, help="'N,H,V;N,H,V' (default: the H100 grid)")
    ap.add_argument(
        "--providers", default=",".join(PROVIDERS), help="comma-separated subset of " + ",".join(PROVIDERS)
    )
    ap.add_argument("--dtype", default=None, choices=["bfloat16", "float16", "float32"])
    ap.add_argument(
        "--chunk-size", type=int, default=None, help="tl_fast rows per chunk (default: heuristic)"
    )
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (CSV + PNG)")
    ap.add_argument("--name", default="cross_entropy", help="CSV/PNG base name")
    ap.add_argument("--cpu-reps", type=int, default=5)
    args = ap.parse_args(argv)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    shapes = args.shapes or (QUICK_SHAPES if args.quick else FULL_SHAPES)
    dtype_name = args.dtype or ("bfloat16" if device == "cuda" else "float32")
    dtype = getattr(torch, dtype_name)
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    for p in providers:
        if p not in PROVIDERS:
            ap.error(f"unknown provider {p!r}; expected some of {','.join(PROVIDERS)}")
    if "gemm_floor" in providers:  # measured first so every row can carry its ratio to the floor
        providers.remove("gemm_floor")
        providers.insert(0, "gemm_floor")

    rows: list[Measurement] = []
    for N, H, V in shapes:
        rows += bench_shape(N, H, V, dtype, device, providers, args.chunk_size, args.cpu_reps)
    print_table(rows)
    for r in rows:
        if "x_gemm_floor" in r.extra:
            print(f"{r.provider:<14}{r.mode:<6}{r.shape:<34} x floor {r.extra['x_gemm_floor']}")
    csv_path = write_results(rows, args.name, args.out)
    png_path = args.out / f"{args.name}.png"
    plot(rows, png_path)
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    main()
