"""Vendors a deterministic sample of the RoTLLaMA trajectories into tl_fast/assets/data/.

    .venv/bin/python scripts/vendor_data.py \
        --source /work/shared/data/rotllama_train/rotllama_gpt4_trajectories.jsonl.gz

Selection: records are ordered by sha256 of their id; the first --n whose user query does not match any
RoTBench First_Turn query (rule "near", tl_fast.data.decontam) are kept, plus the first --malformed
records that tl_fast.data cannot parse (so the counting of skipped records is exercised on real data).
Lines are copied byte-identical, in source order, into a gzip file with mtime 0: reruns give the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
from pathlib import Path

from tl_fast.data.decontam import decontaminate, load_eval_queries
from tl_fast.data.formats import MalformedRecord, parse_record

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tl_fast" / "assets" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="rotllama_gpt4_trajectories.jsonl.gz")
    ap.add_argument("--rotbench", default=str(REPO / "tl_fast/assets/benchmarks/rotbench/First_Turn"))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--malformed", type=int, default=3)
    args = ap.parse_args()

    with gzip.open(args.source, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    queries = load_eval_queries(sorted(Path(args.rotbench).glob("*.json*")))
    order = sorted(
        range(len(lines)), key=lambda i: hashlib.sha256(json.loads(lines[i])["id"].encode()).hexdigest()
    )
    keep, good, bad = [], 0, 0
    for i in order:
        try:
            traj, _ = parse_record(json.loads(lines[i]))
        except MalformedRecord:
            if bad < args.malformed:
                keep.append(i)
                bad += 1
            continue
        if good < args.n and decontaminate([traj], queries, rule="near")[1].removed == 0:
            keep.append(i)
            good += 1
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "rotllama_sample.jsonl.gz"
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(lines[i] + "\n" for i in sorted(keep)).encode("utf-8"))
    license_src = Path(args.source).with_name("LICENSE_Apache-2.0.txt")
    shutil.copyfile(license_src, OUT / "LICENSE_Apache-2.0.txt")
    print(
        f"wrote {target.relative_to(REPO)}: {good} trajectories + {bad} malformed, "
        f"{target.stat().st_size} bytes"
    )


if __name__ == "__main__":
    main()
