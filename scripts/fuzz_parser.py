"""Differential fuzz: the C++ core and the pure-Python twin on mutated real model outputs.

    python scripts/fuzz_parser.py                          # 1,000,000 inputs per protocol, 2 processes
    python scripts/fuzz_parser.py -n 20000 --seed 7        # a quick run
    python scripts/fuzz_parser.py --show 5                 # print the first disagreements found

Inputs: the 2,351 vendored gemma4 BFCL outputs (tests/reward/data), each also rendered in the other call
formats
the parser reads (JSON, OpenAI message / response, Hermes <tool_call>, Llama-3 <|python_tag|>, Mistral
[TOOL_CALLS], ReAct), then mutated by 1-4 edits: insert, delete, replace or splice characters drawn from call
syntax, non-ASCII letters, U+1F600, U+200B, NUL and format markers. Under protocol "tl" the two backends must
give the same parse (calls with names, values, types and spans, "no call", or an error) and the same verdict;
under "bfcl" the same BFCL decode and verdict. Exits 1 when any input disagrees.
tests/reward/test_reward_fuzz.py runs a seeded subset in CI.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "reward" / "data" / "bfcl_gemma4_verdicts.jsonl.gz"

SYNTAX = list("()[]{},'\"=:;#\\ \n.-+*/%~<>|&^@!`$?0123456789_abcdefjrxeEJ\t")
LETTERS = ["é", "ß", "Α", "中", "ﬁ", "Ｔ", "·", "\u0301", "ℌ"]
ODD = ["\U0001f600", "\u200b", "\0", "\ud800"]
MARKERS = [
    "<tool_call>",
    "</tool_call>",
    "[TOOL_CALLS]",
    "[ARGS]",
    "<|python_tag|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<end_of_turn>",
    "```",
    "```json\n",
    "Action: ",
    "\nAction Input: ",
    '{"name": ',
    '"arguments": ',
    '"tool_calls": ',
    "'''",
    '"""',
    "\\u00e9",
    "\\x4",
    "\\N{DASH}",
    "true",
    "null",
    "None",
    " if ",
    " else ",
    " for ",
    " in ",
    " not ",
    "lambda ",
    "**",
    "//",
    ":=",
    "1j",
    "f(1)",
    "x[1:2]",
]
ALPHABET = SYNTAX + LETTERS + ODD + MARKERS


def load_items() -> list[dict]:
    with gzip.open(DATA, "rt") as f:
        return [json.loads(line) for line in f]


def renderings(text: str) -> list[str]:
    """The output as written, and its calls rendered in the other formats (when the twin can read it)."""
    from tl_fast.reward._py_parse import Fail, parse

    out = [text]
    try:
        calls = parse(text)
    except Fail:
        return out
    if not calls:
        return out
    objs = [{"name": c.name, "arguments": _jsonable(c.arguments)} for c in calls]
    try:
        as_json = [json.dumps(o, ensure_ascii=False) for o in objs]
    except (TypeError, ValueError):
        return out
    tool_calls = [
        {
            "id": f"call_{k}",
            "type": "function",
            "function": {"name": o["name"], "arguments": j[len('{"name": ') :]},
        }
        for k, (o, j) in enumerate(zip(objs, as_json, strict=True))
    ]
    for tc, o in zip(tool_calls, objs, strict=True):  # arguments as the JSON string OpenAI sends
        tc["function"]["arguments"] = json.dumps(o["arguments"], ensure_ascii=False)
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    out += [
        "[" + ", ".join(as_json) + "]",
        json.dumps(message, ensure_ascii=False),
        json.dumps({"choices": [{"index": 0, "message": message}]}, ensure_ascii=False),
        "".join(f"<tool_call>\n{j}\n</tool_call>" for j in as_json),
        "<|python_tag|>"
        + "; ".join(json.dumps({"name": o["name"], "parameters": o["arguments"]}) for o in objs)
        + "<|eom_id|>",
        "[TOOL_CALLS] [" + ", ".join(as_json) + "]",
        "".join(f"[TOOL_CALLS]{o['name']}[ARGS]{json.dumps(o['arguments'])}" for o in objs),
        "\n".join(f"Action: {o['name']}\nAction Input: {json.dumps(o['arguments'])}" for o in objs),
    ]
    return out


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(text) + 1)
        kind = rng.randrange(4)
        if kind == 0 and text:  # delete 1-3 characters
            text = text[:pos] + text[pos + rng.randint(1, 3) :]
        elif kind == 1:  # insert
            text = text[:pos] + rng.choice(ALPHABET) + text[pos:]
        elif kind == 2 and text:  # replace one character
            text = text[:pos] + rng.choice(ALPHABET) + text[pos + 1 :]
        else:  # splice: copy a piece of the text elsewhere
            a = rng.randrange(len(text) + 1)
            piece = text[a : a + rng.randint(1, 12)]
            text = text[:pos] + piece + text[pos:]
    return text


