"""The paper's ablation in miniature: plain SFT, +MAE, +PKT, +IRM, MAE+PKT and all three, several seeds each,
trained from scratch on the RoTLLaMA trajectories (decontaminated) and scored with `python -m tl_fast.eval`.

    python benchmarks/ablation.py --data rotllama_gpt4_trajectories.jsonl.gz --seeds 0,1,2 --parallel 6
    python benchmarks/ablation.py --smoke          # CPU check of the whole pipeline at toy size

Every variant gets the same model size, data, SFT token budget (`--sft-steps` x `--tokens-per-batch`) and
seeds; IRM variants then add `--ppo-steps` of PPO. Decontamination rule: a training trajectory is dropped when
its normalized first user query (`tl_fast.data.normalize_query`) equals a query of any evaluation set tl_fast
ships (RoTBench all splits, ToolAlpaca, BFCL). Results: benchmarks/results/ablation.csv (a row per run and
benchmark), ablation.md (mean ± std) and one PNG per benchmark.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# variant -> (stages, PKT on)
VARIANTS = {
    "sft": ("sft", False),
    "+mae": ("mae,sft", False),
    "+pkt": ("sft", True),
    "+irm": ("sft,ppo", False),
    "mae+pkt": ("mae,sft", True),
    "mae+pkt+irm": ("mae,sft,ppo", True),
}
BENCHMARKS = {"rotbench": "all", "toolalpaca": "eval_real", "bfcl": "all"}


def train_args(args, variant: str, seed: int, out: Path) -> list[str]:
    stages, pkt = VARIANTS[variant]
    a = [
        sys.executable, "-m", "tl_fast.train",
        "--stages", stages,
        "--pkt-enabled", str(pkt).lower(),
        "--output-dir", str(out),
        "--seed", str(seed),
        "--hidden-size", str(args.hidden), "--num-layers", str(args.layers), "--num-heads", str(args.heads),
        "--intermediate-size", str(args.hidden * 8 // 3 // 64 * 64),
        "--max-length", str(args.max_length),
        "--sft-epochs", "100", "--sft-max-steps", str(args.sft_steps),
        "--sft-tokens-per-batch", str(args.tokens_per_batch), "--sft-lr", str(args.lr),
        "--ppo-steps", str(args.ppo_steps), "--ppo-rollout-batch", str(args.rollout_batch),
        "--ppo-minibatch", str(args.rollout_batch), "--ppo-max-new-tokens", "64",
        "--save-every", "100000",
    ]  # fmt: skip
    if args.data:
        a += ["--data", args.data]
    if args.device:
        a += ["--device", args.device]
    return a


def eval_args(args, model: Path, bench: str, out: Path) -> list[str]:
    a = [sys.executable, "-m", "tl_fast.eval", "--benchmark", bench, "--split", BENCHMARKS[bench]]
    a += ["--model", str(model), "--output", str(out), "--max-new-tokens", "96", "--batch-size", "64"]
    if args.limit:
        a += ["--limit", str(args.limit)]
    return a


def run_one(args, variant: str, seed: int, root: Path) -> list[dict]:
    out = root / f"{variant}-seed{seed}"
    log = (root / f"{variant}-seed{seed}.log").open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.time()
    subprocess.run(
        train_args(args, variant, seed, out), stdout=log, stderr=subprocess.STDOUT, env=env, check=True
    )
    train_s = time.time() - t0
    rows = []
    for bench in BENCHMARKS:
        report = out / f"eval_{bench}.json"
        cmd = eval_args(args, out / "final" / "policy", bench, report)
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
        data = json.loads(report.read_text())
        row = {"variant": variant, "seed": seed, "benchmark": bench, "train_s": round(train_s, 1)}
        row.update({k: data["metrics"][k] for k in ("TS", "PI", "CF")})
        row["categories"] = json.dumps(data.get("categories", {}))
        rows.append(row)
    print(f"done {variant} seed {seed} in {time.time() - t0:.0f}s", flush=True)
    return rows


def summarize(rows: list[dict]) -> str:
    lines = ["| benchmark | variant | n | TS | PI | CF |", "|---|---|---:|---:|---:|---:|"]
    for bench in BENCHMARKS:
        for variant in VARIANTS:
            sel = [r for r in rows if r["benchmark"] == bench and r["variant"] == variant]
            if not sel:
                continue
            cells = []
            for k in ("TS", "PI", "CF"):
                vals = [r[k] for r in sel]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{statistics.mean(vals):.1f} ± {sd:.1f}")
            lines.append(f"| {bench} | {variant} | {len(sel)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for bench in BENCHMARKS:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        variants = [v for v in VARIANTS if any(r["variant"] == v and r["benchmark"] == bench for r in rows)]
        for j, k in enumerate(("TS", "PI", "CF")):
            means, sds = [], []
            for v in variants:
                vals = [r[k] for r in rows if r["variant"] == v and r["benchmark"] == bench]
                means.append(statistics.mean(vals))
                sds.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
            xs = [i + (j - 1) * 0.27 for i in range(len(variants))]
            ax.bar(xs, means, width=0.27, yerr=sds, capsize=3, label=k)
        ax.set_xticks(range(len(variants)), variants)
        ax.set_ylabel("%")
        ax.set_title(f"{bench}: mean ± std over seeds")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / f"ablation_{bench}.png", dpi=110)
        plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data", help="trajectories file (default: the 300-trajectory sample shipped in the package)"
    )
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--tokens-per-batch", type=int, default=16384)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ppo-steps", type=int, default=50)
    p.add_argument("--rollout-batch", type=int, default=32)
    p.add_argument("--limit", type=int, help="evaluate the first N items of each split only")
    p.add_argument("--parallel", type=int, default=1, help="runs sharing the device at once")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument(
        "--smoke", action="store_true", help="toy sizes on CPU: checks the pipeline, not the science"
    )
    args = p.parse_args()
    if args.smoke:
        args.hidden, args.layers, args.heads, args.max_length = 64, 1, 2, 512
        args.sft_steps, args.tokens_per_batch, args.ppo_steps, args.rollout_batch = 2, 1024, 1, 2
        args.limit, args.seeds, args.device = 2, "0", "cpu"
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(v, s) for s in seeds for v in variants]
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(lambda job: run_one(args, job[0], job[1], args.out), jobs))
    rows = [r for rs in results for r in rs]
    wall = time.time() - t0
    out_dir = args.out if args.smoke else RESULTS
    with (out_dir / "ablation.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = summarize(rows)
    header = f"# Ablation ({len(jobs)} runs, {wall / 60:.1f} min wall)"
    (out_dir / "ablation.md").write_text(f"{header}\n\n{table}\n\nCommand: `{' '.join(sys.argv)}`\n")
    plot(rows, out_dir)
    print(table)
    print(f"{len(jobs)} runs in {wall / 60:.1f} min; results in {out_dir}")


if __name__ == "__main__":
    main()
