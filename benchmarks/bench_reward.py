"""Categorizations per second: the C++ core (1 and 2 threads) vs the pure-Python twin.

    python benchmarks/bench_reward.py                 # both corpora, writes results/bench_reward.csv
    python benchmarks/bench_reward.py --repeat 40     # corpus copies per native timing (default 20)
    python benchmarks/bench_reward.py --corpus bfcl --no-save   # one corpus, print only
    PYTHONPATH=../old python benchmarks/bench_reward.py --code-sha 1ca097d   # another build; rows say so

Corpora (vendored in tests/reward/data):
  bfcl      2,351 gemma4 prompt-mode outputs on BFCL v4 (8 AST categories), protocol="bfcl" (BFCL's checker);
  bfcl_tl   the same outputs and possible answers scored with protocol="tl" (IRM categories, as in PPO);
  rotbench  RoTBench First_Turn clean+slight gold alternatives, each also mutated (quotes, names, cut, extra
            or missing parameters), against the first gold, protocol="tl" (IRM categories).
Modes: "prepared" times categorize_prepared (problems built once, as for a fixed PPO prompt set or eval set);
"batch" times the plain categorize_batch, as a reward function in an RL loop calls it (no prepare(); the
corpus copies are the same objects, as the samples of one prompt are): problem lookup from Python included;
"batch_new" does the same on equal objects made anew for every call (a dataset read again each step);
"batch_distinct" gives every copy after the first its own text, the same call re-spaced (a GRPO group's
samples differ; the same text scored again runs hotter: branch history, caches);
"batch_cold" with the problem cache off (every problem converted; prompts never seen before).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import itertools
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, print_table, write_results  # noqa: E402

from tl_fast._native_glue import native_available  # noqa: E402
from tl_fast.reward import categorize_batch, categorize_prepared, prepare  # noqa: E402

try:  # absent before the problem cache: the bench also measures older builds
    from tl_fast.reward.categorize import set_problem_cache_size as set_cache
except ImportError:
    set_cache = None

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

        def plain(backend: str, threads: int, groups) -> None:
            for preds, tools, golds, category in groups:
                categorize_batch(
                    preds,
                    tools,
                    golds,
                    protocol=protocol,
                    bfcl_category=category or None,
                    backend=backend,
                    num_threads=threads,
                )

        rng = random.Random(0)

        def respaced(text: str) -> str:  # the same calls, other whitespace after '(' and ','
            text = text.replace("(", "(" + " " * rng.randint(1, 4), 1)
            return re.sub(", ", lambda _: "," + " " * rng.randint(1, 3), text)

        def corpus(copies: int, fresh: bool, distinct: bool = False):
            out = []
            for category, group in by_category.items():
                tools = [g[1] for g in group] * copies
                golds = [g[2] for g in group] * copies
                if fresh:  # every item its own objects, equal to the others'
                    tools, golds = copy.deepcopy(tools), copy.deepcopy(golds)
                preds = [respaced(g[0]) if distinct and c else g[0] for c in range(copies) for g in group]
                out.append((preds, tools, golds, category))
            return out

        same = corpus(repeat, fresh=False)
        for threads in (1, 2):
            speeds[f"native_{threads}t_batch"] = timed(
                lambda t=threads: plain("native", t, same), f"native_{threads}t", "batch", n * repeat, 10
            )
        distinct = corpus(repeat, fresh=False, distinct=True)
        speeds["native_2t_batch_distinct"] = timed(
            lambda: plain("native", 2, distinct), "native_2t", "batch_distinct", n * repeat, 10
        )
        fresh = itertools.cycle([corpus(repeat, fresh=True) for _ in range(2)])
        speeds["native_2t_batch_new"] = timed(
            lambda: plain("native", 2, next(fresh)), "native_2t", "batch_new", n * repeat, 6
        )
        if set_cache is not None:
            set_cache(0)
            speeds["native_2t_batch_cold"] = timed(
                lambda: plain("native", 2, same), "native_2t", "batch_cold", n * repeat, 3
            )
            set_cache(8192)
        speeds["python_batch"] = timed(lambda: plain("python", 1, corpus(1, False)), "python", "batch", n, 3)
    for name, s in speeds.items():
        twin = speeds["python_batch" if "_batch" in name else "python"]  # like against like
        ratio = f"  ({s / twin:.0f}x python)" if name.startswith("native") else ""
        print(f"{corpus_name:<9} {name:<16} {s:>12,.0f} calls/s{ratio}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="corpus copies per native timing")
    parser.add_argument("--no-save", action="store_true", help="print only; do not append to results/")
    parser.add_argument("--corpus", choices=["all", "bfcl", "bfcl_tl", "rotbench"], default="all")
    parser.add_argument(
        "--code-sha",
        help="stamp rows with this commit: the code measured is another checkout's (PYTHONPATH=it)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    rows = []
    if args.corpus in ("all", "bfcl", "bfcl_tl"):
        bfcl = bfcl_corpus()
        if args.corpus != "bfcl_tl":
            rows += run("bfcl", bfcl, "bfcl", args.repeat)
        if args.corpus != "bfcl":
            rows += run("bfcl_tl", bfcl, "tl", args.repeat)
    if args.corpus in ("all", "rotbench"):
        rows += run("rotbench", rotbench_corpus(), "tl", args.repeat)
    print_table(rows)
    if not args.no_save:
        print("wrote", write_results(rows, "bench_reward", git_sha=args.code_sha))


if __name__ == "__main__":
    main()
