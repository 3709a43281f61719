"""python -m tl_fast.eval — score a tool-using model on RoTBench, BFCL or ToolAlpaca.

    python -m tl_fast.eval --benchmark rotbench --model runs/x/final/policy --output runs/rotbench.json
    python -m tl_fast.eval --benchmark bfcl --endpoint http://127.0.0.1:8000/v1 --served-model NAME \
        --mode chat --output runs/bfcl.json            # any OpenAI-compatible server; --resume continues
    python -m tl_fast.eval --benchmark bfcl --split simple_python,live_simple --predictions preds.jsonl
    python -m tl_fast.eval --benchmark rotbench --split clean --official-parity --predictions preds.jsonl

The answers come from one of --model (generated here), --endpoint (asked of a server) or --predictions
(JSONL lines {"id", "prediction"}; BFCL result files, {"id", "result"}, work as they are, prompt or FC mode:
--bfcl-mode). --mode completions sends the prompt rendered as in training; --mode chat sends messages with the
benchmark's tools (function calling; BFCL's FC mode). --output writes the JSON report, the same tables as
markdown (FILE with suffix .md) and, with --endpoint, the raw responses (FILE with suffix .responses.jsonl);
the markdown is printed either way. Protocols: docs/eval.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tl_fast._cli import DTYPE_CHOICES, UserError, check_device, check_model_path, dtype_name, run_cli
from tl_fast.eval import BENCHMARKS, evaluate, load_items, to_markdown
from tl_fast.eval.predictions import read_predictions
from tl_fast.eval.report import summary_line

PROG = "python -m tl_fast.eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS))
    p.add_argument(
        "--split",
        default=None,
        help="comma-separated splits; 'all' for every one. Defaults: rotbench all five noise levels, "
        "bfcl all eight categories, toolalpaca eval_real",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="checkpoint folder or hub id (a peft adapter is merged into its base)")
    src.add_argument(
        "--endpoint", help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
    )
    src.add_argument(
        "--predictions", type=Path, help="JSONL of {'id', 'prediction'} to score without a model"
    )
    p.add_argument("--output", type=Path, help="write the JSON report here (and FILE.md)")
    p.add_argument(
        "--mode",
        choices=("completions", "chat"),
        default="completions",
        help="completions: the training prompt as text; chat: messages + tools= (function calling), the "
        "answer read from tool_calls, else content",
    )
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
    p.add_argument("--save-predictions", type=Path, help="write the answers as predictions JSONL")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors too")
    gen = p.add_argument_group("answers (with --model or --endpoint)")
    gen.add_argument("--max-new-tokens", type=int, default=256, help="answer length cap (max_tokens)")
    gen.add_argument("--call-style", default="python", help="RenderConfig.call_style used in training")
    gen.add_argument("--tool-style", default="python", help="RenderConfig.tool_style used in training")
    gen.add_argument("--chat-template", default="paper", help="RenderConfig.chat_template used in training")
    local = p.add_argument_group("in-process generation (with --model)")
    local.add_argument("--batch-size", type=int, default=16)
    local.add_argument("--dtype", default="auto", help=DTYPE_CHOICES + "; auto = bf16 on CUDA, fp32 on CPU")
    local.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    local.add_argument(
        "--base-model", help="base model of a LoRA adapter --model (when its config names none)"
    )
    srv = p.add_argument_group("served model (with --endpoint)")
    srv.add_argument("--served-model", help="the model name the server knows (default: the one it lists)")
    srv.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    srv.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    srv.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    srv.add_argument("--retries", type=int, default=3, help="retries on connection errors, 429 and 5xx")
    srv.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds (doubles)")
    srv.add_argument("--temperature", type=float, default=0.0)
    srv.add_argument(
        "--stop",
        default="default",
        help="'default' (the next-turn markers), 'none', or a JSON list of strings",
    )
    srv.add_argument(
        "--request-param",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="extra request field, e.g. top_p=1 or seed=0 (repeatable; KEY=null drops a field)",
    )
    srv.add_argument("--tokenizer", help="tokenizer to render --chat-template tokenizer prompts with")
    srv.add_argument("--resume", action="store_true", help="continue from the saved responses; never re-ask")
    return p


def _check_args(args: argparse.Namespace) -> None:
    module = BENCHMARKS[args.benchmark]
    if args.split not in (None, "all"):
        unknown = [s.strip() for s in args.split.split(",") if s.strip() and s.strip() not in module.SPLITS]
        if unknown or not args.split.strip(","):
            raise UserError(f"--split {args.split}: expected 'all' or some of {', '.join(module.SPLITS)}")
    if (args.model or args.endpoint) and args.bfcl_mode != "auto":
        if args.bfcl_mode == "fc" and args.mode == "completions":
            raise UserError(
                "--bfcl-mode fc reads stored FC results (--predictions); generated text is prompt mode"
            )
        raise UserError(
            "--bfcl-mode applies to --predictions; --mode chat is BFCL's FC mode, completions prompt"
        )
    if args.official_parity and args.benchmark != "rotbench":
        raise UserError("--official-parity applies to --benchmark rotbench only")
    for flag in ("limit", "batch_size", "max_new_tokens", "concurrency"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} {value}: expected a positive integer")
    if args.timeout <= 0 or args.retries < 0 or args.backoff < 0:
        raise UserError("--timeout must be > 0, --retries and --backoff >= 0")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UserError(f"--data-dir {args.data_dir}: no such folder")
    if args.resume and not args.endpoint:
        raise UserError("--resume applies to --endpoint runs (their saved responses)")
    if args.endpoint and args.output is None:
        raise UserError("--endpoint needs --output FILE.json: raw responses are saved beside it for --resume")
    if args.model:
        args.model = check_model_path(args.model)
        args.dtype = dtype_name(args.dtype)
        args.device = check_device(args.device)
        if args.base_model:
            args.base_model = check_model_path(args.base_model, "--base-model")
    if args.mode == "chat" and args.predictions:
        raise UserError("--mode applies to --model and --endpoint; predictions are scored as they are")


def _finish(benchmark: str, mode: str, answer: Any) -> Any:
    """An answer as the benchmark's scorer takes it: on BFCL a completion becomes its bracketed call list
    (prompt mode), a chat answer is the assistant message (FC mode)."""
    if answer is None or benchmark != "bfcl":
        return answer
    if mode == "chat":
        from tl_fast.eval.chat import fc_message

        return fc_message(answer if isinstance(answer, dict) else {"content": answer})
    from tl_fast.eval.bfcl import to_bfcl_syntax

    return to_bfcl_syntax(answer)


def _stop_strings(args: argparse.Namespace) -> list[str]:
    from tl_fast.eval.stops import STOP_STRINGS

    if args.stop == "default":
        return list(STOP_STRINGS)
    if args.stop == "none":
        return []
    try:
        stop = json.loads(args.stop)
    except json.JSONDecodeError:
        stop = None
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise UserError(f"--stop {args.stop!r}: expected 'default', 'none' or a JSON list of strings")
    return stop


def _render_config(args: argparse.Namespace):
    from tl_fast.data.config import RenderConfig

    try:
        return RenderConfig(
            call_style=args.call_style, tool_style=args.tool_style, chat_template=args.chat_template
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _generate_in_process(args, items, notes: list[str], missing_notes: dict[str, str]) -> list[str | None]:
    from tl_fast.eval.generate import generate, load_model, model_context, render_chat_prompt, render_prompt

    model, tokenizer = load_model(
        args.model, dtype=args.dtype, device=args.device, base_model=args.base_model
    )
    if args.mode == "chat":
        prompts = [render_chat_prompt(args.benchmark, item, tokenizer) for item in items]
    else:
        render = _render_config(args)
        prompts = [render_prompt(item, tokenizer, render) for item in items]
    context, stats = model_context(model), {}
    texts = generate(
        model,
        tokenizer,
        prompts,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        stop=_stop_strings(args),
        progress=True,
        context=context,
        stats=stats,
    )
    if stats["skipped"]:
        for i in stats["skipped"]:
            missing_notes[items[i].id] = f"prompt of {stats['lengths'][i]} tokens does not fit the context"
        notes.append(
            f"{len(stats['skipped'])} prompts are longer than the model's context ({context} tokens) and "
            "were skipped (outcome 'missing')"
        )
    if stats["shortened"]:
        notes.append(
            f"{len(stats['shortened'])} prompts left fewer than --max-new-tokens {args.max_new_tokens} for "
            f"the answer within the model's context ({context} tokens); those answers stop at its end"
        )
    return texts


def _request_params(args: argparse.Namespace) -> dict:
    params = {"max_tokens": args.max_new_tokens, "temperature": args.temperature}
    stop = _stop_strings(args)
    if stop:
        params["stop"] = stop
    for pair in args.request_param:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--request-param {pair!r}: expected KEY=JSON, e.g. top_p=1")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word is a string
        if key.strip() in ("model", "prompt", "messages", "tools"):
            raise UserError(f"--request-param {key}: set by the evaluator, not a request parameter")
        params[key.strip()] = value
    return {k: v for k, v in params.items() if v is not None}


def _ask_endpoint(args, items, notes: list[str], missing_notes: dict[str, str]) -> tuple[list, dict]:
    from tl_fast.eval.endpoint import Client, ResponsesFile, preflight

    key = os.environ.get(args.api_key_env) or None
    if key is None and args.api_key_env != "OPENAI_API_KEY":
        raise UserError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    if args.mode == "completions" and args.chat_template == "tokenizer" and not args.tokenizer:
        raise UserError("--chat-template tokenizer with --endpoint needs --tokenizer PATH to render prompts")
    client = Client(args.endpoint, api_key=key, timeout_s=args.timeout)
    served = preflight(client, args.served_model)
    params = _request_params(args)
    header = {"benchmark": args.benchmark, "mode": args.mode, "served_model": served, "request": params}
    if args.mode == "completions":
        header["render"] = {
            "call_style": args.call_style,
            "tool_style": args.tool_style,
            "chat_template": args.chat_template,
        }
    # checked before torch is imported (prompt rendering), so a refused run fails at once
    store = ResponsesFile.open(
        args.output.with_suffix(".responses.jsonl"), {**header, "endpoint": client.base}, resume=args.resume
    )
    try:
        texts, info = _ask(args, items, client, served, params, store, notes, missing_notes)
    finally:
        store.close()
    info["api_key_env"] = args.api_key_env if key else None
    return texts, info


def _ask(args, items, client, served, params, store, notes, missing_notes) -> tuple[list, dict]:
    from tl_fast.eval.chat import chat_request, fc_message
    from tl_fast.eval.endpoint import count_errors, response_text, run_requests
    from tl_fast.eval.generate import render_prompt
    from tl_fast.eval.stops import cut_at_stop

    tokenizer = render = None
    if args.mode == "completions":
        render = _render_config(args)
        if render.chat_template == "tokenizer":
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(check_model_path(args.tokenizer, "--tokenizer"))
    requests = {item.id: chat_request(args.benchmark, item) for item in items} if args.mode == "chat" else {}
    bodies = {}
    for item in items:
        if item.id in store.answered:
            continue
        if args.mode == "chat":
            bodies[item.id] = {
                "model": served,
                "messages": requests[item.id].messages,
                "tools": requests[item.id].tools,
                **params,
            }
        else:
            bodies[item.id] = {
                "model": served,
                "prompt": _server_prompt(render_prompt(item, tokenizer, render), tokenizer),
                **params,
            }
    resumed = sum(item.id in store.answered for item in items)
    if args.resume:
        print(
            f"resume: {resumed} of {len(items)} items already answered, asking {len(bodies)}", file=sys.stderr
        )
    records = run_requests(
        client,
        "/chat/completions" if args.mode == "chat" else "/completions",
        bodies,
        store,
        concurrency=args.concurrency,
        retries=args.retries,
        backoff_s=args.backoff,
    )
    stop = params.get("stop", [])
    texts = []
    for item in items:
        record = store.answered.get(item.id) or records.get(item.id)
        if record is None or "response" not in record:
            missing_notes[item.id] = f"request failed: {record['error']}" if record else "not asked"
            texts.append(None)
            continue
        names = requests[item.id].names if args.mode == "chat" else None
        if args.mode == "chat" and args.benchmark == "bfcl":
            texts.append(fc_message(record["response"]["choices"][0].get("message"), stop))
            continue
        text, from_tool_calls = response_text(args.mode, record["response"], names)
        texts.append(text if from_tool_calls else cut_at_stop(text, stop))
    errors = count_errors(records.values())
    if errors:
        notes.append(f"{errors} requests failed after retries (outcome 'missing'); --resume asks them again")
    info = {
        "url": client.base,
        "served_model": served,
        "mode": args.mode,
        "request": params,
        "asked": len(records),
        "resumed": resumed,
        "errors": errors,
        "retries": sum(max(0, r.get("attempts", 1) - 1) for r in records.values()),
        "responses": str(store.path),
    }
    return texts, info


def _server_prompt(prompt: str, tokenizer) -> str:
    """The prompt without a leading BOS: servers tokenize /v1/completions prompts with the tokenizer's special
    tokens, which adds the BOS exactly where training had it (the rendered text carries it only then)."""
    if tokenizer is not None and tokenizer.bos_token and prompt.startswith(tokenizer.bos_token):
        return prompt[len(tokenizer.bos_token) :]
    return prompt


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    written = []
    notes: list[str] = []
    missing_notes: dict[str, str] = {}
    common = dict(
        splits=args.split,
        data_dir=args.data_dir,
        official_parity=args.official_parity,
        limit=args.limit,
        config=config,
        notes=notes,
        missing_notes=missing_notes,
    )
    if args.predictions:
        preds = read_predictions(args.predictions, args.bfcl_mode)
        report = evaluate(
            args.benchmark,
            predictions=preds,
            source=str(args.predictions),
            bfcl_mode=args.bfcl_mode,
            underscore_to_dot=args.bfcl_underscore_to_dot,
            **common,
        )
    else:
        items = load_items(args.benchmark, args.split, args.data_dir, args.limit)
        extra = {}
        if args.model:
            texts = _generate_in_process(args, items, notes, missing_notes)
        else:
            texts, extra["endpoint"] = _ask_endpoint(args, items, notes, missing_notes)
            written.append(extra["endpoint"]["responses"])
        texts = [_finish(args.benchmark, args.mode, t) for t in texts]
        if args.save_predictions:
            _write_predictions(args.save_predictions, items, texts)
            written.append(str(args.save_predictions))
        # BFCL: chat answers are assistant messages, scored in BFCL's FC mode; completions in prompt mode
        report = evaluate(
            args.benchmark,
            generate_fn=lambda _items: texts,
            extra=extra,
            bfcl_mode="fc" if args.mode == "chat" else "prompt",
            underscore_to_dot=args.bfcl_underscore_to_dot,
            **common,
        )
    markdown = to_markdown(report)
    print(markdown)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
        written = [str(args.output), str(args.output.with_suffix(".md")), *written]
    print(summary_line(report), file=sys.stderr)
    if written:
        print("wrote " + ", ".join(written), file=sys.stderr)
    return 0


def _write_predictions(path: Path, items, texts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item, text in zip(items, texts, strict=True):
            if text is not None:
                f.write(json.dumps({"id": item.id, "prediction": text}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    from tl_fast.eval.endpoint import ServerLost

    try:
        return run_cli(_main, argv, prog=PROG)
    except ServerLost as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; an --endpoint run keeps its saved responses (continue with --resume)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
