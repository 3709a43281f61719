"""Before/after speed of the native categorizer: two builds of tl_fast._native in one process, interleaved.

    git archive main | tar -x -C /tmp/base && (cd /tmp/base && python setup.py -q build_ext --inplace)
    python benchmarks/ab_reward.py --base /tmp/base/tl_fast --new tl_fast
    python benchmarks/ab_reward.py --base /tmp/base/tl_fast --new tl_fast --plain --threads 2

On a shared machine wall-clock rows of bench_reward.py swing by tens of percent with the load; here both
builds score the same prepared corpora (bench_reward's bfcl / bfcl_tl / rotbench, unmutated) on one thread,
in alternating order, timed in CPU time, and the medians are compared. Prints; writes nothing.
--plain times the plain categorize_batch instead (no prepared problems: each call looks its problems up in the
build's problem cache, as an RL reward function calls it), on --threads threads, in wall-clock time (CPU time
would add the threads up); the best timing of each build is compared, the one least disturbed by the load.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "reward" / "data"
AUTHORS = [-2, -2, -1.5, -1.5, -1.8, -1.3, -1.3, -1.0, -0.8, -0.5, -0.5, -0.25, 1.0]


def load(folder: Path, tag: str):
    so = next(folder.glob("_native*.so"), None)
    if so is None:
        raise SystemExit(f"no built _native*.so in {folder}; run `python setup.py build_ext --inplace` there")
    spec = importlib.util.spec_from_file_location(f"{tag}._native", so)  # distinct names: two modules
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpora() -> dict[str, list[tuple[list, list, list, str, str]]]:
    with gzip.open(DATA / "bfcl_gemma4_verdicts.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    with gzip.open(DATA / "rotbench_first_turn.jsonl.gz", "rt") as f:
        rot = [json.loads(line) for line in f]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["category"], []).append(r)
    out: dict[str, list] = {"bfcl": [], "bfcl_tl": []}
    for category, g in by.items():
        batch = ([r["result"] for r in g], [r["function"] for r in g], [r["ground_truth"] for r in g])
        out["bfcl"].append((*batch, "bfcl", category))
        out["bfcl_tl"].append((*batch, "tl", ""))
    answers = [(a, item["tools"], item["answers"][0]) for item in rot for a in item["answers"]]
    out["rotbench"] = [
        ([a for a, _, _ in answers], [t for _, t, _ in answers], [g for _, _, g in answers], "tl", "")
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--base", type=Path, required=True, help="folder holding the base build's _native*.so"
    )
    parser.add_argument("--new", type=Path, required=True, help="folder holding the new build's _native*.so")
    parser.add_argument("--copies", type=int, default=10, help="corpus copies per timing")
    parser.add_argument("--reps", type=int, default=15, help="timings per build (median reported)")
    parser.add_argument("--plain", action="store_true", help="time the plain categorize_batch (ABI >= 5)")
    parser.add_argument("--threads", type=int, default=1, help="C++ threads (--plain only)")
    args = parser.parse_args()
    if args.threads != 1 and not args.plain:
        parser.error("--threads needs --plain (prepared timings are single-threaded CPU time)")
    builds = {"base": load(args.base, "base"), "new": load(args.new, "new")}
    for name, batches in corpora().items():
        prepared = {}
        for tag, module in builds.items():
            rewards = AUTHORS + [-2.0] * (module.ABI_VERSION >= 3)  # ABI 3 added the "irrelevant" entry
            sets = [
                (
                    preds * args.copies,
                    module.ProblemSet(tools * args.copies, golds * args.copies, proto, cat, "exact"),
                )
                for preds, tools, golds, proto, cat in batches
            ]
            # ABI 4 makes each distinct verdict through a callback; older builds return tuples
            extra = ((lambda *v: v),) if module.ABI_VERSION >= 4 else ()
            prepared[tag] = (module, sets, rewards, extra)
        n = sum(len(p) for p, _ in prepared["base"][1])
        if args.plain:
            plain = [(p * args.copies, t * args.copies, g * args.copies, pr, c) for p, t, g, pr, c in batches]
        times: dict[str, list[float]] = {"base": [], "new": []}
        for rep in range(args.reps):
            for tag in ("base", "new") if rep % 2 == 0 else ("new", "base"):
                module, sets, rewards, extra = prepared[tag]
                if args.plain:
                    t0 = time.perf_counter()
                    for preds, tools, golds, proto, cat in plain:
                        options = (proto, cat, "exact", "prompt", False)  # protocol ... underscore_to_dot
                        module.categorize_batch(preds, tools, golds, *options, rewards, args.threads, *extra)
                    times[tag].append(time.perf_counter() - t0)
                    continue
                t0 = time.process_time()
                for preds, problems in sets:
                    module.categorize_set(preds, problems, rewards, 1, *extra)
                times[tag].append(time.process_time() - t0)
        pick, how = (min, "best") if args.plain else (statistics.median, "median")
        base, new = (pick(times[t]) for t in ("base", "new"))
        mode = f"plain batch, {args.threads} thread(s), wall-clock" if args.plain else "1 thread, CPU time"
        print(
            f"{name:<9} n={n:<6} base {n / base:>10,.0f}/s  new {n / new:>10,.0f}/s"
            f"  new/base {base / new:.3f}  ({mode}, {how} of {args.reps})"
        )


if __name__ == "__main__":
    main()
