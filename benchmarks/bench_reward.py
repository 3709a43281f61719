"""Categorizations per second: the C++ core (1 and 2 threads) vs the pure-Python twin.

    python benchmarks/bench_reward.py                 # both corpora, writes results/bench_reward.csv
    python benchmarks/bench_reward.py --repeat 40     # corpus copies per native timing (default 20)

Corpora (vendored in tests/reward/data):
  bfcl      2,351 gemma4 prompt-mode outputs on BFCL v4 (8 AST categories), protocol="bfcl" (BFCL's checker);
  bfcl_tl   the same outputs and possible answers scored with protocol="tl" (IRM categories, as in PPO);
  rotbench  RoTBench First_Turn clean+slight gold alternatives, each also mutated (quotes, names, cut, extra
            or missing parameters), against the first gold, protocol="tl" (IRM categories).
Modes: "prepared" times categorize_prepared (problems built once, as for a fixed PPO prompt set or eval set);
"batch" times categorize_batch, problem building from Python dicts included.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, print_table, write_results  # noqa: E402

from tl_fast._native_glue import native_available  # noqa: E402
from tl_fast.reward import categorize_batch, categorize_prepared, prepare  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "reward" / "data"


def bfcl_corpus() -> list[tuple[str, list, list, str]]:
    with gzip.open(DATA / "bfcl_gemma4_verdicts.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(r["result"], r["function"], r["ground_truth"], r["category"]) for r in rows]


def rotbench_corpus() -> list[tuple[str, list, str, str]]:
    rng = random.Random(0)
    mutations = [
        lambda t: t,
        lambda t: t.replace('"', "'", 1),
        lambda t: t.replace("Action: ", "Action: x", 1),
        lambda t: t[: rng.randrange(len(t) + 1)],
        lambda t: t.replace(", ", ', "extra": 1, ', 1),
    ]
    out = []
    with gzip.open(DATA / "rotbench_first_turn.jsonl.gz", "rt") as f:
        for line in f:
            item = json.loads(line)
            for answer in item["answers"]:
                out.append((rng.choice(mutations)(answer), item["tools"], item["answers"][0], ""))
    return out


def run(corpus_name: str, items: list, protocol: str, repeat: int) -> list:
    rows = []
    by_category: dict[str, list] = {}
    for item in items:
        by_category.setdefault(item[3], []).append(item)
    n = len(items)

    def timed(fn, provider: str, mode: str, count: int, reps: int):
        bench = f"reward_{corpus_name}"
        m = measure(
            fn, bench=bench, provider=provider, mode=mode, shape=f"n={count}", cpu_reps=reps, cpu_only=True
        )
        calls_per_s = count / (m.ms_p50 * 1e-3)
        m.extra["calls_per_s"] = f"{calls_per_s:.0f}"
        rows.append(m)
        return calls_per_s

    def batches(backend: str, copies: int):
        out = []
        for category, group in by_category.items():
            preds = [g[0] for g in group] * copies
            prepared = prepare(
                [g[1] for g in group] * copies,
                [g[2] for g in group] * copies,
                protocol=protocol,
                bfcl_category=category or None,
                backend=backend,
            )
            out.append((preds, prepared))
        return out

    speeds = {}
    py = batches("python", 1)
    speeds["python"] = timed(lambda: [categorize_prepared(p, b) for p, b in py], "python", "prepared", n, 3)
    if native_available():
        nat = batches("native", repeat)
        for threads in (1, 2):
            speeds[f"native_{threads}t"] = timed(
                lambda t=threads: [categorize_prepared(p, b, num_threads=t) for p, b in nat],
                f"native_{threads}t",
                "prepared",
                n * repeat,
                10,
            )

        def end_to_end(backend: str, threads: int):
            for category, group in by_category.items():
                categorize_batch(
                    [g[0] for g in group],
                    [g[1] for g in group],
                    [g[2] for g in group],
                    protocol=protocol,
                    bfcl_category=category or None,
                    backend=backend,
                    num_threads=threads,
                )

        speeds["native_2t_batch"] = timed(lambda: end_to_end("native", 2), "native_2t", "batch", n, 5)
        speeds["python_batch"] = timed(lambda: end_to_end("python", 1), "python", "batch", n, 3)
    for name, s in speeds.items():
        twin = speeds["python_batch" if name.endswith("_batch") else "python"]  # like against like
        ratio = f"  ({s / twin:.0f}x python)" if name.startswith("native") else ""
        print(f"{corpus_name:<9} {name:<16} {s:>12,.0f} calls/s{ratio}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="corpus copies per native timing")
    parser.add_argument("--no-save", action="store_true", help="print only; do not append to results/")
    args = parser.parse_args()
    bfcl = bfcl_corpus()
    rows = run("bfcl", bfcl, "bfcl", args.repeat)
    rows += run("bfcl_tl", bfcl, "tl", args.repeat)
    rows += run("rotbench", rotbench_corpus(), "tl", args.repeat)
    print_table(rows)
    if not args.no_save:
        print("wrote", write_results(rows, "bench_reward"))


if __name__ == "__main__":
    main()
