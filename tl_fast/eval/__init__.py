"""Evaluation of tool use on RoTBench, BFCL and ToolAlpaca: TS / PI / CF, robustness, error categories.

    python -m tl_fast.eval --benchmark rotbench --model out/ppo --output rotbench.json
    python -m tl_fast.eval --benchmark bfcl --predictions preds.jsonl --output bfcl.json

    from tl_fast.eval import evaluate
    report = evaluate("toolalpaca", predictions={"eval_real_0": "Action: ...", ...})

The protocol of each benchmark is in docs/eval.md and in the docstrings of rotbench.py, bfcl.py and
toolalpaca.py. Data flow: load items -> render prompts (tl_fast.data.render, as in training) -> generate ->
score -> tl_fast.reward.categorize for the error histogram -> report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from tl_fast.eval import bfcl, rotbench, toolalpaca
from tl_fast.eval.metrics import MISSING, EvalItem, ItemResult, first_call, summarize
from tl_fast.eval.predictions import match_predictions
from tl_fast.eval.report import build_report, to_markdown

__all__ = [
    "BENCHMARKS",
    "MISSING",
    "EvalItem",
    "ItemResult",
    "evaluate",
    "gold_predictions",
    "load_items",
    "score",
    "summarize",
    "to_markdown",
]

BENCHMARKS: dict[str, ModuleType] = {"rotbench": rotbench, "bfcl": bfcl, "toolalpaca": toolalpaca}
DEFAULT_SPLITS = {"rotbench": rotbench.SPLITS, "bfcl": bfcl.SPLITS, "toolalpaca": ("eval_real",)}


def _module(benchmark: str) -> ModuleType:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[benchmark]


def load_items(
    benchmark: str,
    splits: str | list[str] | tuple[str, ...] | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
) -> list[EvalItem]:
    """Items of the given splits ("clean,heavy" or a list; None = the default set, "all" = every split).

    `limit` keeps the first N items of each split (quick runs).
    """
    module = _module(benchmark)
    if splits is None or splits == "all":
        splits = DEFAULT_SPLITS[benchmark] if splits is None else module.SPLITS
    elif isinstance(splits, str):
        splits = [s.strip() for s in splits.split(",") if s.strip()]
    return [item for split in splits for item in module.load(split, data_dir)[:limit]]


def gold_predictions(benchmark: str, items: list[EvalItem]) -> dict[str, str]:
    """{id: the gold answer written as a prediction}: a perfect model's output, for sanity checks."""
    return dict(zip((i.id for i in items), _module(benchmark).gold_predictions(items), strict=True))


def score(
    benchmark: str,
    items: list[EvalItem],
    predictions: list[Any],
    *,
    official_parity: bool = False,
    missing_notes: Mapping[str, str] | None = None,
    bfcl_mode: str = "prompt",
    underscore_to_dot: bool | None = None,
) -> list[ItemResult]:
    """Per-item TS/PI/CF (and BFCL verdicts); `official_parity` only applies to RoTBench, `bfcl_mode`
    ("prompt" or "fc") and `underscore_to_dot` to BFCL (see bfcl.score). A prediction that is not a string
    (a JSON value such as a BFCL FC result) is read as its JSON.

    A None prediction is the outcome `missing` (category and error type "missing", wrong on TS/PI/CF) on every
    benchmark; it is not given to the categorizer (where "" would be a right abstention on BFCL's irrelevance
    items). `missing_notes` says why per id (a failed request, ...).
    """
    if official_parity and benchmark != "rotbench":
        raise ValueError("--official-parity applies to rotbench only")
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    present = [k for k, p in enumerate(predictions) if p is not None]
    given = _score_present(
        benchmark,
        [items[k] for k in present],
        [predictions[k] for k in present],
        official_parity,
        bfcl_mode,
        underscore_to_dot,
    )
    scored = iter(given)
    results = []
    for item, prediction in zip(items, predictions, strict=True):
        if prediction is None:
            note = (missing_notes or {}).get(item.id, "no prediction")
            results.append(
                ItemResult(
                    item.id, item.split, item.scenario, False, False, False, "", MISSING, MISSING, note
                )
            )
        else:
            results.append(next(scored))
    return results


def _score_present(
    benchmark: str,
    items: list[EvalItem],
    predictions: list[Any],
    official_parity: bool,
    bfcl_mode: str,
    underscore_to_dot: bool | None,
) -> list[ItemResult]:
    if not items:
        return []
    if benchmark == "bfcl":
        return bfcl.score(items, predictions, mode=bfcl_mode, underscore_to_dot=underscore_to_dot)
    predictions = [bfcl.as_text(p) for p in predictions]
    if benchmark == "rotbench":
        results = rotbench.score(items, predictions, official_parity=official_parity)
    else:
        results = _module(benchmark).score(items, predictions)
    for result, item in zip(results, items, strict=True):
        result.category = categorize_item(benchmark, item, result.prediction)
    return results


