"""Run configuration: flags override YAML, sections stay typed, bad input names the culprit, and the
trainer and `data prepare` share one vocabulary generated from the same dataclasses."""

from pathlib import Path

import pytest

from tl_fast._cli import UserError
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
    with pytest.raises(UserError, match="unknown key sft.learning_rate \\(did you mean lr\\?\\)"):
        parse_args(["--config", str(bad)])


def test_yaml_values_go_through_the_flag_converter(tmp_path):
    good = tmp_path / "good.yaml"
    # PyYAML reads 1e-6 (no dot) as a string; the converter makes it the float the field holds
    good.write_text("sft:\n  lr: 1e-6\nmodel:\n  dtype: bfloat16\nrun:\n  stages: ppo,sft\n")
    cfg = parse_args(["--config", str(good)])
    assert cfg.sft.lr == 1e-6 and cfg.model.dtype == "bf16" and cfg.run.stages == "sft,ppo"


def test_bad_stage_is_an_error():
    with pytest.raises(UserError, match="subset of mae,sft,ppo"):
        parse_args(["--stages", "sft,rlhf"])


@pytest.mark.parametrize(
    "argv, section, name, value",
    [
        (["--dtype", "bfloat16"], "model", "dtype", "bf16"),
        (["--pkt-enabled", "false"], "pkt", "enabled", False),  # HfArgumentParser's spelling still works
        (["--no-pkt-enabled"], "pkt", "enabled", False),
        (["--sft_max_steps", "3"], "sft", "max_steps", 3),  # underscores as HfArgumentParser took them
        (["--sft-max-steps", "none"], "sft", "max_steps", None),
        (["--device", "CUDA:1"], "run", "device", "cuda:1"),
    ],
)
def test_flag_spellings(argv, section, name, value):
    assert getattr(getattr(parse_args(argv), section), name) == value


def test_one_vocabulary_for_train_and_data_prepare():
    """Every data/mae/render/pkt flag of `data prepare` is the trainer's flag, with the trainer's default."""
    from tl_fast.data.__main__ import build_parser as data_parser
    from tl_fast.train.config import build_parser as train_parser

    def flags(parser):
        return {s: a.default for a in parser._actions for s in a.option_strings if s.startswith("--")}

    prepare = data_parser()._subparsers._group_actions[0].choices["prepare"]
    train, prep = flags(train_parser()), flags(prepare)
    own = {"--output", "--overwrite", "--tokenizer", "--num-proc", "--debug", "--help"}
    shared = set(prep) - own
    assert shared and shared <= set(train), sorted(shared - set(train))
    assert {"--data", "--data-format", "--pkt-w-max", "--render-call-style", "--no-pkt-enabled",
            "--eval-sets", "--decontaminate", "--mae-error-patterns-file"} <= shared  # fmt: skip
    assert "--tokenizer" in train
