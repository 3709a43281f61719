"""python -m tl_fast.data prepare: the trainer's flag names and defaults, counts in the report add up,
one-line errors with exit status 2, and an --output that appears only when complete and is never replaced
without --overwrite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets

from tl_fast.data.__main__ import main

FIXTURES = Path(__file__).parent / "fixtures"
PROG = "python -m tl_fast.data: error: "


def data_cli(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tl_fast.data", *args],
        cwd=cwd,
        env={**os.environ, "TRITON_INTERPRET": "0"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def one_error_line(out) -> str:
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    lines = [
        line for line in out.stderr.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line
    ]
    assert len(lines) == 1 and lines[0].startswith(PROG), out.stderr[-3000:]
    return lines[0][len(PROG) :]


def test_prepare_writes_dataset_and_report(tmp_path, capsys):
    out = tmp_path / "prep"
    args = ["--data", str(FIXTURES / "tl_raw.json"), "--output", str(out), "--render-call-style", "json"]
    rc = main(["prepare", *args, "--pkt-arg-name-keys", "--pkt-w-max", "5", "--max-length", "100000"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    counts = report["counts"]
    assert counts["records"] == 3 and counts["malformed: bad_tool_list"] == 1
    assert counts["malformed: bad_call"] == 1
    assert counts["decontaminated (exact query match)"] == 0  # on by default, as in the trainer
    assert counts["MAE dropped: error_field"] == 1 and counts["samples"] == 2
    assert counts["SFT samples kept"] == 2
    assert report["config"]["pkt"]["w_max"] == 5.0 and report["config"]["data"]["eval_sets"] == "shipped"
    ds = datasets.load_from_disk(str(out / "dataset"))
    assert len(ds) == 2 and all(n >= 2 for n in ds["num_key"])  # name + argument-name tokens
    printed = capsys.readouterr().out
    assert "SFT samples kept" in printed and "malformed: bad_call" in printed
    assert main(["show", "--output", str(out), "--index", "1"]) == 0
    assert "w=" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no partial folder left"


def test_prepare_strict_names_the_record(tmp_path, capsys):
    rc = main(
        ["prepare", "--data", str(FIXTURES / "tl_raw.json"), "--output", str(tmp_path / "o"), "--strict"]
    )
    assert rc == 2
    assert capsys.readouterr().err.startswith(PROG + "--strict: record 1: ")
    assert not (tmp_path / "o").exists()


def test_old_flag_names_point_to_the_shared_ones(tmp_path):
    message = one_error_line(data_cli(["prepare", "--w-max", "5", "--output", str(tmp_path / "o")], tmp_path))
    assert message.startswith("unknown flag --w-max (renamed --pkt-w-max)")
    message = one_error_line(data_cli(["prepare", "--input", "x", "--output", str(tmp_path / "o")], tmp_path))
    assert message.startswith("unknown flag --input (renamed --data)")
    assert not (tmp_path / "o").exists()


def test_all_malformed_data_names_the_reason(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"foo": 1}\n' * 20)
    out = data_cli(["prepare", "--data", str(bad), "--output", str(tmp_path / "o")], tmp_path)
    message = one_error_line(out)
    assert message == (
        "0 usable trajectories: 20 records, unknown_format 20 — check --data-format "
        "(now auto; auto, rotllama, tl_raw or openai)"
    )
    assert not (tmp_path / "o").exists()


def test_output_is_not_replaced_without_overwrite(tmp_path):
    out = tmp_path / "prep"
    args = [
        "prepare",
        "--data",
        str(FIXTURES / "tl_raw.json"),
        "--output",
        str(out),
        "--render-call-style",
        "json",
    ]
    assert main(args) == 0
    before = (out / "report.json").read_text()
    refused = data_cli([*args, "--pkt-w-max", "3"], tmp_path)
    assert "already holds a prepared dataset; pass --overwrite to replace it" in one_error_line(refused)
    assert (out / "report.json").read_text() == before
    assert main([*args, "--pkt-w-max", "3", "--overwrite"]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["pkt"]["w_max"] == 3.0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    other = data_cli(["prepare", "--output", str(tmp_path / "other"), "--overwrite"], tmp_path)
    assert "exists and holds other files" in one_error_line(other)
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]
