"""PKT-SFT through the trainer: the loss falls, every trainable parameter moves, --resume reproduces the next
step, and a 2-process gloo run (SFT then PPO) keeps its replicas equal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tl_fast.train.config import parse_args
from tl_fast.train.model import causal_lm
from tl_fast.train.runner import run

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "--stages",
    "mae,sft",
    "--max-samples",
    "48",
    "--max-length",
    "512",
    "--sft-tokens-per-batch",
    "1024",
]


def sft_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["stage"] == "sft"]


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    # The trainer's own logic is under test here; the kernels have their own interpreted tests.
    monkeypatch.setenv("TRITON_INTERPRET", "0")


def test_sft_loss_falls_and_every_parameter_changes(tmp_path):
    torch.manual_seed(0)
    cfg = parse_args([*SMALL, "--sft-max-steps", "6", "--output-dir", str(tmp_path / "r")])
    # the runner seeds before building, so this is the same initial model
    from transformers import set_seed

    from tl_fast.train.model import build_policy, load_tokenizer

    set_seed(cfg.run.seed)
    tok = load_tokenizer(cfg.model)
    before = {
        n: p.detach().clone()
        for n, p in build_policy(cfg.model, tok, torch.float32, "sdpa").named_parameters()
    }
    result = run(cfg)
    rows = sft_rows(result.run_dir)
    assert len(rows) == 6
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.5, [r["loss"] for r in rows]
    after = dict(causal_lm(result.policy).named_parameters())
    assert set(after) == set(before)
    unchanged = [n for n, p in after.items() if torch.equal(p.detach(), before[n])]
    assert not unchanged, f"parameters that did not change: {unchanged}"
    assert (result.run_dir / "report.md").exists() and (result.run_dir / "sft_loss.png").exists()
    # the checkpoint loads with plain transformers
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(result.run_dir / "checkpoints/sft-step000006/policy")
    for n, p in saved.named_parameters():
        torch.testing.assert_close(p, after[n].detach(), rtol=0, atol=0)


def test_resume_reproduces_the_next_step(tmp_path):
    full = run(parse_args([*SMALL, "--sft-max-steps", "4", "--output-dir", str(tmp_path / "full")]))
    args = [*SMALL, "--sft-max-steps", "4", "--output-dir", str(tmp_path / "cut")]
    cut = run(parse_args(args), should_stop=lambda step: step == 2)
    assert cut.interrupted and [r["step"] for r in sft_rows(cut.run_dir)] == [1, 2]
    resumed = run(parse_args([*args, "--resume"]))
    assert not resumed.interrupted
    want = [r["loss"] for r in sft_rows(full.run_dir)]
    got = [r["loss"] for r in sft_rows(resumed.run_dir)]
    assert [r["step"] for r in sft_rows(resumed.run_dir)] == [1, 2, 3, 4]
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_fresh_run_refuses_to_overwrite(tmp_path):
    from tl_fast._cli import UserError

    args = [*SMALL, "--sft-max-steps", "1", "--output-dir", str(tmp_path / "r")]
    run(parse_args(args))
    config = (tmp_path / "r/config.yaml").read_bytes()
    with pytest.raises(UserError, match="already holds a run .*: continue it with --resume"):
        run(parse_args(args))
    assert (tmp_path / "r/config.yaml").read_bytes() == config


@pytest.mark.slow
def test_two_process_gloo_run_keeps_replicas_equal(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            str(REPO / "tests/train/ddp_worker.py"),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "TRITON_INTERPRET": "0", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,  # normally ~15 s; a collective left waiting hangs
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads((tmp_path / "ddp_result.json").read_text())
    assert result["world_size"] == 2
    assert result["max_abs_diff"] == 0.0  # DDP kept the replicas equal through SFT and PPO
    assert result["sft_steps"] == 3 and result["ppo_moved"] > 0
    assert result["ppo_rollouts"] == [4, 4]  # each PPO step's metrics cover both processes' 2 rollouts
    assert result["stopped_together"]
