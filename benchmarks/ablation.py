"""The paper's ablation in miniature, plus the critic-free RL recipes: plain SFT, +MAE, +MAE+PKT, then RL on
top with IRM-PPO (the paper), IRM-GRPO and ToolRL-GRPO, several seeds each, trained from scratch on the
RoTLLaMA trajectories (decontaminated) and scored with `python -m tl_fast.eval`.

    python benchmarks/ablation.py --minutes 10 --parallel 8     # the default grid sized to fit 10 minutes
    python benchmarks/ablation.py --data rotllama_gpt4_trajectories.jsonl.gz --seeds 0,1,2 --parallel 6
    python benchmarks/ablation.py --smoke          # CPU check of the whole pipeline at toy size

Every variant gets the same model size, data, SFT token budget (`--sft-steps` x `--tokens-per-batch`) and
seeds; RL variants then add `--ppo-steps` RL steps of `--rollout-batch` samples (GRPO: 4 per prompt).
`--minutes M` sizes the grid instead: a calibration wave (`--parallel` short runs of the real size, each
trained and evaluated) measures SFT tokens/s, seconds per RL step of PPO and GRPO and evaluation time on this
machine under that concurrency; then SFT steps (RL steps = SFT steps / 12, the default ratio) and, if needed,
the evaluation --limit are chosen so calibration + grid fit in 90% of M minutes. The plan is printed before
the grid starts and the measured wall time after it; a grid that cannot fit at 2 SFT steps stops there.

Decontamination rule: a training trajectory is dropped when its normalized first user query
(`tl_fast.data.normalize_query`) equals a query of any evaluation set tl_fast ships (RoTBench all splits,
ToolAlpaca, BFCL). Results: benchmarks/results/ablation.csv (a row per run and
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

# variant -> (stages, PKT on, RL algorithm, reward)
VARIANTS = {
    "sft": ("sft", False, "ppo", "irm"),
    "+mae": ("mae,sft", False, "ppo", "irm"),
    "+pkt": ("sft", True, "ppo", "irm"),
    "+irm": ("sft,ppo", False, "ppo", "irm"),
    "mae+pkt": ("mae,sft", True, "ppo", "irm"),
    "mae+pkt+irm": ("mae,sft,ppo", True, "ppo", "irm"),  # the paper: IRM-PPO
    "mae+pkt+irm-grpo": ("mae,sft,ppo", True, "grpo", "irm"),
    "mae+pkt+toolrl-grpo": ("mae,sft,ppo", True, "grpo", "toolrl"),
}
GRID = ("sft", "+mae", "mae+pkt", "mae+pkt+irm", "mae+pkt+irm-grpo", "mae+pkt+toolrl-grpo")
GROUP_SIZE = 4  # GRPO samples per prompt
RL_RATIO = 12  # SFT steps per RL step when --minutes sizes the runs (the defaults: 600 / 50)
BENCHMARKS = {"rotbench": "all", "toolalpaca": "eval_real", "bfcl": "all"}


def train_args(args, variant: str, seed: int, out: Path) -> list[str]:
    stages, pkt, algo, reward = VARIANTS[variant]
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
        "--ppo-algo", algo, "--reward", reward,
        "--save-every", "100000",
    ]  # fmt: skip
    if algo != "ppo":  # GRPO: the rollout batch holds rollout_batch / G prompts
        a += ["--ppo-group-size", str(GROUP_SIZE if args.rollout_batch % GROUP_SIZE == 0 else 2)]
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
        t1 = time.time()
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
        data = json.loads(report.read_text())
        row = {"variant": variant, "seed": seed, "benchmark": bench, "train_s": round(train_s, 1)}
        row["eval_s"] = round(time.time() - t1, 1)
        row.update({k: data["metrics"][k] for k in ("TS", "PI", "CF")})
        row["categories"] = json.dumps(data.get("categories", {}))
        rows.append(row)
    print(f"done {variant} seed {seed} in {time.time() - t0:.0f}s", flush=True)
    return rows


# ---- --minutes: calibrate on this machine, then size the grid ------------------------------------------

CALIBRATION_SFT_STEPS, CALIBRATION_RL_STEPS, CALIBRATION_LIMIT = 4, 2, 16


def _steady(values: list[float]) -> float:
    """Median step time, leaving out the first step (warm-up) when there are others."""
    return statistics.median(values[1:] or values)


def calibrate(args, variants: list[str], root: Path) -> dict:
    """One wave of --parallel probe jobs at the real size (each trains a few SFT + RL steps and evaluates
    CALIBRATION_LIMIT items per benchmark) -> seconds per SFT step, per RL step of each algorithm, per
    evaluated item of each benchmark, and the fixed cost of a training process (start-up, data, saving)."""
    import copy

    algos = sorted({VARIANTS[v][2] for v in variants if "ppo" in VARIANTS[v][0]}) or ["ppo"]
    probe = copy.copy(args)
    probe.sft_steps, probe.ppo_steps, probe.limit = (
        CALIBRATION_SFT_STEPS,
        CALIBRATION_RL_STEPS,
        CALIBRATION_LIMIT,
    )
    by_algo = {"ppo": "mae+pkt+irm", "grpo": "mae+pkt+irm-grpo"}
    jobs = [(by_algo[algos[k % len(algos)]], 1000 + k) for k in range(max(args.parallel, len(algos)))]
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(lambda job: run_one(probe, job[0], job[1], root), jobs))
    sft, rl, fixed, item = [], {a: [] for a in algos}, [], {b: [] for b in BENCHMARKS}
    for (variant, seed), rows in zip(jobs, results, strict=True):
        metrics = [
            json.loads(x) for x in (root / f"{variant}-seed{seed}" / "metrics.jsonl").read_text().splitlines()
        ]
        sft_s = [r["step_s"] for r in metrics if r["stage"] == "sft"]
        rl_s = [r["step_s"] for r in metrics if r["stage"] == "ppo"]
        sft.append(_steady(sft_s))
        rl[VARIANTS[variant][2]].append(_steady(rl_s))
        fixed.append(rows[0]["train_s"] - sum(sft_s) - sum(rl_s))
        for r in rows:  # the whole evaluation wall time is charged per item: an upper bound
            item[r["benchmark"]].append(r["eval_s"] / CALIBRATION_LIMIT)
    return {
        "sft_step_s": max(sft),
        "rl_step_s": {a: max(v) for a, v in rl.items()},
        "fixed_s": max(fixed),
        "eval_item_s": {b: max(v) for b, v in item.items()},
        "wall_s": time.time() - t0,
    }


def plan(calib: dict, n_jobs: int, parallel: int, budget_s: float, limit: int | None) -> dict:
    """SFT / RL steps and evaluation limit so that calibration + n_jobs runs (in waves of `parallel`) fit
    in 90% of budget_s. Every run is charged as the costliest one (an RL run with the slowest algorithm)."""
    waves = -(-n_jobs // parallel)
    per_wave = (0.9 * budget_s - calib["wall_s"]) / waves
    limit = limit or 200
    eval_s = sum(calib["eval_item_s"].values()) * limit
    if eval_s > 0.4 * per_wave:  # evaluation gets at most 40% of a run's time
        limit = max(1, int(0.4 * per_wave / sum(calib["eval_item_s"].values())))
        eval_s = sum(calib["eval_item_s"].values()) * limit
    per_sft_step = calib["sft_step_s"] + max(calib["rl_step_s"].values()) / RL_RATIO
    sft_steps = int((per_wave - calib["fixed_s"] - eval_s) / per_sft_step) if per_wave > 0 else 0
    ppo_steps = max(1, sft_steps // RL_RATIO)
    run_s = calib["fixed_s"] + sft_steps * calib["sft_step_s"] + ppo_steps * max(calib["rl_step_s"].values())
    return {
        "sft_steps": sft_steps,
        "ppo_steps": ppo_steps,
        "limit": limit,
        "waves": waves,
        "estimate_s": calib["wall_s"] + waves * (run_s + eval_s),
        "fits": sft_steps >= 2,
    }


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
    p.add_argument("--variants", default=",".join(GRID), help=f"comma-separated subset of {list(VARIANTS)}")
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
        "--minutes", type=float, help="size the SFT / RL steps (and eval limit) so that the grid fits this"
    )
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
    if args.minutes:
        print(f"calibrating: {args.parallel} probe run(s) at the real size ...", flush=True)
        calib = calibrate(args, variants, args.out / "calibration")
        sized = plan(calib, len(jobs), args.parallel, args.minutes * 60, args.limit)
        print(
            f"measured: {calib['sft_step_s']:.2f} s per SFT step of {args.tokens_per_batch} tokens "
            f"({args.tokens_per_batch / calib['sft_step_s']:,.0f} tokens/s), RL step "
            + ", ".join(f"{a} {t:.2f} s" for a, t in calib["rl_step_s"].items())
            + f", {calib['fixed_s']:.0f} s fixed per run; calibration took {calib['wall_s'] / 60:.1f} min",
            flush=True,
        )
        verdict = "fits" if sized["fits"] else "DOES NOT FIT"
        print(
            f"plan: {len(jobs)} runs in {sized['waves']} wave(s) of {args.parallel}, "
            f"{sized['sft_steps']} SFT steps + {sized['ppo_steps']} RL steps each, "
            f"eval --limit {sized['limit']}: estimated "
            f"{sized['estimate_s'] / 60:.1f} of {args.minutes:.1f} min -> {verdict}",
            flush=True,
        )
        if not sized["fits"]:
            raise SystemExit(
                "the grid does not fit: give more --minutes, fewer --variants/--seeds or --parallel"
            )
        args.sft_steps, args.ppo_steps, args.limit = sized["sft_steps"], sized["ppo_steps"], sized["limit"]
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
    budget = f" (budget {args.minutes:.1f} min)" if args.minutes else ""
    print(f"{len(jobs)} runs in {wall / 60:.1f} min{budget}; results in {out_dir}")


if __name__ == "__main__":
    main()
