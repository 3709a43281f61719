"""`python -m tl_fast.eval --benchmark bfcl` on FC-mode result files and the relevance categories.

Expected verdicts are BFCL's own (tests/reward/data/bfcl_reference.jsonl.gz, made by BFCL's unchanged code).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tl_fast.eval import bfcl, evaluate
from tl_fast.eval.__main__ import main, read_predictions

REFERENCE = Path(__file__).parents[1] / "reward" / "data" / "bfcl_reference.jsonl.gz"


def reference(mode: str, dots: bool) -> dict[str, dict]:
    """One reference row per id (the first) of the given mode and underscore_to_dot flag."""
    out: dict[str, dict] = {}
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        for row in map(json.loads, f):
            if row["mode"] == mode and row["underscore_to_dot"] == dots:
                out.setdefault(row["id"], row)
    return out


def write_results(path: Path, rows: dict[str, dict]) -> Path:
    """BFCL's result layout: one {"id", "result"} per line, results as BFCL stores them."""
    path.write_text("".join(json.dumps({"id": k, "result": r["result"]}) + "\n" for k, r in rows.items()))
    return path


def run(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "report.json"
    assert main([*argv, "--output", str(out)]) == 0
    return json.loads(out.read_text())


def mismatches(report: dict, rows: dict[str, dict]) -> list:
    return [
        (i["id"], i["error_type"], rows[i["id"]]["error_type"])
        for i in report["items"]
        if (i["cf"], i["error_type"]) != (rows[i["id"]]["valid"], rows[i["id"]]["error_type"])
    ]


def bfcl_aggregate(rows: dict[str, dict]) -> dict[str, float]:
    """BFCL's summary from its own verdicts (eval_runner_helper.generate_leaderboard_csv)."""
    by: dict[str, list[bool]] = {}
    for row in rows.values():
        by.setdefault(row["category"], []).append(row["valid"])
    rate = {c: sum(v) / len(v) for c, v in by.items()}
    live = [v for c in bfcl.AST_SPLITS[4:] for v in by[c]]
    return {
        "non_live_ast": round(100 * sum(rate[c] for c in bfcl.AST_SPLITS[:4]) / 4, 2),
        "live_ast": round(100 * sum(live) / len(live), 2),
        "irrelevance": round(100 * (rate["irrelevance"] + rate["live_irrelevance"]) / 2, 2),
        "relevance": round(100 * rate["live_relevance"], 2),
    }


def test_fc_result_files_score_as_bfcl_scores_them(tmp_path):
    rows = reference("fc", True)
    assert len(rows) == 3491  # every item of the 11 categories
    path = write_results(tmp_path / "BFCL_v4_fc_result.json", rows)
    report = run(tmp_path, "--benchmark", "bfcl", "--split", "all", "--predictions", str(path))
    assert mismatches(report, rows) == []
    assert any("BFCL FC mode (auto-detected" in n and "underscore_to_dot True" in n for n in report["notes"])
    summary = {k: v["accuracy"] for k, v in report["bfcl_summary"].items()}
    assert summary == bfcl_aggregate(rows)
    for i in report["items"]:
        assert i["ts"] >= i["pi"] >= i["cf"], i["id"]
    md = (tmp_path / "report.md").read_text()
    assert "### BFCL summary" in md and "| irrelevance |" in md and "| live_relevance | 16 |" in md


def test_forced_prompt_mode_reads_fc_results_as_bfcls_prompt_handler_would(tmp_path):
    rows = {k: r for k, r in reference("fc", True).items() if r["category"] == "simple_python"}
    path = write_results(tmp_path / "r.json", rows)
    report = run(tmp_path, "--benchmark", "bfcl", "--split", "simple_python", "--predictions", str(path))
    assert mismatches(report, rows) == []
    assert report["bfcl_summary"]["non_live_ast"]["accuracy"] is None  # 3 of its 4 categories not scored
    assert report["bfcl_summary"]["non_live_ast"]["not_scored"] == [
        "multiple",
        "parallel",
        "parallel_multiple",
    ]
    forced = run(
        tmp_path,
        "--benchmark",
        "bfcl",
        "--split",
        "simple_python",
        "--predictions",
        str(path),
        "--bfcl-mode",
        "prompt",
    )
    lists = {k for k, r in rows.items() if isinstance(r["result"], list)}
    assert len(lists) > 300
    # default_decode_ast_prompting calls .strip() on the list and raises
    assert {i["id"] for i in forced["items"] if i["error_type"] == "ast_decoder:decoder_failed"} >= lists
    assert any("--bfcl-mode prompt" in n for n in forced["notes"])


def test_underscore_to_dot_can_be_turned_off(tmp_path):
    rows = reference("fc", False)  # tool names kept with their dots, judged for a model without the flag
    path = write_results(tmp_path / "r.json", rows)
    splits = ",".join(sorted({r["category"] for r in rows.values()}))
    argv = ["--benchmark", "bfcl", "--split", splits, "--predictions", str(path)]
    report = run(tmp_path, *argv, "--no-bfcl-underscore-to-dot")
    report["items"] = [i for i in report["items"] if i["id"] in rows]  # one in five items has such a row
    assert len(report["items"]) == len(rows) > 400
    assert mismatches(report, rows) == []
    mapped = run(tmp_path, *argv)  # the default maps the schema's "a.b" to "a_b": dotted calls miss
    dotted = [
        i
        for i in mapped["items"]
        if i["id"] in rows
        and rows[i["id"]]["valid"]
        and any("." in name for name in _names(rows[i["id"]]["result"]))
    ]
    assert len(dotted) > 20 and not any(i["cf"] for i in dotted)


def _names(result) -> list[str]:
    return [k for e in result if isinstance(e, dict) for k in e] if isinstance(result, list) else []


def test_prompt_mode_relevance_answers(tmp_path):
    rows = reference("prompt", False)
    assert {r["category"] for r in rows.values()} == set(bfcl.RELEVANCE_SPLITS)
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": k, "prediction": r["result"]}) + "\n" for k, r in rows.items()))
    report = run(
        tmp_path,
        "--benchmark",
        "bfcl",
        "--split",
        ",".join(bfcl.RELEVANCE_SPLITS),
        "--predictions",
        str(path),
    )
    assert mismatches(report, rows) == []
    assert report["bfcl_summary"]["non_live_ast"]["accuracy"] is None  # N/A: not scored
    assert report["bfcl_summary"]["relevance"]["accuracy"] == bfcl_aggregate_relevance(rows)


def bfcl_aggregate_relevance(rows: dict[str, dict]) -> float:
    v = [r["valid"] for r in rows.values() if r["category"] == "live_relevance"]
    return round(100 * sum(v) / len(v), 2)


def test_missing_predictions_are_wrong_even_where_no_call_is_right():
    items = bfcl.load("irrelevance")[:3]
    report = evaluate("bfcl", predictions={items[0].id: "I cannot help."}, splits="irrelevance", limit=3)
    assert [i["cf"] for i in report["items"]] == [True, False, False]
    assert [i["error_type"] for i in report["items"]] == [None, "missing", "missing"]


def test_text_results_of_an_fc_file_are_messages(tmp_path):
    """BFCL iterates a string result (the model's text): it fails, even when the text looks like calls."""
    item = bfcl.load("simple_python")[0]
    text = json.dumps([{"name": item.tools[0]["name"], "arguments": {"base": 10, "height": 5}}])
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps({"id": item.id, "result": text})
        + "\n"
        + json.dumps({"id": "simple_python_1", "result": [{"math_factorial": '{"number": 5}'}]})
        + "\n"
    )
    preds = read_predictions(path)
    assert preds[item.id] == bfcl.text_message(text)
    report = evaluate("bfcl", predictions=preds, splits="simple_python", limit=2)
    assert [(i["cf"], i["error_type"]) for i in report["items"]] == [
        (False, "ast_decoder:decoder_failed"),
        (True, None),
    ]
    assert report["items"][0]["category"] == "irrelevant"


