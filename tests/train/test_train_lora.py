"""LoRA through both stages: PPO trains a fresh adapter on the merged SFT weights (reference = adapters off),
the run's result is a whole model that from_pretrained loads, and resuming inside PPO is refused."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from tl_fast.train.config import parse_args
from tl_fast.train.model import causal_lm
from tl_fast.train.runner import run

LORA = [
    "--max-samples", "48", "--max-length", "512", "--sft-tokens-per-batch", "1024", "--sft-max-steps", "2",
    "--ppo-steps", "1", "--ppo-rollout-batch", "2", "--ppo-minibatch", "2", "--ppo-max-new-tokens", "8",
    "--lora-r", "4", "--device", "cpu",
]  # fmt: skip


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")


def test_lora_sft_then_ppo_saves_a_loadable_merged_model(tmp_path):
    result = run(parse_args([*LORA, "--output-dir", str(tmp_path / "r")]))
    final = tmp_path / "r/final"
    assert (final / "adapter/adapter_model.safetensors").exists()
    # the PPO adapter sits on merged SFT weights no saved model holds: no base path, never a wrong one
    assert json.loads((final / "adapter/adapter_config.json").read_text())["base_model_name_or_path"] is None
    loaded = AutoModelForCausalLM.from_pretrained(final / "policy")
    ours = causal_lm(result.policy).state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    assert not any("lora" in name for name in ours)  # merged, not wrapped

    from tl_fast._cli import UserError

    # a finished run is not resumed; one stopped inside LoRA PPO cannot be
    with pytest.raises(UserError, match="already finished"):
        run(parse_args([*LORA, "--output-dir", str(tmp_path / "r"), "--resume"]))
    (tmp_path / "r/final").rename(tmp_path / "r/final-moved")
    with pytest.raises(UserError, match="stopped inside PPO of a LoRA run"):
        run(parse_args([*LORA, "--output-dir", str(tmp_path / "r"), "--resume"]))
