"""Run configuration: flags override YAML, sections stay typed, bad input names the culprit."""

from pathlib import Path

import pytest

from tl_fast.train.config import parse_args

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_demo():
    cfg = parse_args([])
    assert cfg.model.model is None and cfg.data.data is None
    assert cfg.run.stage_list() == ["mae", "sft", "ppo"]
    assert (cfg.ppo.gamma, cfg.ppo.lam, cfg.ppo.clip, cfg.pkt.w_max) == (1.0, 0.95, 0.2, 9.0)


def test_paper_yaml_and_flag_override():
    cfg = parse_args(["--config", str(REPO / "configs/codellama7b_tl.yaml"), "--sft-lr", "2e-6"])
    assert cfg.sft.lr == 2e-6  # the flag wins
    assert cfg.ppo.actor_lr == 2e-7 and cfg.ppo.kl_coef == 0.4 and cfg.data.max_length == 8192
    assert cfg.model.dtype == "bf16" and cfg.run.seed == 1234


def test_unknown_yaml_key_is_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft:\n  learning_rate: 1.0\n")
    with pytest.raises(ValueError, match="unknown keys in sft: \\['learning_rate'\\]"):
        parse_args(["--config", str(bad)])


def test_bad_stage_is_an_error():
    cfg = parse_args(["--stages", "sft,rlhf"])
    with pytest.raises(ValueError, match="subset of mae,sft,ppo"):
        cfg.run.stage_list()
