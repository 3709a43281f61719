"""Seconds per RL step and peak memory of the RL stage, PPO vs the critic-free algorithms, on the trainer's
own default run (what the critic costs).

    python benchmarks/bench_rl_step.py --save                    # CPU default run: ppo vs grpo
    python benchmarks/bench_rl_step.py --algos ppo,grpo,dapo --args "--ppo-steps 8"

The embedded default run (MAE -> PKT-SFT -> RL, 4 RL steps of 8 samples; GRPO's 8 = 2 prompts x 4), with its
SFT stage run once: `python -m tl_fast.train --stages mae,sft [--args]`, then for each algorithm, in a fresh
process, its RL stage from that SFT result: `--stages mae,ppo --model <sft run>/final/policy --ppo-algo
<algo> [--args]` (the RL stage of the default run: same policy, reference, prompts and settings). From each
metrics.jsonl: seconds per RL step (median of the steps after the first; rollout + update) and the peak memory
of the RL stage (CPU: resident set since the stage began, Linux VmHWM after a reset; CUDA: peak allocated
tensors). Every algorithm keeps the SFT reference; only PPO builds the critic (a copy of the decoder plus a
value head) and its optimizer state. Rows: benchmarks/results/bench_rl_step.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measurement, write_results  # noqa: E402


def train(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "tl_fast.train", *args]
    env = {**os.environ, "TRITON_INTERPRET": "0", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")


def run(algo: str, sft: Path, extra: list[str], out: Path) -> list[dict]:
    """The RL rows of metrics.jsonl of one RL-stage run from the SFT result."""
    model = ["--model", str(sft / "final" / "policy")]
    train(["--stages", "mae,ppo", *model, "--ppo-algo", algo, "--output-dir", str(out), *extra])
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["stage"] == "ppo"]


def summarize(algo: str, runs: list[list[dict]], extra: list[str]) -> Measurement:
    """Steps after each run's first (warm-up), pooled over the runs; peak memory: the largest."""
    ms = [r["step_s"] * 1e3 for rl in runs for r in rl[1:] or rl]
    q = statistics.quantiles(ms, n=5) if len(ms) > 1 else [ms[0]] * 4
    info = {
        "steps_s": " | ".join("/".join(f"{r['step_s']:.2f}" for r in rl) for rl in runs),
        "peak_mb_per_run": "/".join(f"{max(r['peak_mem_mb'] for r in rl):.0f}" for rl in runs),
        "samples_per_step": sum(runs[0][-1]["categories"].values()),
        "response_tokens": round(statistics.mean(r["response_tokens"] for rl in runs for r in rl), 1),
        "args": " ".join(extra),
    }
    peak = max(r["peak_mem_mb"] for rl in runs for r in rl)
    return Measurement(
        "rl_step", algo, "full", "default run", q[0], statistics.median(ms), q[3], peak, extra=info
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", default="ppo,grpo", help="comma-separated: ppo, grpo, dapo, dr_grpo")
    p.add_argument("--args", default="", help='extra trainer flags, e.g. "--ppo-steps 8 --device cuda"')
    p.add_argument("--repeats", type=int, default=2, help="runs per algorithm, in A B .. B A order")
    p.add_argument("--save", action="store_true", help="append rows to benchmarks/results/bench_rl_step.csv")
    args = p.parse_args()
    extra = shlex.split(args.args)
    algos = [a for a in args.algos.split(",") if a]
    # A B .. B A: a load change on a shared machine weighs on every algorithm alike
    order = [a for k in range(args.repeats) for a in (algos if k % 2 == 0 else algos[::-1])]
    runs: dict[str, list] = {a: [] for a in algos}
    with tempfile.TemporaryDirectory() as tmp:
        sft = Path(tmp) / "sft"
        train(["--stages", "mae,sft", "--output-dir", str(sft), *extra])
        print("SFT stage done", flush=True)
        for k, algo in enumerate(order):
            runs[algo].append(run(algo, sft, extra, Path(tmp) / f"{algo}{k}"))
            print(f"run {k + 1}/{len(order)}: {algo} done", flush=True)
    results = [summarize(a, runs[a], extra) for a in algos]
    for m in results:
        print(f"{m.provider:<8} {m.ms_p50 / 1e3:6.2f} s per RL step (p50; steps {m.extra['steps_s']} s), "
              f"peak RL-stage memory {m.peak_mem_mb:,.0f} MB (runs {m.extra['peak_mb_per_run']}), "
              f"{m.extra['samples_per_step']} samples of {m.extra['response_tokens']} tokens per step",
              flush=True)  # fmt: skip
    if len(results) > 1:
        base = results[0]
        for m in results[1:]:
            print(f"{m.provider} vs {base.provider}: {m.ms_p50 / base.ms_p50:.2f}x the time per step, "
                  f"{m.peak_mem_mb - base.peak_mem_mb:+,.0f} MB peak memory")  # fmt: skip
    if args.save:
        print(f"rows appended to {write_results(results, 'bench_rl_step')}")


if __name__ == "__main__":
    main()
