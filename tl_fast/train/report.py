"""Run-folder outputs: metrics.jsonl (a row per step, `stage` = mae | sft | ppo) and report.md with plots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


class MetricsLog:
    """Appends one JSON row per step; on resume, rows past the restored step are dropped first."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path = path
        self.enabled = enabled

    def truncate_after(self, stage: str, step: int) -> None:
        if not (self.enabled and self.path.exists()):
            return
        keep = [r for r in self.rows() if not (r["stage"] == stage and r.get("step", 0) > step)]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in keep))

    def log(self, stage: str, **values) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"stage": stage, **values}) + "\n")

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _plot(
    path: Path, series: dict[str, tuple[list, list]], title: str, ylabel: str, stacked: bool = False
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if stacked:
        xs = next(iter(series.values()))[0]
        ax.stackplot(xs, *[ys for _, ys in series.values()], labels=list(series))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        for label, (xs, ys) in series.items():
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
        if len(series) > 1:
            ax.legend(fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(run_dir: Path, metrics: MetricsLog, header: dict) -> Path:
    """report.md: what ran (attention, data counts) and plots of SFT loss, PPO reward, category mix, KL."""
    rows = metrics.rows()
    sft = [r for r in rows if r["stage"] == "sft"]
    ppo = [r for r in rows if r["stage"] == "ppo"]
    mae = [r for r in rows if r["stage"] == "mae"]
    lines = ["# tl_fast run report", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines += ["", "Resolved configuration: `config.yaml`; every step: `metrics.jsonl`.", ""]
    if mae:
        lines += ["## Data (MAE included)", "", "| count | value |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in mae[-1].items() if k not in ("stage", "step")]
        lines.append("")
    if sft:
        steps = [r["step"] for r in sft]
        _plot(run_dir / "sft_loss.png", {"PKT loss": (steps, [r["loss"] for r in sft])}, "SFT loss", "loss")
        lines += ["## SFT", "", f"{len(sft)} steps, loss {sft[0]['loss']:.4f} → {sft[-1]['loss']:.4f}.", ""]
        lines += ["![SFT loss](sft_loss.png)", ""]
    if ppo:
        steps = [r["step"] for r in ppo]
        _plot(
            run_dir / "ppo_reward.png",
            {"mean reward": (steps, [r["reward"] for r in ppo])},
            "RL reward",
            "reward",
        )
        _plot(run_dir / "ppo_kl.png", {"KL to SFT": (steps, [r["kl"] for r in ppo])}, "KL", "nats/token")
        cats = sorted({c for r in ppo for c in r["categories"]})
        mix = {c: (steps, [r["categories"].get(c, 0) for r in ppo]) for c in cats}
        _plot(run_dir / "ppo_categories.png", mix, "error-category mix per rollout", "samples", stacked=True)
        shares = {"clip fraction": (steps, [r.get("clip_frac", 0.0) for r in ppo])}
        if any("groups_skipped" in r for r in ppo):
            shares["groups skipped (no signal)"] = (steps, [r.get("groups_skipped", 0.0) for r in ppo])
        _plot(run_dir / "ppo_clip.png", shares, "clip fraction, skipped groups", "share")
        last = Counter(ppo[-1]["categories"])
        lines += [
            "## RL",
            "",
            f"{len(ppo)} iterations, mean reward {ppo[0]['reward']:.3f} → {ppo[-1]['reward']:.3f}.",
        ]
        lines += [
            "",
            "Last rollout's categories: " + ", ".join(f"{k} {v}" for k, v in last.most_common()),
            "",
        ]
        lines += _rl_table(ppo)
        lines += [
            "![reward](ppo_reward.png)",
            "",
            "![categories](ppo_categories.png)",
            "",
            "![KL](ppo_kl.png)",
            "",
            "![clip fraction and skipped groups](ppo_clip.png)",
            "",
        ]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _rl_table(rows: list[dict], max_rows: int = 40) -> list[str]:
    """Per step: reward, KL, clip fraction, share of groups skipped, time, memory (every k-th past 40)."""
    every = max(1, -(-len(rows) // max_rows))
    picked = rows[::every] if rows[-1] in rows[::every] else [*rows[::every], rows[-1]]
    out = [
        "| step | reward | KL | clip fraction | groups skipped | s/step | peak MB | categories |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in picked:
        skipped = f"{r['groups_skipped']:.2f}" if "groups_skipped" in r else "–"
        cats = ", ".join(f"{k} {v}" for k, v in Counter(r["categories"]).most_common(3))
        out.append(
            f"| {r['step']} | {r['reward']:.3f} | {r['kl']:.4f} | {r.get('clip_frac', 0.0):.3f} | {skipped} "
            f"| {r.get('step_s', float('nan')):.2f} | {r.get('peak_mem_mb', float('nan')):.0f} | {cats} |"
        )
    return [*out, ""]
