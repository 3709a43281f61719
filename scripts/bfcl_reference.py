"""BFCL's own verdicts on FC-mode and relevance answers, for tl_fast's parity tests.

    pip download bfcl-eval==2026.3.23 --no-deps -d /tmp/bfcl && unzip -q /tmp/bfcl/*.whl -d /tmp/bfcl/src
    python scripts/bfcl_reference.py --bfcl-src /tmp/bfcl/src \
        --output tests/reward/data/bfcl_reference.jsonl.gz

No FC-mode model outputs with BFCL verdicts are public, and none at all for the relevance categories, so
the answers are made here and judged by BFCL's unchanged code (bfcl-eval on PyPI, whose data files equal
the vendored ones):

- FC-mode AST answers: each gemma4 prompt-mode output of tests/reward/data/bfcl_gemma4_verdicts.jsonl.gz,
  decoded by BFCL's prompt decoder and written as an OpenAI-style FC model's result would be stored
  ([{"name_with_dots_as_underscores": "<JSON arguments>"}], or the text when it does not decode); some are
  then broken on purpose (cut JSON, non-dict arguments, empty, text lists, ints written as floats, ...).
- relevance answers: for every irrelevance / live_irrelevance / live_relevance question, one answer of six
  kinds (refusal, a call of an offered function, an empty list, a call of an unoffered one, a cut call, two
  calls), in prompt mode and in FC mode.

Each row is judged by eval_runner._evaluate_single_ast_entry / _evaluate_single_relevance_entry with
OpenAICompletionsHandler.decode_ast (is_fc_model true for FC rows), for a model whose underscore_to_dot is
the row's. Only the model-config table, which imports every provider SDK, is replaced by a small stand-in;
modules the Python AST path never calls (tree-sitter for Java/JS, retry and dotenv helpers) are stubbed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEMMA4 = ROOT / "tests" / "reward" / "data" / "bfcl_gemma4_verdicts.jsonl.gz"
QUESTIONS = ROOT / "tl_fast" / "assets" / "benchmarks" / "bfcl"
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
MODELS = {"fc-dots": (True, True), "fc": (True, False), "prompt": (False, False)}  # is_fc, underscore_to_dot


@dataclass
class _Config:
    model_name: str
    display_name: str = ""
    is_fc_model: bool = True
    underscore_to_dot: bool = False
    model_handler: object = None


class _Any:
    """Stand-in for the objects of stubbed modules (never called on the Python AST path)."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Any()

    def __getattr__(self, name):
        return _Any()


def _stub(name: str) -> None:
    module = types.ModuleType(name)
    module.__path__ = []

    def attr(key):
        if key.startswith("__"):
            raise AttributeError(key)
        if key in ("final", "override", "overrides"):
            return lambda f: f
        return _Any

    module.__getattr__ = attr
    sys.modules[name] = module


def load_bfcl(src: Path):
    sys.path.insert(0, str(src))
    table = types.ModuleType("bfcl_eval.constants.model_config")
    table.ModelConfig = _Config
    table.MODEL_CONFIG_MAPPING = {
        name: _Config(name, is_fc_model=fc, underscore_to_dot=dots) for name, (fc, dots) in MODELS.items()
    }
    sys.modules["bfcl_eval.constants.model_config"] = table
    for name in ("tree_sitter", "tree_sitter_java", "tree_sitter_javascript", "tenacity", "overrides"):
        _stub(name)
    _stub("dotenv")
    import bfcl_eval.eval_checker.eval_runner as runner
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler
    from bfcl_eval.model_handler.utils import default_decode_ast_prompting

    def handler(model: str):
        h = object.__new__(OpenAICompletionsHandler)  # no client: decode_ast needs only is_fc_model
        h.model_name, h.is_fc_model = model, MODELS[model][0]
        return h

    def ast_verdict(model, row_id, result, gold, functions, category):
        entry = {"id": row_id, "function": functions}
        r = runner._evaluate_single_ast_entry(
            handler(model), row_id, result, gold, entry, model, category,
            language=Language.PYTHON, return_format=ReturnFormat.PYTHON,
        )  # fmt: skip
        return r["valid"], r.get("error_type")

    def relevance_verdict(model, row_id, result, functions, category):
        entry = {"id": row_id, "function": functions}
        r = runner._evaluate_single_relevance_entry(handler(model), row_id, result, entry, model, category)
        return r["valid"], r.get("error_type")

    return default_decode_ast_prompting, ast_verdict, relevance_verdict


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _as_floats(v):
    if isinstance(v, bool) or not isinstance(v, (int, dict, list)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dict):
        return {k: _as_floats(x) for k, x in v.items()}
    return [_as_floats(x) for x in v]