def categorize_item(benchmark: str, item: EvalItem, prediction: str) -> str | None:
    """The IRM error category (tl_fast.reward.categorize, protocol="tl") of a RoTBench / ToolAlpaca answer.

    The categorizer compares values exactly, so gold values that accept anything (RoTBench "None", the
    finish / ask-the-user slots, ToolAlpaca placeholders) are first filled with the predicted value; with
    several gold alternatives the best verdict (highest reward) wins.
    """
    from tl_fast.reward import categorize

    pred = first_call(prediction, item.tools)
    pred_args = pred[1] if pred is not None else {}
    golds = []
    if benchmark == "rotbench":
        free_slots = {item.tools[-1]["name"], item.tools[-2]["name"]}
        for alternative in item.gold:
            name, args = rotbench.gold_call(alternative)
            golds.append((name, _fill(args, pred_args, lambda v, n=name: n in free_slots or v == "None")))
    else:
        name, args = toolalpaca.first_gold(item)
        args = {k: v for k, v in args.items() if v != "" or pred_args.get(k) == ""}  # "" = omitted
        is_free = lambda v, n=name: n == toolalpaca.ASK_USER or v == toolalpaca.WILDCARD
        golds.append((name, _fill(args, pred_args, is_free)))
    verdicts = [
        categorize(prediction, item.tools, {"name": n, "arguments": a}, protocol="tl") for n, a in golds
    ]
    return max(verdicts, key=lambda v: v.reward).category


def _fill(
    gold_args: dict[str, Any], pred_args: dict[str, Any], is_free: Callable[[Any], bool]
) -> dict[str, Any]:
    return {k: pred_args[k] if is_free(v) and k in pred_args else v for k, v in gold_args.items()}


def all_item_ids(benchmark: str, data_dir: str | Path | None = None) -> set[str]:
    """Every item id of the benchmark (all splits, no limit)."""
    return {item.id for item in load_items(benchmark, "all", data_dir)}


def evaluate(
    benchmark: str,
    *,
    predictions: Mapping[str, str | None] | None = None,
    generate_fn: Callable[[list[EvalItem]], list[str | None]] | None = None,
    splits: str | list[str] | None = None,
    data_dir: str | Path | None = None,
    official_parity: bool = False,
    limit: int | None = None,
    config: dict | None = None,
    notes: list[str] | None = None,
    missing_notes: Mapping[str, str] | None = None,
    source: str = "the predictions",
    extra: dict[str, Any] | None = None,
    bfcl_mode: str = "auto",
    underscore_to_dot: bool | None = None,
) -> dict[str, Any]:
    """Score `predictions` ({id: text or JSON value}) or the outputs of `generate_fn(items)`; returns the
    report dict. BFCL: `bfcl_mode` "auto" (FC when a prediction holds function-call JSON, see
    bfcl.detect_mode), "prompt" or "fc"; `underscore_to_dot` BFCL's per-model flag (None = on in FC mode).

    Items without a prediction (absent or None) get the outcome `missing`, counted in the notes and the
    category tables. Prediction ids that match no selected item are reported by id category; when none
    match, a PredictionsError (a ValueError) names an expected id and a given one. `notes` are added to the
    report; `missing_notes` gives the reason per missing id; `extra` adds top-level report keys.
    """
    if bfcl_mode not in bfcl.MODES:
        raise ValueError(f"unknown BFCL mode {bfcl_mode!r}; expected one of {', '.join(bfcl.MODES)}")
    items = load_items(benchmark, splits, data_dir, limit)
    notes = list(notes or [])
    if generate_fn is not None:
        texts = list(generate_fn(items))
        missing = [item.id for item, text in zip(items, texts, strict=True) if text is None]
        if missing:
            notes.append(f"{len(missing)} items had no prediction (outcome 'missing', first: {missing[0]})")
    elif predictions is not None:
        predictions = dict(predictions)
        known = all_item_ids(benchmark, data_dir) if set(predictions) - {i.id for i in items} else None
        texts, match_notes = match_predictions(benchmark, items, predictions, known, source)
        notes += match_notes
    else:
        raise ValueError("evaluate needs predictions or generate_fn")
    mode = "prompt"
    if benchmark == "bfcl":
        given = [t for t in texts if t is not None]
        mode, shaped = bfcl.detect_mode(given)
        if bfcl_mode == "auto":
            how = f"auto-detected: {shaped} of {len(given)} predictions hold function-call JSON"
        else:
            how, mode = f"--bfcl-mode {bfcl_mode}", bfcl_mode
        dots = mode == "fc" if underscore_to_dot is None else underscore_to_dot
        notes.append(f"BFCL {'FC' if mode == 'fc' else 'prompt'} mode ({how}); underscore_to_dot {dots}")
    results = score(
        benchmark,
        items,
        texts,
        official_parity=official_parity,
        missing_notes=missing_notes,
        bfcl_mode=mode,
        underscore_to_dot=underscore_to_dot,
    )
    if benchmark == "rotbench":
        notes.append(
            "official-parity mode: upstream evaluate.py, which skips predictions whose Action Input is {} "
            "(clean caps at 97/105)"
            if official_parity
            else "default mode: upstream definitions, with the {}-skip and other evaluate.py defects fixed; "
            "--official-parity reproduces the upstream numbers"
        )
    report = build_report(benchmark, results, notes=notes, config=config)
    report.update(extra or {})
    return report
