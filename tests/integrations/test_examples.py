"""Both TRL examples run end to end as a user runs them (subprocesses, short budgets): PKT-SFT on the
vendored trajectories, then GRPO with the IRM reward from the model SFT saved. Bad flags: exit 2, one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

REPO = Path(__file__).resolve().parents[2]


def run(script: str, *argv: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRITON_INTERPRET": "0", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *argv],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO,
    )  # fmt: skip


def test_sft_then_grpo_examples(tmp_path):
    sft = run("trl_sft_pkt.py", "--max-steps", "2", "--rows", "6", "--max-length", "1024",
              "--output-dir", str(tmp_path / "sft"))  # fmt: skip
    assert sft.returncode == 0, sft.stderr[-3000:]
    summary = sft.stdout.strip().splitlines()[-1]
    assert summary.startswith("loss ") and "over 2 steps" in summary and "'samples'" in summary
    final = tmp_path / "sft" / "final"
    assert (final / "config.json").exists() and (final / "tokenizer.json").exists()
    grpo = run("trl_grpo_irm.py", "--model", str(final), "--max-steps", "2", "--prompts", "4",
               "--max-completion-length", "8", "--output-dir", str(tmp_path / "grpo"))  # fmt: skip
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    lines = grpo.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines[-3:-1]] == [["step", "1"], ["step", "2"]]
    assert lines[-1].startswith("4 prompts; reward ")
    assert (tmp_path / "grpo" / "final" / "config.json").exists()


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("trl_sft_pkt.py", ["--max-steps", "0"], "--max-steps 0: must be at least 1"),
        ("trl_sft_pkt.py", ["--data", "/nonexistent/t.jsonl"], "--data /nonexistent/t.jsonl: no such file"),
        ("trl_grpo_irm.py", ["--model", "./no/such/model"], "--model ./no/such/model: no such folder"),
        ("trl_grpo_irm.py", ["--num-generations", "3"], "--batch-size (4) must be a multiple"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, script, argv, message):
    proc = run(script, *argv, "--output-dir", str(tmp_path / "out"), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