def test_detect_mode():
    assert bfcl.detect_mode(["[f(a=1)]", "I cannot"]) == ("prompt", 0)
    assert bfcl.detect_mode(["[f(a=1)]", [{"f": "{}"}]]) == ("fc", 1)
    message = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    assert bfcl.detect_mode([json.dumps(message), "x"]) == ("fc", 1)
    assert bfcl.detect_mode([json.dumps({"choices": [{"message": message}]})]) == ("fc", 1)
    # a prompt-mode model that answers in JSON is not an FC result: BFCL's prompt decoder rejects it
    assert bfcl.detect_mode(['[{"name": "f", "arguments": {"a": 1}}]']) == ("prompt", 0)


def test_cli_refuses_fc_mode_for_generated_text(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tl_fast.eval", "--benchmark", "bfcl", "--model", str(tmp_path / "m"),
         "--bfcl-mode", "fc", "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "python -m tl_fast.eval: error: --bfcl-mode fc reads stored FC results (--predictions); "
        "generated text is prompt mode"
    )
    assert not out.exists()


@pytest.mark.parametrize("mode", ["sideways"])
def test_unknown_mode_is_a_clear_error(mode):
    with pytest.raises(ValueError, match="unknown BFCL mode 'sideways'"):
        evaluate("bfcl", predictions={}, splits="live_parallel", bfcl_mode=mode)
