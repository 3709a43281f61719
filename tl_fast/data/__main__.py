"""python -m tl_fast.data: raw trajectories to a tokenized, PKT-weighted SFT dataset, with a count table.

    python -m tl_fast.data prepare --output runs/sft_data          # vendored sample, shipped tokenizer
    python -m tl_fast.data prepare --data train.jsonl.gz --tokenizer meta-llama/Llama-3.2-1B --output out \\
        --render-call-style json --render-chat-template tokenizer --max-length 2048 --num-proc 8
    python -m tl_fast.data show --output runs/sft_data --index 3   # one sample's tokens and weights

`prepare` takes the trainer's flags for the data, mae, render and pkt sections (same names, same defaults:
decontamination against the shipped evaluation sets is on), prints the data summary, and writes
`--output`/dataset (`datasets.save_to_disk`), report.json and report.md. The folder appears only when
complete; an existing one is replaced only with --overwrite. A mistake you can fix is one line on stderr
with exit status 2.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from tl_fast._cli import UserError, check_model_path, run_cli
from tl_fast._flags import DocFormatter, FlagParser, add_section, field_specs, given_values

PROG = "python -m tl_fast.data"
SECTIONS = ("data", "mae", "render", "pkt")  # the trainer's sections that prepare shares


def _specs():
    from tl_fast.train.config import SECTIONS as TRAIN_SECTIONS

    return {n: (field_specs(n, k, p), t, k) for n, k, p, t in TRAIN_SECTIONS if n in SECTIONS}


def _renamed(specs) -> dict[str, str]:
    """Old prepare flag -> the shared name (--w-max -> --pkt-w-max, ...), for the unknown-flag message."""
    out = {"--input": "--data", "--format": "--data-format"}
    for name in ("mae", "render", "pkt"):
        for spec in specs[name][0].values():
            old = "--" + spec.flag[len(f"--{name}-") :]
            out[old] = spec.flag
            if spec.kind == "bool":
                out["--no-" + old[2:]] = "--no-" + spec.flag[2:]
    return out


def build_parser() -> FlagParser:
    specs = _specs()
    parser = FlagParser(prog=PROG, description=__doc__, formatter_class=DocFormatter, renamed=_renamed(specs))
    parser.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=FlagParser)
    p = sub.add_parser(
        "prepare",
        help="trajectories -> MAE -> render -> tokenize -> PKT weights -> dataset",
        usage=f"{PROG} prepare --output DIR [flags]",
        renamed=_renamed(specs),
    )
    own = p.add_argument_group("prepare")
    own.add_argument("--output", required=True, help="folder for dataset/, report.json, report.md")
    own.add_argument(
        "--overwrite", action="store_true", help="replace an --output that holds a prepared dataset"
    )
    own.add_argument(
        "--tokenizer", default=None, help="tokenizer folder or Hub id (default: the shipped one)"
    )
    own.add_argument("--num-proc", type=int, default=None, help="processes for datasets.map (default: 1)")
    own.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    for name, (section, title, _) in specs.items():
        add_section(p, section, name, title)
    p.set_defaults(func=prepare)
    s = sub.add_parser("show", help="print one prepared sample's trained tokens and weights")
    s.add_argument("--output", required=True, help="a folder prepare wrote")
    s.add_argument("--index", type=int, default=0)
    s.add_argument("--tokenizer", default=None, help="default: the one prepare used")
    s.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    s.set_defaults(func=show)
    return parser


def _is_prepared(path: Path) -> bool:
    return (path / "report.json").is_file() and (path / "dataset").is_dir()


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--output {out}: is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not _is_prepared(out):
        raise UserError(f"--output {out} exists and holds other files; choose a new or empty folder")
    if not overwrite:
        raise UserError(f"--output {out} already holds a prepared dataset; pass --overwrite to replace it")


def prepare(args) -> int:
    from tl_fast.data import SHIPPED_TOKENIZER
    from tl_fast.data.pipeline import data_source, read_samples, renderable, tokenizer_context
    from tl_fast.data.summary import DataSummary

    specs = _specs()
    configs = {}
    for name, (section, _, klass) in specs.items():
        try:
            configs[name] = klass(**given_values(args, section))
        except ValueError as exc:
            raise UserError(f"{name}: {exc}") from None
    data_cfg, mae_cfg, render_cfg, pkt_cfg = (configs[n] for n in SECTIONS)
    tokenizer_path = (
        check_model_path(args.tokenizer, "--tokenizer") if args.tokenizer else str(SHIPPED_TOKENIZER)
    )
    out = Path(args.output).expanduser()
    _check_output(out, args.overwrite)

    summary = DataSummary(data_source(data_cfg))
    samples = read_samples(data_cfg, mae_cfg, summary)
    tokenizer = _load_tokenizer(tokenizer_path)
    samples = renderable(samples, render_cfg, tokenizer, summary)

    from tl_fast.data.pkt import build_sft_dataset

    ds = build_sft_dataset(samples, tokenizer, render_cfg, pkt_cfg, num_proc=args.num_proc)
    max_length = data_cfg.max_length if data_cfg.max_length is not None else tokenizer_context(tokenizer)
    lengths = [len(ids) for ids in ds["input_ids"]]
    summary.over_length(lengths, max_length)
    keep = [i for i, n in enumerate(lengths) if not max_length or n <= max_length]
    ds = ds.select(keep)
    summary.add("tokens out", sum(lengths[i] for i in keep))
    print(summary.table(), flush=True)
    for line in summary.warnings:
        print(line, file=sys.stderr, flush=True)

    config = {
        "data": str(data_cfg.data or summary.source),
        "tokenizer": str(tokenizer_path),
        "max_length": max_length,
        **{name: _plain(configs[name]) for name in SECTIONS},
    }
    counts = summary.counts
    # Written next to --output and moved into place when complete: an interrupted prepare leaves no
    # half-written dataset behind, and --overwrite drops the old one only once the new one is there.
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        ds.save_to_disk(str(tmp / "dataset"))
        (tmp / "report.json").write_text(json.dumps({"config": config, "counts": counts}, indent=2) + "\n")
        (tmp / "report.md").write_text(
            "| count | n |\n|---|---:|\n" + "".join(f"| {k} | {v} |\n" for k, v in counts.items())
        )
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"saved {out / 'dataset'} and {out / 'report.md'}")
    return 0


def _plain(cfg) -> dict:
    from dataclasses import asdict

    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--tokenizer {path}: cannot load a tokenizer ({str(exc).splitlines()[0]})") from None


def show(args) -> int:
    out = Path(args.output).expanduser()
    if not _is_prepared(out):
        raise UserError(f"--output {out}: not a folder written by {PROG} prepare (no report.json + dataset/)")
    import datasets

    from tl_fast.data.pkt import show_weights

    ds = datasets.load_from_disk(str(out / "dataset"))
    if not 0 <= args.index < len(ds):
        raise UserError(f"--index {args.index}: the dataset has {len(ds)} samples (0..{len(ds) - 1})")
    tokenizer = _load_tokenizer(
        args.tokenizer or json.loads((out / "report.json").read_text())["config"]["tokenizer"]
    )
    print(show_weights(ds[args.index], tokenizer))
    return 0


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
