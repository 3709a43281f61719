"""`python -m tl_fast.train` with no arguments (the embedded default) runs MAE -> PKT-SFT -> IRM-PPO."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_default_run_writes_the_run_folder(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "tl_fast.train", "--output-dir", str(tmp_path / "run")],
        cwd=tmp_path,
        env={**os.environ, "TRITON_INTERPRET": "0"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in rows} == {"mae", "sft", "ppo"}
    sft = [r["loss"] for r in rows if r["stage"] == "sft"]
    assert sum(sft[-5:]) / 5 < sum(sft[:5]) / 5 - 1.0, "SFT loss falls"
    ppo = [r for r in rows if r["stage"] == "ppo"]
    assert len(ppo) == 4 and all(sum(r["categories"].values()) == 8 for r in ppo)
    plots = ("sft_loss.png", "ppo_reward.png", "ppo_categories.png", "ppo_kl.png")
    for name in ("config.yaml", "report.md", *plots):
        assert (run / name).exists(), name
    assert (run / "final" / "policy" / "model.safetensors").exists()
    assert "attention" in (run / "report.md").read_text()