def _break(k: int, calls: list[tuple[str, dict]]):
    """The k-th kind of broken FC result made from decoded calls (None: leave this row as it is)."""
    name, args = calls[0]
    text = json.dumps(args)
    kinds = [
        lambda: [{name: text[:-1]}],  # JSON cut short: json.loads raises
        lambda: [{name: "[1, 2]"}],  # arguments not an object: wrong output format
        lambda: [{name: args}],  # an object, not a string: json.loads raises TypeError
        lambda: "",  # an empty text message decodes to []
        lambda: [],
        lambda: ["I would call " + name],  # a text answer kept as a list of strings
        lambda: [{}],  # IndexError
        lambda: [{name: text, "extra": "{}"}],  # BFCL reads the first key only
        lambda: [{name: json.dumps(_as_floats(args))}],  # 3 -> 3.0
        lambda: [{name: " " + text.replace(": ", ":") + "\n"}],  # whitespace around the JSON
        lambda: [{name: text}, {name: text}],  # one call too many
        lambda: [{name: text[:-1] + ', "zz": 1}' if args else '{"zz": 1}'}],  # an unexpected parameter
    ]
    return kinds[k % len(kinds)]()


def fc_ast_rows(decode, ast_verdict) -> list[dict]:
    rows = []
    for n, row in enumerate(_read_jsonl(GEMMA4)):
        try:
            decoded = decode(row["result"])
            calls = [next(iter(c.items())) for c in decoded]
            json.dumps([a for _, a in calls], allow_nan=False)
        except Exception:  # BFCL cannot decode it: an FC model would have answered with this text
            calls = None
        variants = []
        if calls is None:
            variants.append(("fc-dots", row["result"]))
        else:
            underscored = [{name.replace(".", "_"): json.dumps(args)} for name, args in calls]
            dotted = [{name: json.dumps(args)} for name, args in calls]
            variants.append(("fc-dots", underscored))
            if n % 5 == 0:
                variants.append(("fc", dotted))
            if n % 7 == 0:
                variants.append(("fc-dots", dotted))  # dots kept although the model's config maps them
            if n % 3 == 0 and calls:
                variants.append(("fc-dots", _break(n // 3, [(c.replace(".", "_"), a) for c, a in calls])))
        for model, result in variants:
            valid, error_type = ast_verdict(
                model, row["id"], result, row["ground_truth"], row["function"], row["category"]
            )
            rows.append(_row(row["id"], row["category"], model, result, valid, error_type))
    return rows


def _placeholder(spec: dict):
    kind = spec.get("type")
    return {"integer": 1, "float": 1.5, "boolean": True, "array": [], "dict": {}, "tuple": []}.get(kind, "x")


def _call_args(function: dict) -> dict:
    params = function.get("parameters", {})
    props = params.get("properties", {})
    return {k: _placeholder(props.get(k, {})) for k in params.get("required", []) if k in props}


def _py_call(name: str, args: dict) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


def relevance_rows(relevance_verdict) -> list[dict]:
    rows = []
    for category in RELEVANCE:
        for n, q in enumerate(_read_jsonl(QUESTIONS / f"BFCL_v4_{category}.json.gz")):
            functions = q["function"]  # a few live_irrelevance questions offer no function at all
            first, last = (functions[0], functions[-1]) if functions else ({"name": "search"},) * 2
            fa, la = _call_args(first), _call_args(last)
            for mode in ("prompt", "fc"):
                kind = (n + (mode == "fc") * 3) % 6
                if mode == "prompt":
                    result = [
                        "I cannot help with that using the functions I have.",
                        f"[{_py_call(first['name'], fa)}]",
                        "[]",
                        "[lookup_answer(query='anything')]",
                        f"[{_py_call(first['name'], fa)[:-1]}",
                        f"[{_py_call(first['name'], fa)}, {_py_call(last['name'], la)}]",
                    ][kind]
                    model = "prompt"
                else:
                    u = lambda f: f["name"].replace(".", "_")  # noqa: E731
                    result = [
                        "None of the functions can answer this.",
                        [{u(first): json.dumps(fa)}],
                        [],
                        [{"lookup_answer": '{"query": "anything"}'}],
                        [{u(first): json.dumps(fa)[:-1]}],
                        [{u(first): json.dumps(fa)}, {u(last): json.dumps(la)}],
                    ][kind]
                    model = "fc-dots"
                valid, error_type = relevance_verdict(model, q["id"], result, functions, category)
                rows.append(_row(q["id"], category, model, result, valid, error_type))
    return rows


def _row(row_id, category, model, result, valid, error_type) -> dict:
    fc, dots = MODELS[model]
    return {
        "id": row_id,
        "category": category,
        "mode": "fc" if fc else "prompt",
        "underscore_to_dot": dots,
        "result": result,
        "valid": valid,
        "error_type": error_type,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bfcl-src", type=Path, required=True, help="folder holding bfcl_eval/")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    decode, ast_verdict, relevance_verdict = load_bfcl(args.bfcl_src)
    rows = fc_ast_rows(decode, ast_verdict) + relevance_rows(relevance_verdict)
    with open(args.output, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        for row in rows:
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    labels: dict[str, int] = {}
    for row in rows:
        key = f"{row['mode']}:{row['error_type'] or 'valid'}"
        labels[key] = labels.get(key, 0) + 1
    print(f"{len(rows)} rows -> {args.output}")
    for key, count in sorted(labels.items(), key=lambda kv: -kv[1]):
        print(f"  {count:6d}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
