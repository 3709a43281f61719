"""python -m tl_fast.data: raw trajectories to a tokenized, PKT-weighted SFT dataset, with a count table.

    python -m tl_fast.data prepare --output runs/sft_data          # vendored sample, shipped tokenizer
    python -m tl_fast.data prepare --input train.jsonl.gz --tokenizer meta-llama/Llama-3.2-1B --output out \
        --eval-sets shipped --call-style json --chat-template tokenizer --max-length 2048 --num-proc 8
    python -m tl_fast.data show --output runs/sft_data --index 3   # one sample's tokens and weights

`prepare` writes the dataset (`datasets.save_to_disk`) plus report.json and report.md with every count:
records in, malformed records per reason, decontaminated trajectories, assistant turns, MAE drops per
reason, samples out. `--strict` stops at the first malformed record and names its index.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from tl_fast.data import SAMPLE_DATA, SHIPPED_TOKENIZER
from tl_fast.data.config import MAEConfig, PKTConfig, RenderConfig


def _add_dataclass_args(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", "")
        if f.type in (bool, "bool"):
            group.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=help_
            )
        else:
            kind = float if f.type in (float, "float") else str
            group.add_argument(
                flag, dest=f.name, type=kind, default=f.default, help=f"{help_} (default: {f.default})"
            )


def _take(cls, args: argparse.Namespace):
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})


def _table(rows: list[tuple[str, int]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:>8}" for k, v in rows)


def prepare(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from tl_fast.data.decontam import decontaminate, load_eval_queries, shipped_eval_files
    from tl_fast.data.formats import load_trajectories
    from tl_fast.data.mae import mae_split
    from tl_fast.data.pkt import build_sft_dataset, drop_long
    from tl_fast.data.render import render_sample

    mae_cfg = _take(MAEConfig, args)
    if args.error_patterns_file:
        lines = Path(args.error_patterns_file).read_text(encoding="utf-8").splitlines()
        mae_cfg.error_patterns = tuple(p for p in lines if p.strip() and not p.startswith("#"))
    render_cfg, pkt_cfg = _take(RenderConfig, args), _take(PKTConfig, args)

    trajectories, load_report = load_trajectories(args.input, format=args.format, strict=args.strict)
    rows = [(f"load: {k}", v) for k, v in load_report.rows()]
    decon = None
    if args.eval_sets:
        files = shipped_eval_files() if args.eval_sets == "shipped" else args.eval_sets.split(",")
        trajectories, decon = decontaminate(trajectories, load_eval_queries(files), rule=args.decontam_rule)
        rows += [(f"decontaminate: {k}", v) for k, v in decon.rows()[1:]]
    samples, mae_report = mae_split(trajectories, mae_cfg)
    rows += [(f"mae: {k}", v) for k, v in mae_report.rows()]

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    renderable, unrenderable = [], 0
    for s in samples:
        try:
            render_sample(s, render_cfg, tokenizer)
        except ValueError:
            unrenderable += 1
            continue
        renderable.append(s)
    rows.append(("render: dropped, not renderable in this call/tool style", unrenderable))
    ds = build_sft_dataset(renderable, tokenizer, render_cfg, pkt_cfg, num_proc=args.num_proc)
    if args.max_length:
        ds, too_long = drop_long(ds, args.max_length, num_proc=args.num_proc)
        rows.append((f"tokenize: dropped, longer than {args.max_length} tokens", too_long))
    rows.append(("SFT samples out", len(ds)))
    rows.append(("tokens out", sum(len(x) for x in ds["input_ids"])))

    out = Path(args.output)
    ds.save_to_disk(str(out / "dataset"))
    config = {
        "input": str(args.input),
        "tokenizer": str(args.tokenizer),
        "mae": dataclasses.asdict(mae_cfg),
        "render": dataclasses.asdict(render_cfg),
        "pkt": dataclasses.asdict(pkt_cfg),
        "eval_sets": args.eval_sets,
    }
    table = _table(rows)
    (out / "report.json").write_text(json.dumps({"config": config, "counts": dict(rows)}, indent=2) + "\n")
    (out / "report.md").write_text(
        "| count | n |\n|---|---:|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
    )
    print(table)
    print(f"saved {out / 'dataset'} and {out / 'report.md'}")
    return 0


def show(args: argparse.Namespace) -> int:
    import datasets
    from transformers import AutoTokenizer

    from tl_fast.data.pkt import show_weights

    out = Path(args.output)
    tokenizer = AutoTokenizer.from_pretrained(
        args.tokenizer or json.loads((out / "report.json").read_text())["config"]["tokenizer"]
    )
    ds = datasets.load_from_disk(str(out / "dataset"))
    print(show_weights(ds[args.index], tokenizer))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_fast.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="trajectories -> MAE -> render -> tokenize -> PKT weights -> dataset")
    p.add_argument(
        "--input", default=str(SAMPLE_DATA), help="json/jsonl(.gz) file or a saved datasets directory"
    )
    p.add_argument("--format", default="auto", choices=["auto", "rotllama", "tl_raw", "openai"])
    p.add_argument("--strict", action="store_true", help="stop at the first malformed record")
    p.add_argument("--tokenizer", default=str(SHIPPED_TOKENIZER), help="HF tokenizer path or name")
    p.add_argument("--output", required=True, help="directory for dataset/, report.json, report.md")
    p.add_argument(
        "--eval-sets", default=None, help="comma-separated eval files, or 'shipped' (decontaminate)"
    )
    p.add_argument("--decontam-rule", default="exact", choices=["exact", "near"])
    p.add_argument("--error-patterns-file", default=None, help="replace the MAE patterns: one regex per line")
    p.add_argument("--max-length", type=int, default=None, help="drop samples longer than this many tokens")
    p.add_argument("--num-proc", type=int, default=None, help="processes for datasets.map")
    _add_dataclass_args(p, MAEConfig, skip=("error_patterns",))
    _add_dataclass_args(p, RenderConfig)
    _add_dataclass_args(p, PKTConfig)
    p.set_defaults(func=prepare)
    s = sub.add_parser("show", help="print one prepared sample's trained tokens and weights")
    s.add_argument("--output", required=True)
    s.add_argument("--index", type=int, default=0)
    s.add_argument("--tokenizer", default=None, help="default: the one prepare used")
    s.set_defaults(func=show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
