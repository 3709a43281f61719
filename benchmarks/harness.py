"""Shared benchmark harness: timing medians, peak memory, and CSV rows that carry their provenance.

Every `benchmarks/bench_<op>.py` builds `Measurement`s with `measure(...)` and saves them with
`write_results(...)`.
Run a benchmark from the repository root, e.g. `python benchmarks/bench_cross_entropy.py --help`.
"""

from __future__ import annotations

import csv
import datetime as dt
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    bench: str  # e.g. "fused_linear_ce"
    provider: str  # e.g. "tl_fast", "torch_eager", "liger"
    mode: str  # "fwd", "bwd", "full" or a free label
    shape: str  # e.g. "N=16384,H=4096,V=128256"
    ms_p20: float
    ms_p50: float
    ms_p80: float
    peak_mem_mb: float | None = None  # peak allocated above what was allocated before the call
    flops: float | None = None
    bytes_moved: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def tflops(self) -> float | None:
        return None if not self.flops else self.flops / (self.ms_p50 * 1e-3) / 1e12

    @property
    def gbps(self) -> float | None:
        return None if not self.bytes_moved else self.bytes_moved / (self.ms_p50 * 1e-3) / 1e9


def environment() -> dict:
    """Provenance stamped on every result row."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout

    try:
        sha = git("rev-parse", "--short", "HEAD").strip()
        # Measured code that differs from the commit is marked, so no row credits a commit it does not match.
        code = ("csrc", "kernels", "tl_fast", "benchmarks", ":(exclude)benchmarks/results")
        if git("status", "--porcelain", "--untracked-files=no", "--", *code):
            sha += "+dirty"
    except (OSError, subprocess.CalledProcessError):
        sha = "unknown"
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "none"
    device = (
        torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu:{platform.processor() or 'cpu'}"
    )
    return {
        "device": device,
        "torch": torch.__version__,
        "triton": triton_version,
        "git_sha": sha,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _time_cpu(fn: Callable[[], object], warmup: int, rep: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rep):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _quantiles(times: list[float]) -> tuple[float, float, float]:
    t = torch.tensor(times, dtype=torch.float64)
    q = torch.quantile(t, torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64))
    return tuple(float(x) for x in q)


def measure(
    fn: Callable[[], object],
    *,
    bench: str,
    provider: str,
    mode: str,
    shape: str,
    flops: float | None = None,
    bytes_moved: float | None = None,
    warmup_ms: int = 25,
    rep_ms: int = 100,
    cpu_reps: int = 10,
    cpu_only: bool = False,
    **extra,
) -> Measurement:
    """Times `fn` (triton.testing.do_bench on CUDA, wall clock on CPU) and records its peak extra memory.
    `cpu_only`: `fn` does no GPU work (e.g. parsing), so it is wall-clock timed even where CUDA is present."""
    if torch.cuda.is_available() and not cpu_only:
        import triton.testing

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        p20, p50, p80 = triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, quantiles=[0.2, 0.5, 0.8])
    else:
        peak = None
        p20, p50, p80 = _quantiles(_time_cpu(fn, warmup=2, rep=cpu_reps))
    return Measurement(bench, provider, mode, shape, p20, p50, p80, peak, flops, bytes_moved, extra)


def write_results(
    rows: list[Measurement], name: str, results_dir: Path = RESULTS_DIR, git_sha: str | None = None
) -> Path:
    """Appends rows to results/<name>.csv (header written once), each stamped with `environment()`; `git_sha`
    names the commit whose code was measured when that is not this checkout's (a before/after comparison)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.csv"
    env = environment()
    if git_sha is not None:
        env["git_sha"] = git_sha
    fieldnames = [
        *env,
        "bench",
        "provider",
        "mode",
        "shape",
        "ms_p20",
        "ms_p50",
        "ms_p80",
        "tflops",
        "gbps",
        "peak_mem_mb",
        "extra",
    ]
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        if new:
            writer.writeheader()
        for r in rows:
            d = asdict(r)
            writer.writerow(
                {
                    **env,
                    **{k: d[k] for k in ("bench", "provider", "mode", "shape", "peak_mem_mb")},
                    "ms_p20": f"{r.ms_p20:.4f}",
                    "ms_p50": f"{r.ms_p50:.4f}",
                    "ms_p80": f"{r.ms_p80:.4f}",
                    "tflops": "" if r.tflops is None else f"{r.tflops:.1f}",
                    "gbps": "" if r.gbps is None else f"{r.gbps:.1f}",
                    "extra": ";".join(f"{k}={v}" for k, v in r.extra.items()),
                }
            )
    return path


def print_table(rows: list[Measurement]) -> None:
    mode_w = max([6] + [len(r.mode) + 1 for r in rows])  # modes such as "batch_distinct" ran into the shape
    header = f"{'bench':<22}{'provider':<16}{'mode':<{mode_w}}{'shape':<30}"
    header += f"{'p50 ms':>10}{'TFLOP/s':>9}{'peak MB':>10}"
    print(header)
    for r in rows:
        tf = "" if r.tflops is None else f"{r.tflops:.1f}"
        mem = "" if r.peak_mem_mb is None else f"{r.peak_mem_mb:.0f}"
        print(
            f"{r.bench:<22}{r.provider:<16}{r.mode:<{mode_w}}{r.shape:<30}{r.ms_p50:>10.3f}{tf:>9}{mem:>10}"
        )
