"""Fused linear cross-entropy with token weights (PKT-SFT loss): tl_fast vs torch, peers and the GEMM floor.

    python benchmarks/bench_cross_entropy.py            # GPU run: H=4096, V in {32016, 128256}, N 4k..32k
    python benchmarks/bench_cross_entropy.py --quick    # toy shapes, any device: checks the script end to end
    python benchmarks/bench_cross_entropy.py --shapes 16384,4096,128256 --workspace-mib 150,1280 \
        --providers gemm_floor,tl_fast,liger   # two workspace settings: the time/memory curve

Providers: tl_fast (fused_linear_cross_entropy with token weights; one provider per --workspace-mib setting,
named tl_fast@<MiB>, the planner's choice recorded in the row), torch_eager (F.linear + F.cross_entropy on
fp32 logits, weighted), torch_compile (the same function compiled), liger (Liger-Kernel >= 0.8.2 FLCE with
reduction="none" and the token weights applied after, its only correct weighted form), cce (Cut
Cross-Entropy, reduction="none" then weighted), gemm_floor (the three cuBLAS GEMMs alone: logits,
grad_hidden, grad_weight). Peers are skipped, with the reason printed, when not installed.
Modes: "fwd" = loss only under torch.no_grad() (2*N*H*V FLOPs), "full" = forward + backward (6*N*H*V FLOPs).
peak_mem_mb is the memory the call allocates beyond what existed before it (for "full": the gradients too).
Rows go to <--out>/<name>.csv (appended, with device, versions, git SHA, date) and a PNG per run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import RESULTS_DIR, Measurement, measure, print_table, write_results  # noqa: E402

from tl_fast.kernels.linear_cross_entropy import Problem, device_spec, plan_forward  # noqa: E402
from tl_fast.losses import fused_linear_cross_entropy  # noqa: E402

BENCH = "fused_linear_ce"
FULL_SHAPES = [(n, 4096, v) for v in (32016, 128256) for n in (4096, 8192, 16384, 32768)]
QUICK_SHAPES = [(256, 64, 1000), (512, 64, 1000)]
PROVIDERS = ("gemm_floor", "tl_fast", "torch_eager", "torch_compile", "liger", "cce")
LIGER_MIN = (0, 8, 2)  # reduction="none" with a correct backward


def weighted_ce_fp32(hidden, weight, labels, weights):
    """The eager reference: fp32 logits, per-token loss, sum w*l / sum w over non-ignored tokens."""
    rows = F.cross_entropy(F.linear(hidden, weight).float(), labels, reduction="none")
    w = weights * (labels != -100)
    return (rows * w).sum() / w.sum()


def _weighted(rows, labels, weights):
    w = weights * (labels != -100)
    return (rows * w).sum() / w.sum()


def make_provider(name: str, workspace: int | None = None) -> Callable | str:
    """loss_fn(hidden, weight, labels, weights) -> scalar loss, or a string saying why it is unavailable."""
    if name == "tl_fast":
        return lambda h, w, y, tw: fused_linear_cross_entropy(h, w, y, tw, max_workspace_bytes=workspace)
    if name == "torch_eager":
        return weighted_ce_fp32
    if name == "torch_compile":
        return torch.compile(weighted_ce_fp32, dynamic=False)
    if name == "liger":
        try:
            version = importlib.metadata.version("liger-kernel")
            from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss
        except (ImportError, importlib.metadata.PackageNotFoundError):
            return "liger-kernel is not installed"
        if tuple(int(x) for x in version.split(".")[:3] if x.isdigit()) < LIGER_MIN:
            return f"liger-kernel {version} < 0.8.2 (no correct reduction='none' backward)"
        liger = LigerFusedLinearCrossEntropyLoss(reduction="none")
        return lambda h, w, y, tw: _weighted(liger(w, h, y), y, tw)
    if name == "cce":
        try:
            from cut_cross_entropy import linear_cross_entropy
        except ImportError:
            return "cut-cross-entropy is not installed"
        return lambda h, w, y, tw: _weighted(linear_cross_entropy(h, w, y, reduction="none"), y, tw)
    raise ValueError(f"unknown provider {name!r}; expected one of {PROVIDERS}")


def provider_list(names: list[str], workspaces_mib: list[int]) -> list[tuple[str, str, int | None]]:
    """[(row provider name, provider, workspace bytes)]: tl_fast once per workspace setting."""
    out = []
    for n in names:
        if n == "tl_fast" and workspaces_mib:
            out += [(f"tl_fast@{m}MiB", n, m * 2**20) for m in workspaces_mib]
        else:
            out.append((n, n, None))
    return out


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


def bench_shape(N, H, V, dtype, device, providers, cpu_reps, sink=None) -> list[Measurement]:
    """Rows of every provider at one shape; `sink(rows)` gets each provider's rows as soon as they exist."""
    hidden, weight, labels, weights = make_inputs(N, H, V, dtype, device)
    shape = f"N={N},H={H},V={V},{str(dtype).removeprefix('torch.')}"
    flops = {"fwd": 2.0 * N * H * V, "full": 6.0 * N * H * V}
    rows: list[Measurement] = []
    floor: dict[str, float] = {}

    def clear_grads():
        hidden.grad = weight.grad = None

    for row_name, name, workspace in providers:
        if name == "gemm_floor":
            fns = dict(zip(("fwd", "full"), gemm_floor_fns(hidden.detach(), weight.detach()), strict=False))
        else:
            loss_fn = make_provider(name, workspace)
            if isinstance(loss_fn, str):
                print(f"skip {name}: {loss_fn}")
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
                m = measure(fn, bench=BENCH, provider=row_name, mode=mode, shape=shape, flops=flops[mode],
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
            m.extra["token_weights"] = "no" if name == "gemm_floor" else "yes"
            if name == "tl_fast":
                problem = Problem(N, H, V, dtype, dtype, True, True)
                plan, cost = plan_forward(
                    problem, device_spec(hidden.device), workspace, grads=mode == "full"
                )
                m.extra["plan"] = f"{'fused' if plan.fused else 'two-phase'}:{plan.rows}x{plan.cols}"
                m.extra["workspace_mb"] = f"{cost.workspace / 1e6:.0f}"
                m.extra["model_ms"] = f"{cost.seconds * 1e3:.1f}"
            rows.append(m)
            if sink is not None:
                sink([m])
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
        "--workspace-mib", default="", help="comma-separated tl_fast max_workspace_bytes settings in MiB "
        "(one tl_fast provider each; default: the library default only)",
    )  # fmt: skip
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
    try:
        workspaces = [int(x) for x in args.workspace_mib.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--workspace-mib wants integers like 150,1280, got {args.workspace_mib!r}")

    rows: list[Measurement] = []
    sink = lambda new: write_results(new, args.name, args.out)  # noqa: E731  (a timeout keeps what ran)
    for N, H, V in shapes:
        rows += bench_shape(N, H, V, dtype, device, provider_list(providers, workspaces), args.cpu_reps, sink)
    print_table(rows)
    for r in rows:
        if "x_gemm_floor" in r.extra:
            print(f"{r.provider:<14}{r.mode:<6}{r.shape:<34} x floor {r.extra['x_gemm_floor']}")
    csv_path = args.out / f"{args.name}.csv"
    png_path = args.out / f"{args.name}.png"
    plot(rows, png_path)
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    main()
