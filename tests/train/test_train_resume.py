"""--resume continues the run as it was configured: it loads the saved config.yaml (never rewrites it),
refuses any flag that changes what the run computes, naming it, and reproduces the uninterrupted run's PPO
steps exactly (the SFT case is in test_train_sft.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tl_fast._cli import UserError
from tl_fast.train.config import RESUME_MAY_CHANGE, TrainConfig, parse_args, section_specs
from tl_fast.train.model import causal_lm
from tl_fast.train.runner import run

SMALL = [
    "--max-samples", "24", "--max-length", "512", "--sft-tokens-per-batch", "512", "--sft-max-steps", "1",
    "--ppo-steps", "2", "--ppo-rollout-batch", "2", "--ppo-minibatch", "2", "--ppo-max-new-tokens", "8",
    "--ppo-max-prompt-tokens", "400", "--save-every", "100", "--device", "cpu",
    "--hidden-size", "64", "--num-layers", "1", "--num-heads", "2", "--intermediate-size", "128",
]  # fmt: skip


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")


def rows(run_dir: Path, stage: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["stage"] == stage]


def stop_at_call(n: int):
    """should_stop is asked after every SFT and PPO step: stop at its n-th question."""
    asked = []

    def stop(step: int) -> bool:
        asked.append(step)
        return len(asked) == n

    return stop


def test_ppo_resume_reproduces_the_uninterrupted_run(tmp_path):
    full = run(parse_args([*SMALL, "--output-dir", str(tmp_path / "full")]))
    cut_dir = tmp_path / "cut"
    cut = run(parse_args([*SMALL, "--output-dir", str(cut_dir)]), should_stop=stop_at_call(2))  # SFT 1, PPO 1
    assert cut.interrupted and [r["step"] for r in rows(cut_dir, "ppo")] == [1]
    assert json.loads((cut_dir / "checkpoints/latest.json").read_text())["stage"] == "ppo"
    saved = (cut_dir / "config.yaml").read_bytes()

    resumed = run(parse_args(["--output-dir", str(cut_dir), "--resume"]))  # the README's form: no flags
    assert not resumed.interrupted
    assert (cut_dir / "config.yaml").read_bytes() == saved, "config.yaml is never rewritten"
    assert [r["step"] for r in rows(cut_dir, "sft")] == [1], "SFT is not run again"
    want, got = rows(tmp_path / "full", "ppo"), rows(cut_dir, "ppo")
    assert [r["step"] for r in got] == [1, 2]  # step 2 needs the restored Adam moments and draws
    for a, b in zip(want, got, strict=True):
        assert (a["categories"], a["sample"]) == (b["categories"], b["sample"])  # same prompts, same draws
        for key in ("reward", "kl", "policy_loss", "value_loss", "clip_frac", "approx_kl", "response_tokens"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), (a["step"], key)
    theirs = dict(causal_lm(full.policy).named_parameters())
    for name, p in causal_lm(resumed.policy).named_parameters():
        torch.testing.assert_close(p, theirs[name], rtol=1e-5, atol=1e-6, msg=name)


def saved_run(path: Path, *flags: str) -> Path:
    """A run folder as the trainer leaves it after a stop: its config.yaml and a checkpoint pointer."""
    path.mkdir()
    cfg = parse_args(list(flags))
    cfg.data.max_length = 2048  # resolved when the run started
    (path / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    (path / "checkpoints").mkdir()
    (path / "checkpoints/latest.json").write_text('{"stage": "sft", "step": 10, "path": "sft-step000010"}')
    return path


def test_resume_refuses_a_compute_changing_flag_naming_it(tmp_path):
    run_dir = saved_run(tmp_path / "R", "--sft-max-steps", "30", "--ppo-steps", "2")
    before = (run_dir / "config.yaml").read_bytes()
    out = subprocess.run(
        [sys.executable, "-m", "tl_fast.train", "--output-dir", str(run_dir), "--resume",
         "--sft-max-steps", "40"],
        cwd=tmp_path, env={**os.environ, "TRITON_INTERPRET": "0"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and line.startswith("python -m tl_fast.train: error: --resume continues")
    assert "--sft-max-steps 40 (saved: 30) would change what it computes" in line
    assert "only --config, --log-every, --output-dir, --resume, --save-every may change" in line
    assert (run_dir / "config.yaml").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoints", "config.yaml"]


def test_resume_takes_the_saved_config_and_allowed_flags(tmp_path):
    run_dir = saved_run(tmp_path / "R", "--sft-max-steps", "30", "--ppo-steps", "2", "--seed", "3")
    cfg = parse_args(["--output-dir", str(run_dir), "--resume", "--save-every", "5", "--sft-max-steps", "30"])
    assert (cfg.sft.max_steps, cfg.ppo.steps, cfg.run.seed, cfg.data.max_length) == (30, 2, 3, 2048)
    assert cfg.run.save_every == 5 and cfg.run.resume
    yaml_file = tmp_path / "more.yaml"
    yaml_file.write_text("sft:\n  lr: 1.0\nrun:\n  log_every: 7\n")
    with pytest.raises(UserError, match=f"sft.lr in {yaml_file} 1.0 \\(saved: 0.003\\)"):
        parse_args(["--output-dir", str(run_dir), "--resume", "--config", str(yaml_file)])
    yaml_file.write_text("run:\n  log_every: 7\nppo:\n  steps: 2\n")
    assert (
        parse_args(["--output-dir", str(run_dir), "--resume", "--config", str(yaml_file)]).run.log_every == 7
    )


def changed_text(spec, saved, tmp_path: Path) -> str:
    """A flag value that differs from `saved`, for any field kind (fields other issues add included)."""
    special = {("run", "stages"): "sft", ("run", "device"): "cpu", ("model", "dtype"): "fp32"}
    if (spec.section, spec.name) in special:
        return special[spec.section, spec.name]
    if spec.choices:
        return next(c for c in spec.choices if c != saved)
    if spec.kind == "bool":
        return "false" if saved else "true"
    if spec.kind == "int":
        return str((saved or 0) + 1)
    if spec.kind == "float":
        return str((saved or 0.0) + 1.5)
    if spec.kind == "lines":
        (tmp_path / "patterns.txt").write_text("no such tool\n")
        return str(tmp_path / "patterns.txt")
    if (spec.section, spec.name) == ("run", "config"):
        (tmp_path / "empty.yaml").write_text("{}\n")
        return str(tmp_path / "empty.yaml")
    return f"{saved}-other"


def test_every_field_outside_the_allow_list_is_refused_on_resume(tmp_path):
    """Generic over the dataclasses: a field added to any section later is covered without a list to edit."""
    run_dir = saved_run(tmp_path / "R")
    saved = TrainConfig.build({}).to_dict()
    saved["data"]["max_length"] = 2048
    checked = 0
    for section, specs in section_specs().items():
        for name, spec in specs.items():
            if spec.kind == "any" or (section, name) == ("run", "output_dir"):
                continue
            args = [spec.flag, changed_text(spec, saved[section][name], tmp_path)]
            if (section, name) == ("run", "resume"):
                continue  # the flag under test itself
            argv = ["--output-dir", str(run_dir), "--resume", *args]
            if (section, name) in RESUME_MAY_CHANGE:
                parse_args(argv)
            else:
                with pytest.raises(UserError, match=f"but {spec.flag} "):
                    parse_args(argv)
            checked += 1
    assert checked > 60  # every flag of every section was tried


def test_finished_run_is_not_resumed(tmp_path):
    run_dir = saved_run(tmp_path / "R")
    (run_dir / "final").mkdir()
    from tl_fast.train.checks import preflight

    with pytest.raises(UserError, match="already finished"):
        preflight(parse_args(["--output-dir", str(run_dir), "--resume"]))


def test_a_failed_start_leaves_no_run_folder(tmp_path):
    """A run that breaks before its first checkpoint removes what it wrote; a rerun need not --resume."""

    def boom(step):
        raise RuntimeError("planted failure at the first step")

    args = ["--stages", "mae,sft", *SMALL, "--output-dir", str(tmp_path / "run")]
    with pytest.raises(RuntimeError, match="planted failure"):
        run(parse_args(args), should_stop=boom)
    assert not (tmp_path / "run").exists()
