"""A LoRA run's `final/adapter` loads with `--model` when the trainer knew its base (the path is written into
adapter_config.json); when no saved model holds the base, the evaluator says which flag gives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from tl_fast.eval.__main__ import main
from tl_fast.train.checkpoint import save_final

ARGS = ["--benchmark", "toolalpaca", "--limit", "3", "--max-new-tokens", "8", "--dtype", "fp32"]


@pytest.fixture(scope="module")
def lora_run(tiny_llama, tmp_path_factory):
    """final/ of a LoRA run on `tiny_llama`, saved twice: with the base path known, and without."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("lora_run")
    runs = {}
    # relative, as a user gives --model: the adapter config must get it absolute
    for name, base in (("known", os.path.relpath(tiny_llama)), ("unknown", None)):
        torch.manual_seed(1)
        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        # init_lora_weights=False: B is random, so the adapter changes the answers
        config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        policy = get_peft_model(model, config)
        save_final(policy, AutoTokenizer.from_pretrained(tiny_llama), root / name / "final", base_model=base)
        runs[name] = root / name / "final"
    return runs


def adapter_base(final):
    return json.loads((final / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]


def items_of(tmp_path, *argv):
    out = tmp_path / f"r{len(list(tmp_path.iterdir()))}.json"
    assert main([*ARGS, *argv, "--output", str(out)]) == 0
    return json.loads(out.read_text())["items"]


def test_adapter_with_its_base_path_loads_and_equals_the_merged_policy(lora_run, tiny_llama, tmp_path):
    final = lora_run["known"]
    assert adapter_base(final) == str(tiny_llama.resolve())
    merged = items_of(tmp_path, "--model", str(final / "policy"))
    assert items_of(tmp_path, "--model", str(final / "adapter")) == merged
    base = items_of(tmp_path, "--model", str(tiny_llama))
    assert [i["prediction"] for i in base] != [i["prediction"] for i in merged]  # the adapter was applied


def test_adapter_without_a_base_names_the_flag_then_base_model_works(lora_run, tiny_llama, tmp_path):
    final = lora_run["unknown"]
    assert adapter_base(final) is None
    proc = subprocess.run(
        [sys.executable, "-m", "tl_fast.eval", *ARGS, "--model", str(final / "adapter")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert (
        "base_model_name_or_path is null" in last and "--base-model PATH" in last and "final/policy" in last
    )
    with_base = items_of(tmp_path, "--model", str(final / "adapter"), "--base-model", str(tiny_llama))
    assert with_base == items_of(tmp_path, "--model", str(final / "policy"))
