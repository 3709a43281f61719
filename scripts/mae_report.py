"""MAE on the full RoTLLaMA corpus: our drops per reason vs what the authors' released rule would drop.

    .venv/bin/python scripts/mae_report.py \
        --source /work/shared/data/rotllama_train/rotllama_gpt4_trajectories.jsonl.gz \
        --out benchmarks/results/mae_report.md

The authors' rule is Junjie-Ye/TL-Training code/mae/mae.py `data_split(is_mae=True)` applied to the same
parsed trajectories: a non-final assistant turn is dropped when the next message is not a tool output, or
when the output contains any of their 14 patterns after both are stripped of punctuation and lower-cased.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from tl_fast.data.config import MAEConfig
from tl_fast.data.formats import load_trajectories
from tl_fast.data.mae import authors_rule_flags, mae_split, tool_error


def _md_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _short(text: str, n: int = 70) -> str:
    return text.strip().replace("\n", "\\n").replace("|", "\\|")[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", default="benchmarks/results/mae_report.md")
    args = ap.parse_args()

    t0 = time.perf_counter()
    trajs, load = load_trajectories(args.source)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    samples, ours = mae_split(trajs, MAEConfig())
    t_mae = time.perf_counter() - t0
    _, cut = mae_split(trajs, MAEConfig(keep_error_history=False))

    authors = Counter()
    both, ours_only, authors_only, neither = 0, Counter(), Counter(), 0
    for traj in trajs:
        idx = [i for i, m in enumerate(traj.messages) if m.role == "assistant"]
        for i in idx[:-1]:
            nxt = traj.messages[i + 1]
            if nxt.role != "tool":
                authors[f"next turn is {nxt.role}, not a tool output"] += 1
                continue
            a = authors_rule_flags(nxt.content)
            o = tool_error(nxt.content)
            if a:
                authors[f"pattern {a!r}"] += 1
            if a and o:
                both += 1
            elif o:
                ours_only[(o[0], _short(nxt.content))] += 1
            elif a:
                authors_only[(a, _short(nxt.content))] += 1
            else:
                neither += 1
    authors_dropped = sum(authors.values())

    out = [
        "# MAE on the 3,761 RoTLLaMA trajectories",
        "",
        f"Command: `.venv/bin/python scripts/mae_report.py --source {args.source} --out {args.out}`",
        f"(load {t_load:.2f} s, MAE split {t_mae:.2f} s on this CPU).",
        "",
        "## Loading",
        "",
        _md_table(("count", "n"), load.rows()),
        "",
        "The malformed records are assistant turns whose `Action Input` is not valid JSON (unescaped quotes",
        "in a final answer); each is skipped whole and counted.",
        "",
        "## Our rule (tl_fast.data.mae, defaults: keep failed calls in the history)",
        "",
        _md_table(("count", "n"), ours.rows()),
        "",
        "Pattern drops by pattern (regexes anchored at the start of plain-text outputs, case-sensitive):",
        "",
        _md_table(
            ("pattern", "turns"),
            [(f"`{_short(p, 200)}`", n) for p, n in sorted(ours.patterns.items(), key=lambda kv: -kv[1])],
        ),
        "",
        f"With `keep_error_history=False` (cut a trajectory at its first failed call): "
        f"{cut.samples_out} samples; " + ", ".join(f"{k} {v}" for k, v in sorted(cut.dropped.items())) + ".",
        "",
        "## The authors' rule on the same trajectories",
        "",
        _md_table(
            ("non-final turn dropped because", "turns"),
            [(_short(k, 200), n) for k, n in sorted(authors.items(), key=lambda kv: -kv[1])],
        ),
        "",
        f"Authors' rule: {authors_dropped} of {ours.assistant_turns - ours.final_turns} non-final turns "
        "dropped, "
        f"{ours.assistant_turns - authors_dropped} samples. "
        f"Ours: {sum(ours.dropped.values())} dropped, {ours.samples_out} samples.",
        "",
        "On the non-final turns answered by a tool output: "
        f"both flag {both}, only ours {sum(ours_only.values())}, "
        f"only the authors' {sum(authors_only.values())}, neither {neither}. "
        "The authors' rule also drops every turn answered by the user (`ask_to_user`) and "
        "every unanswered call; ours keeps the first and drops the second (`unanswered`).",
        "",
        "### Flagged only by the authors' rule (most frequent outputs)",
        "",
        _md_table(
            ("authors' pattern", "output starts", "turns"),
            [(a, f"`{t}`", n) for (a, t), n in authors_only.most_common(25)],
        ),
        "",
        "### Flagged only by ours (most frequent outputs)",
        "",
        _md_table(
            ("our reason", "output starts", "turns"),
            [(a, f"`{t}`", n) for (a, t), n in ours_only.most_common(25)],
        ),
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(out))
    print("\n".join(out[:40]))


if __name__ == "__main__":
    main()
