"""The prepared GPU check: gpu-marked tests and the kernel benchmarks on one CUDA device, in one folder.

    python benchmarks/gpu_check.py                          # <= 8 minutes (the step limits sum to 7m50s)
    python benchmarks/gpu_check.py --dry-run                # any machine: lists the steps, checks imports
    python benchmarks/gpu_check.py --wheels ../shared/wheels-gpu --out benchmarks/results/gpu_check
    make gpu-check                                          # the same, with the wheels folder if there is one

Steps (each a subprocess with its own time limit, its log kept; a failed step does not stop the others):
  wheels    pip install --no-deps --target <out>/_wheels every wheel of --wheels (Liger, Cut Cross-Entropy:
            what the GPU machine lacks; no network needed), put first on PYTHONPATH for the steps below
  tests     every gpu-marked test (pytest -m gpu on the test files that have one)
  ce_128k   bench_cross_entropy.py at N=16384, H=4096, V=128256, bf16: tl_fast at three max_workspace_bytes
            settings, torch eager, torch.compile, Liger (reduction="none", weights after), CCE, the GEMM floor
  ce_32k    the same at V=32016
  ppo       bench_ppo.py: GAE at B=256, T=1024 against the Python loop; fused log-probs against their floor
  summary   summary.md: each figure against its target (below), from the CSV rows of this folder
Targets: fused CE <= 1.05x the GEMM floor with <= 1.35 GB extra; at the smallest workspace <= 1.2 GB extra
within 1.2x; faster than Liger and CCE at every workspace setting; GAE >= 1000x the Python loop; log-probs
<= 1.1x their GEMM floor. The folder holds cross_entropy.csv, ppo.csv, the plots, logs/ and summary.md.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKSPACES_MIB = (70, 150, 1280)  # near the least accurate plan, the default, the fused plan
SHAPES = {"ce_128k": "16384,4096,128256", "ce_32k": "16384,4096,32016"}
GB = 1e9


@dataclass
class Step:
    name: str
    what: str
    cmd: list[str] = field(default_factory=list)
    timeout_s: int = 120
    imports: tuple[str, ...] = ()  # modules the step needs (checked by --dry-run)
    optional: tuple[str, ...] = ()  # modules it uses when present


def gpu_test_files() -> list[str]:
    files = sorted(p for p in (ROOT / "tests").rglob("test_*.py") if "pytest.mark.gpu" in p.read_text())
    return [str(p.relative_to(ROOT)) for p in files]


def steps(out: Path, wheels: Path | None) -> list[Step]:
    py = sys.executable
    bench_ce = [
        py,
        "benchmarks/bench_cross_entropy.py",
        "--dtype",
        "bfloat16",
        "--out",
        str(out),
        "--providers",
        "gemm_floor,tl_fast,liger,cce,torch_eager,torch_compile",
    ]  # torch.compile last: the slowest to start
    ws = ",".join(str(w) for w in WORKSPACES_MIB)
    ce_imports = ("torch", "triton", "matplotlib", "tl_fast.losses", "tl_fast.kernels.linear_cross_entropy")
    ce_peers = ("liger_kernel", "cut_cross_entropy")
    return [
        Step(
            "wheels",
            f"install the wheels of {wheels}" if wheels else "no wheels folder: nothing to install",
            timeout_s=40,
            imports=("pip",),
        ),  # fmt: skip
        Step(
            "tests",
            "gpu-marked tests",
            [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *gpu_test_files()],
            timeout_s=100,
            imports=("pytest", "torch", "tl_fast"),
        ),  # fmt: skip
        *(
            Step(
                name,
                f"fused linear CE at N,H,V = {shape}",
                [*bench_ce, "--shapes", shape, "--workspace-mib", ws, "--name", f"cross_entropy_{name[3:]}"],
                timeout_s=150 if name == "ce_128k" else 100,
                imports=ce_imports,
                optional=ce_peers,
            )  # fmt: skip
            for name, shape in SHAPES.items()
        ),
        Step(
            "ppo",
            "GAE B=256 T=1024, fused log-probs N=16384 H=4096 V=128256",
            [py, "benchmarks/bench_ppo.py", "--only", "gae,logprobs", "--out", str(out)],
            timeout_s=80,
            imports=("torch", "triton", "tl_fast.rl", "tl_fast.kernels.ppo"),
        ),  # fmt: skip
        Step("summary", f"{out / 'summary.md'}: each figure against its target", imports=("csv",)),
    ]


def find_wheels(arg: Path | None) -> Path | None:
    if arg is not None:
        return arg
    for cand in (ROOT / "shared" / "wheels-gpu", ROOT.parent / "shared" / "wheels-gpu"):
        if cand.is_dir():
            return cand
    return None


def install_wheels(wheels: Path | None, target: Path, log) -> tuple[bool, str]:
    """Each wheel on its own (one that does not fit this Python must not stop the others)."""
    if wheels is None:
        return True, "no wheels folder"
    done, failed = [], []
    for whl in sorted(wheels.glob("*.whl")):
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--upgrade"]
        cmd = [*pip, "--target", str(target), str(whl)]
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        (done if r.returncode == 0 else failed).append(whl.name)
    return not failed, f"installed {len(done)}" + (f"; failed: {', '.join(failed)}" if failed else "")


# ------------------------------------------------------------------------------------------------------------
# summary.md


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["extra"] = dict(kv.split("=", 1) for kv in r.get("extra", "").split(";") if "=" in kv)
    return rows


def _verdict(ok: bool | None) -> str:
    return "missing" if ok is None else "met" if ok else "NOT met"


def _row(figure: str, value: str, target: str, ok: bool | None) -> str:
    return f"| {figure} | {value} | {target} | {_verdict(ok)} |"


def ce_targets(ce: list[dict]) -> list[str]:
    """Fused CE rows ("full" mode) against the targets, per shape and per tl_fast workspace setting."""
    lines = []
    for shape in sorted({r["shape"] for r in ce}):
        full = [r for r in ce if r["shape"] == shape and r["mode"] == "full"]
        ms = {r["provider"]: float(r["ms_p50"]) for r in full}
        mem = {r["provider"]: float(r["peak_mem_mb"]) * 2**20 / GB for r in full if r["peak_mem_mb"]}
        floor = ms.get("gemm_floor")
        ours = sorted(
            (p for p in ms if p.startswith("tl_fast@")), key=lambda p: int(p[8:].removesuffix("MiB"))
        )
        for p in ours:
            x, extra = (ms[p] / floor if floor else None), mem.get(p)
            known = x is not None and extra is not None
            value = f"{ms[p]:.1f} ms = {x:.2f}x floor, {extra:.3f} GB extra" if known else f"{ms[p]:.1f} ms"
            lines.append(_row(f"{shape} {p}", value, "<= 1.05x, <= 1.35 GB", (x <= 1.05 and extra <= 1.35)
                              if known else None))  # fmt: skip
            for peer in ("liger", "cce"):
                value = f"{ms[p]:.1f} vs {ms[peer]:.1f} ms" if peer in ms else "peer not measured"
                lines.append(
                    _row(f"{shape} {p} vs {peer}", value, "faster", ms[p] < ms[peer] if peer in ms else None)
                )
        if ours:  # the smallest workspace setting
            p = ours[0]
            x, extra = (ms[p] / floor if floor else None), mem.get(p)
            known = x is not None and extra is not None
            value = f"{x:.2f}x floor, {extra:.3f} GB extra" if known else "no floor or memory row"
            lines.append(_row(f"{shape} smallest workspace ({p})", value, "<= 1.2 GB within 1.2x",
                              (x <= 1.2 and extra <= 1.2) if known else None))  # fmt: skip
    return lines


def summarize(out: Path, status: dict[str, str]) -> str:
    ce = [r for path in sorted(out.glob("cross_entropy*.csv")) for r in read_rows(path)]
    ppo = read_rows(out / "ppo.csv")
    env = (ce or ppo or [{}])[0]
    g = lambda k: env.get(k, "?")  # noqa: E731
    lines = ["# GPU check", ""]
    lines += [
        f"Device {g('device')}, torch {g('torch')}, triton {g('triton')}, git {g('git_sha')}, {g('date')}."
    ]
    lines += ["", "## Steps", ""]
    lines += [f"- {name}: {s}" for name, s in status.items()]
    lines += [
        "",
        "## Targets",
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        *ce_targets(ce),
    ]
    for r in ppo:
        if r["bench"] == "gae" and r["provider"] == "tl_fast":
            x = float(r["extra"].get("speedup_vs_loop", "nan"))
            lines.append(_row(f"GAE {r['shape']} vs the Python loop", f"{x:.0f}x", ">= 1000x", x >= 1000))
        if r["bench"] == "logprobs" and r["provider"] == "tl_fast" and r["mode"] == "full":
            x = float(r["extra"].get("x_gemm_floor", "nan"))
            lines.append(_row(f"log-probs {r['shape']}", f"{x:.2f}x floor", "<= 1.1x", x <= 1.1))
    if not (ce or ppo):
        lines.append(_row("(no benchmark rows in this folder)", "", "", None))
    lines += ["", "Rows: cross_entropy_*.csv, ppo.csv; plots: *.png; step logs: logs/."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------


def dry_run(plan: list[Step], wheels: Path | None) -> int:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    bad = 0
    for s in plan:
        print(f"[{s.name}] {s.what} (limit {s.timeout_s}s)")
        if s.cmd:
            print("    $ " + " ".join(s.cmd))
        for mod in s.imports:
            try:
                importlib.import_module(mod)
                print(f"    import {mod}: ok")
            except Exception as exc:  # any import failure is what the dry run is for
                bad += 1
                print(f"    import {mod}: FAILED ({type(exc).__name__}: {exc})")
        for mod in s.optional:
            found = importlib.util.find_spec(mod) is not None
            whl = wheels is not None and any(wheels.glob(f"{mod.split('_')[0]}*.whl"))
            print(
                f"    optional {mod}: {'installed' if found else 'wheel found' if whl else 'absent: skipped'}"
            )
    for script in ("bench_cross_entropy", "bench_ppo", "harness"):
        try:
            importlib.import_module(script)
            print(f"benchmarks/{script}.py imports: ok")
        except Exception as exc:
            bad += 1
            print(f"benchmarks/{script}.py imports: FAILED ({type(exc).__name__}: {exc})")
    print("dry run: " + ("ok" if not bad else f"{bad} import(s) failed"))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check")
    ap.add_argument("--wheels", type=Path, default=None, help="folder of wheels to install (default: "
                    "shared/wheels-gpu or ../shared/wheels-gpu when present)")  # fmt: skip
    ap.add_argument("--dry-run", action="store_true", help="list the steps and check their imports")
    ap.add_argument("--skip", default="", help="comma-separated step names to leave out")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    wheels = find_wheels(args.wheels)
    if wheels is not None and not wheels.is_dir():
        ap.error(f"--wheels {wheels} is not a folder")
    plan = [s for s in steps(out, wheels) if s.name not in set(args.skip.split(","))]
    if args.dry_run:
        return dry_run(plan, wheels)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check needs a CUDA device (try --dry-run)", file=sys.stderr)
        return 2
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    status: dict[str, str] = {}
    t_start = time.time()
    for s in plan:
        t0 = time.time()
        with (out / "logs" / f"{s.name}.log").open("w") as log:
            if s.name == "wheels":
                ok, msg = install_wheels(wheels, out / "_wheels", log)
                env["PYTHONPATH"] = os.pathsep.join(
                    p for p in (str(out / "_wheels"), env.get("PYTHONPATH")) if p
                )
                status[s.name] = ("ok" if ok else "partly failed") + f" ({msg})"
                continue
            if s.name == "summary":
                continue
            try:
                r = subprocess.run(s.cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   timeout=s.timeout_s)  # fmt: skip
                status[s.name] = (
                    f"{'ok' if r.returncode == 0 else f'exit {r.returncode}'} in {time.time() - t0:.0f}s"
                )
            except subprocess.TimeoutExpired:
                status[s.name] = f"timed out after {s.timeout_s}s"
        print(f"[{s.name}] {status[s.name]}", flush=True)
    status["total"] = f"{time.time() - t_start:.0f}s"
    (out / "summary.md").write_text(summarize(out, status))
    print((out / "summary.md").read_text())
    return 0 if all(v.startswith("ok") or k == "total" for k, v in status.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
