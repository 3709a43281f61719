"""python -m tl_fast.eval — score a tool-using model on RoTBench, BFCL or ToolAlpaca.

    python -m tl_fast.eval --benchmark rotbench --model out/ppo --output runs/rotbench.json
    python -m tl_fast.eval --benchmark bfcl --split simple_python,live_simple --predictions preds.jsonl
    python -m tl_fast.eval --benchmark rotbench --split clean --official-parity --predictions preds.jsonl

--predictions reads JSONL lines {"id", "prediction"} (BFCL result files, {"id", "result"}, work as they are,
prompt or FC mode: --bfcl-mode).
--output writes the JSON report and, beside it, the same tables as markdown (FILE with suffix .md); the
markdown is printed either way. Protocols: docs/eval.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tl_fast.eval import BENCHMARKS, evaluate, to_markdown


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tl_fast.eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS))
    p.add_argument(
        "--split",
        default=None,
        help="comma-separated splits; 'all' for every one. Defaults: rotbench all five noise levels, "
        "bfcl all eight categories, toolalpaca eval_real",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="checkpoint directory or hub id (a peft adapter is merged)")
    src.add_argument(
        "--predictions", type=Path, help="JSONL of {'id', 'prediction'} to score without a model"
    )
    p.add_argument("--output", type=Path, help="write the JSON report here (and FILE.md)")
    p.add_argument(
        "--official-parity",
        action="store_true",
        help="rotbench: reproduce upstream evaluate.py exactly, including its skip of {} inputs",
    )
    p.add_argument(
        "--bfcl-mode",
        choices=("auto", "prompt", "fc"),
        default="auto",
        help="bfcl: how results are read: prompt-mode text, or function-calling (FC) results "
        "([{name: JSON arguments}], OpenAI tool calls); auto picks FC when a prediction holds such JSON",
    )
    p.add_argument(
        "--bfcl-underscore-to-dot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bfcl: BFCL's per-model flag: tool 'a.b' is expected as 'a_b' (default: on in FC mode, as for "
        "OpenAI-style models; off in prompt mode)",
    )
    p.add_argument("--limit", type=int, help="score only the first N items of each split (quick runs)")
    p.add_argument("--data-dir", type=Path, help="benchmark files root (default: the vendored copies)")
    gen = p.add_argument_group("generation (with --model)")
    gen.add_argument("--batch-size", type=int, default=16)
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--dtype", default="auto", help="auto, bfloat16, float16 or float32")
    gen.add_argument("--call-style", default="python", help="RenderConfig.call_style used in training")
    gen.add_argument("--tool-style", default="python", help="RenderConfig.tool_style used in training")
    gen.add_argument("--chat-template", default="paper", help="RenderConfig.chat_template used in training")
    gen.add_argument("--save-predictions", type=Path, help="write the generated texts as preds JSONL")
    return p


def read_predictions(path: Path, bfcl_mode: str = "auto") -> dict[str, Any]:
    """{id: prediction}; JSON values (BFCL FC results, OpenAI messages) are kept as they are. In a BFCL
    result file of FC layout (a list result, or --bfcl-mode fc) a text result is the model's message."""
    preds: dict[str, Any] = {}
    results: list[str] = []  # ids read from BFCL's "result" field
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        key = "prediction" if "prediction" in record else "result"
        if "id" not in record or key not in record:
            raise ValueError(
                f"{path}:{n}: expected an object with 'id' and 'prediction', got keys {sorted(record)}"
            )
        preds[str(record["id"])] = record[key]
        if key == "result":
            results.append(str(record["id"]))
    fc_layout = bfcl_mode == "fc" or any(not isinstance(preds[k], str) for k in results)
    if fc_layout and bfcl_mode != "prompt":
        from tl_fast.eval.bfcl import text_message

        for k in results:
            if isinstance(preds[k], str):
                preds[k] = text_message(preds[k])
    return preds


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model and args.bfcl_mode == "fc":
        parser.error("--bfcl-mode fc reads stored FC results (--predictions); generated text is prompt mode")
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.model:
        from tl_fast.data.config import RenderConfig
        from tl_fast.eval.generate import STOP_STRINGS, generate, load_model, render_prompt

        model, tokenizer = load_model(args.model, dtype=args.dtype)
        render = RenderConfig(
            call_style=args.call_style, tool_style=args.tool_style, chat_template=args.chat_template
        )

        def generate_fn(items):
            prompts = [render_prompt(item, tokenizer, render) for item in items]
            texts = generate(
                model,
                tokenizer,
                prompts,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                stop=STOP_STRINGS,
                progress=sys.stderr.isatty(),
            )
            if args.benchmark == "bfcl":
                from tl_fast.eval.bfcl import to_bfcl_syntax

                texts = [to_bfcl_syntax(t) for t in texts]
            if args.save_predictions:
                with args.save_predictions.open("w", encoding="utf-8") as f:
                    for item, text in zip(items, texts, strict=True):
                        f.write(json.dumps({"id": item.id, "prediction": text}, ensure_ascii=False) + "\n")
            return texts

        report = evaluate(
            args.benchmark,
            generate_fn=generate_fn,
            splits=args.split,
            data_dir=args.data_dir,
            official_parity=args.official_parity,
            limit=args.limit,
            config=config,
        )
    else:
        report = evaluate(
            args.benchmark,
            predictions=read_predictions(args.predictions, args.bfcl_mode),
            splits=args.split,
            data_dir=args.data_dir,
            official_parity=args.official_parity,
            limit=args.limit,
            config=config,
            bfcl_mode=args.bfcl_mode,
            underscore_to_dot=args.bfcl_underscore_to_dot,
        )
    markdown = to_markdown(report)
    print(markdown)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