def same(a, b) -> bool:
    """Equal with types (True != 1, 1 != 1.0, list != tuple) and -0.0 != 0.0; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def _parse_outcome(text: str, backend: str):
    from tl_fast.reward import ParseError, parse_tool_calls

    try:
        return [(c.name, c.arguments, c.positional, c.span) for c in parse_tool_calls(text, backend=backend)]
    except ParseError:
        return "error"


class Checker:
    """Both backends' problems for every corpus item, built once per protocol."""

    def __init__(self, items: list[dict], protocol: str):
        from tl_fast._native_glue import native_module
        from tl_fast.reward import RewardTable, prepare
        from tl_fast.reward import _py_categorize as pc

        self.protocol = protocol
        self.native = native_module()
        if self.native is None:
            raise SystemExit("the native core is not built: nothing to compare the twin with")
        self.rewards = RewardTable().values()
        self.items = items
        self.py_problems = [
            pc.build_problem(
                it["function"], it["ground_truth"], protocol=protocol, bfcl_category=it["category"]
            )
            for it in items
        ]
        self.prepared = [
            prepare([it["function"]], [it["ground_truth"]], protocol=protocol, bfcl_category=it["category"])
            for it in items
        ]

    def disagreement(self, text: str, k: int) -> str | None:
        from tl_fast.reward import _py_bfcl, categorize_prepared
        from tl_fast.reward import _py_categorize as pc

        if self.protocol == "tl":
            a, b = _parse_outcome(text, "native"), _parse_outcome(text, "python")
            if isinstance(a, str) or isinstance(b, str):
                if a != b:
                    return f"parse: native {_short(a)} / python {_short(b)}"
            elif len(a) != len(b) or not all(
                x[0] == y[0] and x[3] == y[3] and same(x[1], y[1]) and same(x[2], y[2])
                for x, y in zip(a, b, strict=True)
            ):
                return f"parse: native {_short(a)} / python {_short(b)}"
        else:
            a, b = self.native.bfcl_decode(text), _py_bfcl.bfcl_decode(text)
            if (a is None) != (b is None) or (a is not None and not same(a, b)):
                return f"bfcl_decode: native {_short(a)} / python {_short(b)}"
        [v] = categorize_prepared([text], self.prepared[k], num_threads=1)
        correct, category, error_type = pc.categorize(text, self.py_problems[k], self.rewards)
        if (v.correct, v.category, v.error_type) != (correct, category, error_type):
            return f"verdict: native {v.category}/{v.error_type} / python {category}/{error_type}"
        return None


def _short(v) -> str:
    s = repr(v)
    return s if len(s) < 200 else s[:200] + "..."


def inputs(items: list[dict], seed: int, start: int, count: int):
    """(index, item index, text) for inputs start..start+count of the stream `seed` (same on every
    machine)."""
    bases = [(k, r) for k, it in enumerate(items) for r in renderings(it["result"])]
    for i in range(start, start + count):
        rng = random.Random(f"{seed}:{i}")
        k, base = bases[rng.randrange(len(bases))]
        yield i, k, mutate(base, rng)


def run_chunk(args: tuple) -> tuple[int, list[tuple[int, str, str]]]:
    protocol, seed, start, count, show = args
    items = load_items()
    checker = Checker(items, protocol)
    found = []
    n = 0
    for i, k, text in inputs(items, seed, start, count):
        n += 1
        what = checker.disagreement(text, k)
        if what is not None:
            found.append((i, text, what))
            if len(found) >= max(show, 1) * 50:
                break
    return n, found


def fuzz(protocol: str, n: int, seed: int, processes: int, show: int) -> int:
    chunk = max(1, min(20_000, n // max(1, processes * 4) or 1))
    jobs = [(protocol, seed, s, min(chunk, n - s), show) for s in range(0, n, chunk)]
    total, bad = 0, []
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(processes) as pool:
        for done, found in pool.imap_unordered(run_chunk, jobs):
            total += done
            bad += found
            print(
                f"\r{protocol}: {total:,}/{n:,} inputs, {len(bad):,} disagreements, "
                f"{time.perf_counter() - t0:,.0f}s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    bad.sort()
    for i, text, what in bad[:show]:
        print(f"  #{i} {text!r}\n      {what}")
    print(f"protocol={protocol}: {total:,} inputs, {len(bad):,} disagreements (seed {seed})")
    return len(bad)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=1_000_000, help="inputs per protocol (default 1,000,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--protocol", choices=["tl", "bfcl", "both"], default="both")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--show", type=int, default=10, help="disagreements to print per protocol")
    args = p.parse_args()
    if args.n < 1:
        p.error(f"-n must be positive, got {args.n}")
    protocols = ["tl", "bfcl"] if args.protocol == "both" else [args.protocol]
    bad = sum(fuzz(proto, args.n, args.seed, args.processes, args.show) for proto in protocols)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
