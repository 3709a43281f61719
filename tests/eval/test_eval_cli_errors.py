"""The evaluator is never silently wrong, tried as a new user would: each case runs the CLI as a subprocess
and checks the message, the exit status and what is left on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tl_fast.eval import gold_predictions, load_items


def cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "tl_fast.eval", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m tl_fast.eval: error: "), proc.stderr
    return lines[0]


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_ids_that_match_no_item_stop_with_an_expected_and_a_given_id(tmp_path):
    # RoTBench's own ids ("Turn 1: ...") instead of tl_fast's "<split>_<index>"
    preds = jsonl(tmp_path / "p.jsonl", [{"id": f"Turn 1: q{k}", "prediction": "x"} for k in range(5)])
    msg = one_line_error(
        cli("--benchmark", "rotbench", "--predictions", str(preds), "--output", str(tmp_path / "r.json"))
    )
    assert "none of the 5 ids" in msg and "expected ids like 'clean_0'" in msg and "got 'Turn 1: q0'" in msg
    assert not (tmp_path / "r.json").exists()
    # ids of splits that were not selected are told apart
    preds = jsonl(tmp_path / "q.jsonl", [{"id": "heavy_3", "prediction": "x"}])
    msg = one_line_error(cli("--benchmark", "rotbench", "--split", "clean", "--predictions", str(preds)))
    assert "1 are items of splits not selected (heavy 1)" in msg


def test_an_empty_file_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    msg = one_line_error(cli("--benchmark", "bfcl", "--predictions", str(tmp_path / "empty.jsonl")))
    assert "holds no predictions" in msg
    msg = one_line_error(cli("--benchmark", "bfcl", "--predictions", str(tmp_path / "absent.jsonl")))
    assert "absent.jsonl: no such file" in msg


def test_a_garbage_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "clean_0", "prediction": "x"}\n\n{"id": "clean_1", "prediction": "y"\n')
    msg = one_line_error(cli("--benchmark", "rotbench", "--predictions", str(path)))
    assert f"{path}:3: not a JSON object" in msg


def test_a_duplicate_id_is_rejected(tmp_path):
    path = jsonl(tmp_path / "p.jsonl", [{"id": "clean_0", "prediction": p} for p in ("a", "b")])
    msg = one_line_error(cli("--benchmark", "rotbench", "--predictions", str(path)))
    assert f"{path}:2: duplicate id 'clean_0' (first on line 1)" in msg


@pytest.mark.parametrize("benchmark, split", [("rotbench", "clean"), ("bfcl", "simple_python")])
def test_missing_items_are_one_outcome_counted_in_the_summary_and_table(tmp_path, benchmark, split):
    items = load_items(benchmark, split)
    gold = gold_predictions(benchmark, items)
    given = dict(list(gold.items())[:-7])  # the last 7 items have no prediction
    out = tmp_path / "r.json"
    proc = cli("--benchmark", benchmark, "--split", split, "--predictions", str(jsonl(tmp_path / "p.jsonl",
               [{"id": k, "prediction": v} for k, v in given.items()])), "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = proc.stderr.splitlines()[-2]
    assert f"over {len(items)} items" in summary and summary.endswith("; 7 items had no prediction (missing)")
    assert "| missing | 7 |" in proc.stdout  # the category table, not count_mismatch / format_error
    report = json.loads(out.read_text())
    absent = [i for i in report["items"] if i["id"] not in given]
    assert len(absent) == 7 and all(i["category"] == "missing" == i["error_type"] for i in absent)
    assert all(not (i["ts"] or i["pi"] or i["cf"]) for i in absent)
    assert report["categories"]["missing"] == 7
    if benchmark == "bfcl":
        assert (
            report["bfcl"][split]["errors"]["missing"] == 7 and "count_mismatch" not in report["categories"]
        )
    else:
        assert "format_error" not in report["categories"]
    assert f"wrote {out}, {out.with_suffix('.md')}" in proc.stderr


def test_bfcl_ids_of_categories_tl_fast_does_not_score_are_reported(tmp_path):
    items = load_items("bfcl", "live_parallel")
    records = [{"id": k, "result": v} for k, v in gold_predictions("bfcl", items).items()]
    records += [{"id": f"java_{k}", "result": "x"} for k in range(3)] + [
        {"id": "javascript_0", "result": "x"}
    ]
    out = tmp_path / "r.json"
    proc = cli("--benchmark", "bfcl", "--split", "live_parallel", "--predictions",
               str(jsonl(tmp_path / "p.jsonl", records)), "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    notes = json.loads(out.read_text())["notes"]
    assert any(
        "4 predictions have ids that are not bfcl items" in n and "java 3, javascript 1" in n for n in notes
    )
    assert "java 3, javascript 1" in proc.stdout  # in the printed notes too


def test_a_mistyped_local_model_path_is_one_error_at_once(tmp_path):
    (tmp_path / "out").mkdir()
    started = time.monotonic()
    msg = one_line_error(cli("--benchmark", "rotbench", "--model", "out/ppo", cwd=tmp_path))
    assert "--model out/ppo: no such folder" in msg
    assert time.monotonic() - started < 30  # no network retries (the CLI imports no torch before this check)


def test_dtype_and_device_spellings(tmp_path):
    msg = one_line_error(cli("--benchmark", "rotbench", "--model", str(tmp_path), "--dtype", "int8"))
    assert "--dtype 'int8': expected one of auto, bf16 (bfloat16)" in msg
    msg = one_line_error(cli("--benchmark", "rotbench", "--model", str(tmp_path), "--device", "tpu"))
    assert "--device 'tpu'" in msg


def test_model_generation_bf16_progress_context_rule_and_files(tmp_path, tiny_llama_factory):
    """--dtype bf16 (the trainer's spelling) generates; progress lines on stderr; a prompt over the model's
    context is counted and skipped (outcome missing), one that leaves too little room is shortened; every
    file written is named."""
    from transformers import AutoTokenizer

    from tl_fast.eval.generate import render_prompt

    items = load_items("bfcl", "simple_python", limit=12)
    tokenizer = AutoTokenizer.from_pretrained(
        Path(__file__).resolve().parents[2] / "tl_fast/assets/tokenizer"
    )
    lengths = {
        i.id: len(tokenizer(render_prompt(i, tokenizer), add_special_tokens=False)["input_ids"])
        for i in items
    }
    longest, second = sorted(set(lengths.values()))[-2:][::-1]
    context, max_new = longest, longest - second + 1  # longest: skipped; second: shortened; the rest fit
    model = tiny_llama_factory(tmp_path / "m", max_position_embeddings=context)
    out, preds = tmp_path / "r.json", tmp_path / "p.jsonl"
    proc = cli("--benchmark", "bfcl", "--split", "simple_python", "--limit", "12", "--model", str(model),
               "--dtype", "bf16", "--max-new-tokens", str(max_new), "--output", str(out),
               "--save-predictions", str(preds))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "generate: 12 items" in proc.stderr and "generate: 12/12 items (100%)" in proc.stderr
    report = json.loads(out.read_text())
    skipped = [k for k, n in lengths.items() if n == longest]
    shortened = [k for k, n in lengths.items() if n == second]
    assert sorted(i["id"] for i in report["items"] if i["category"] == "missing") == sorted(skipped)
    note = next(i["note"] for i in report["items"] if i["id"] == skipped[0])
    assert note == f"prompt of {longest} tokens does not fit the context"
    assert any(n.startswith(f"{len(skipped)} prompts are longer than the model's context ({context} tokens)")
               for n in report["notes"])  # fmt: skip
    assert any(
        n.startswith(f"{len(shortened)} prompts left fewer than --max-new-tokens") for n in report["notes"]
    )
    assert report["config"]["dtype"] == "bf16"
    saved = [json.loads(line)["id"] for line in preds.read_text().splitlines()]
    assert sorted(saved) == sorted(set(lengths) - set(skipped))
    assert f"wrote {out}, {out.with_suffix('.md')}, {preds}" in proc.stderr
