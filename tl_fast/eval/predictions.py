"""Predictions files and how their ids meet a benchmark's items, with nothing dropped silently.

    preds = read_predictions(Path("preds.jsonl"))          # {"id": text}; PredictionsError names file:line
    texts, notes = match_predictions("bfcl", items, preds)  # texts[i] is None where an item has no prediction

A file is JSONL, one `{"id", "prediction"}` (or BFCL's `{"id", "result"}`) per line, or one JSON array of
such objects; `.gz` is read as gzip. A prediction that is not a string (a BFCL FC result, an OpenAI message)
is kept as the JSON value it is; in a BFCL result file of FC layout (a list result, or bfcl_mode "fc") a text
result is the model's message. `null` means no prediction (the item's outcome is `missing`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from tl_fast._cli import UserError
from tl_fast._io import read_text


class PredictionsError(UserError, ValueError):
    """A predictions file that cannot be scored as given; the message names the file, line and fix."""


def read_predictions(path: Path, bfcl_mode: str = "auto") -> dict[str, Any]:
    """{id: prediction (text, JSON value, or None)}; rejects bad JSON, records without id/prediction and
    duplicate ids."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"--predictions {path}: no such file")
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise PredictionsError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith("["):
        try:
            records = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as exc:
            raise PredictionsError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        where = "record"
    else:
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise PredictionsError(
                    f"{path}:{n}: not a JSON object ({exc.msg} at column {exc.colno}): {line[:60]!r}"
                ) from None
        where = "line"
    preds: dict[str, Any] = {}
    first_seen: dict[str, int] = {}
    results: list[str] = []  # ids read from BFCL's "result" field
    for n, record in records:
        key = "prediction" if isinstance(record, dict) and "prediction" in record else "result"
        if not isinstance(record, dict) or "id" not in record or key not in record:
            got = f"keys {sorted(record)}" if isinstance(record, dict) else type(record).__name__
            raise PredictionsError(
                f"{path}:{n}: expected an object with 'id' and 'prediction', got {got}"
                if where == "line"
                else f"{path}: {where} {n}: expected an object with 'id' and 'prediction', got {got}"
            )
        if not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
            raise PredictionsError(f"{path}:{n}: 'id' must be a string, got {record['id']!r}")
        item_id = str(record["id"])
        if item_id in first_seen:
            raise PredictionsError(
                f"{path}:{n}: duplicate id {item_id!r} (first on {where} {first_seen[item_id]}); "
                "keep one prediction per id"
            )
        first_seen[item_id] = n
        preds[item_id] = record[key]
        if key == "result":
            results.append(item_id)
    if not preds:
        raise PredictionsError(f"{path}: holds no predictions (expected JSONL lines {{'id', 'prediction'}})")
    fc_layout = bfcl_mode == "fc" or any(not isinstance(preds[k], str | None) for k in results)
    if fc_layout and bfcl_mode != "prompt":
        from tl_fast.eval.bfcl import text_message

        for k in results:
            if isinstance(preds[k], str):
                preds[k] = text_message(preds[k])
    return preds


_CATEGORY = re.compile(r"^(?P<cat>.*?)_\d[\d-]*$")


def id_category(item_id: str) -> str:
    """The category part of an id ("java_12" -> "java", "live_simple_3-2-0" -> "live_simple") or "other"."""
    match = _CATEGORY.match(item_id)
    return match.group("cat") if match else "other"


def _counts(ids: list[str]) -> str:
    return ", ".join(f"{cat} {n}" for cat, n in Counter(map(id_category, ids)).most_common())


def match_predictions(
    benchmark: str,
    items: list[Any],
    predictions: dict[str, str | None],
    all_ids: set[str] | None = None,
    source: str = "the predictions",
) -> tuple[list[str | None], list[str]]:
    """(texts in item order, None where missing; notes on missing and ignored ids).

    `all_ids`: every item id of the benchmark (all splits, no limit), so ids of unselected items are told
    apart from ids the benchmark does not have. Raises PredictionsError when no id matches a selected item.
    """
    selected = {item.id for item in items}
    matched = [k for k in predictions if k in selected]
    extra = [k for k in predictions if k not in selected]
    other_items = [k for k in extra if all_ids is not None and k in all_ids]
    unknown = [k for k in extra if all_ids is None or k not in all_ids]
    if predictions and not matched:
        hint = (
            f"; {len(other_items)} are items of splits not selected ({_counts(other_items)})"
            if other_items
            else ""
        )
        raise PredictionsError(
            f"none of the {len(predictions)} ids in {source} matches an item of {benchmark} as selected "
            f"(--split/--limit): expected ids like {items[0].id!r}, got {next(iter(predictions))!r}{hint}"
            if items
            else f"no {benchmark} items are selected"
        )
    texts = [predictions.get(item.id) for item in items]
    notes = []
    missing = [item.id for item, text in zip(items, texts, strict=True) if text is None]
    if missing:
        notes.append(f"{len(missing)} items had no prediction (outcome 'missing', first: {missing[0]})")
    if other_items:
        notes.append(
            f"{len(other_items)} predictions are for {benchmark} items outside --split/--limit and were not "
            f"scored ({_counts(other_items)})"
        )
    if unknown:
        notes.append(
            f"{len(unknown)} predictions have ids that are not {benchmark} items and were ignored, by id "
            f"category: {_counts(unknown)} (first: {unknown[0]!r})"
        )
    return texts, notes
