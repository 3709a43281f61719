"""TRL: PKTSFTTrainer trains like tl_fast's own SFT loop on the same batches, its columns survive TRL's column
selection; GRPOTrainer with IRMReward logs rewards equal to categorize() of what the model generated."""

from __future__ import annotations

import copy
import json

import pytest
import torch

pytest.importorskip("trl")

from trl import GRPOConfig, GRPOTrainer, SFTConfig  # noqa: E402

from tl_fast.integrations.transformers import PKTCollator  # noqa: E402
from tl_fast.integrations.trl import IRMReward, PKTSFTTrainer  # noqa: E402
from tl_fast.reward import categorize  # noqa: E402

from .conftest import WEATHER, chat_rows, tiny_llama  # noqa: E402


def sft_config(tmp_path, **kw):
    base = dict(
        per_device_train_batch_size=2, max_steps=3, learning_rate=3e-3, weight_decay=0.0, adam_beta2=0.95,
        max_grad_norm=1.0, lr_scheduler_type="cosine", warmup_steps=0, logging_steps=1, report_to=[],
        use_cpu=True, bf16=False, save_strategy="no", train_sampling_strategy="sequential", seed=0,
    )  # fmt: skip
    base.update(kw)
    return SFTConfig(str(tmp_path), **base)


def test_pkt_sft_trainer_equals_tl_fasts_own_sft_loop(tmp_path, shipped_tokenizer):
    """3 steps on the same packed batches: same losses, same parameters (same AdamW, cosine schedule,
    clipping). tl_fast's loop normalizes each micro-batch by its own weight, so grad_accum is 1 here."""
    import datasets
    from accelerate import Accelerator

    from tl_fast.train.config import RunConfig
    from tl_fast.train.config import SFTConfig as TLSFTConfig
    from tl_fast.train.report import MetricsLog
    from tl_fast.train.sft import run_sft

    rows = chat_rows(6)
    col = PKTCollator(shipped_tokenizer, packing=True)
    batches = [col(rows[i : i + 2]) for i in (0, 2, 4)]
    for b in batches:
        del b["pkt_stats"]
    assert all((b["token_weights"] > 1).any() for b in batches)
    base = tiny_llama(shipped_tokenizer)
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)

    cfg = TLSFTConfig(epochs=1, max_steps=3, lr=3e-3, weight_decay=0.0, adam_beta2=0.95, warmup_ratio=0.0)
    metrics = MetricsLog(tmp_path / "metrics.jsonl")
    run_sft(ours, shipped_tokenizer, batches, cfg, RunConfig(save_every=100), tmp_path / "tl", metrics,
            Accelerator(cpu=True))  # fmt: skip
    tl_losses = [r["loss"] for r in metrics.rows()]

    trainer = PKTSFTTrainer(
        theirs, args=sft_config(tmp_path / "trl"), train_dataset=datasets.Dataset.from_list(rows),
        processing_class=shipped_tokenizer, data_collator=col,
    )  # fmt: skip
    trainer.train()
    trl_losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    assert len(tl_losses) == len(trl_losses) == 3
    torch.testing.assert_close(trl_losses, tl_losses, rtol=1e-5, atol=1e-5)
    moved = 0
    for (n, p), q, p0 in zip(theirs.named_parameters(), ours.parameters(), base.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=n)
        moved += not torch.equal(p, p0)
    assert moved == len(list(base.parameters()))


def test_conversational_columns_survive_trls_column_selection(tmp_path, shipped_tokenizer):
    import datasets

    ds = datasets.Dataset.from_list(chat_rows(4))
    assert set(ds.column_names) == {"messages", "tools"}
    trainer = PKTSFTTrainer(
        tiny_llama(shipped_tokenizer), args=sft_config(tmp_path, max_steps=2), train_dataset=ds,
        processing_class=shipped_tokenizer,
    )  # fmt: skip
    assert trainer.args.remove_unused_columns  # TRL's default: columns are selected, ours are kept
    trainer.train()
    logged = [r for r in trainer.state.log_history if "loss" in r]
    assert trainer.pkt_report["samples"] > 0 and trainer.pkt_report["rows"] == 4
    assert all(r["pkt/mean_weight"] > 1 for r in logged)  # the key-token weights reached the loss


def test_trl_options_that_would_drop_the_weights_are_refused(tmp_path, shipped_tokenizer):
    import datasets

    ds = datasets.Dataset.from_list(chat_rows(2))
    for bad in ({"packing": True}, {"padding_free": True}, {"assistant_only_loss": True}):
        with pytest.raises(ValueError, match="PKTCollator"):
            PKTSFTTrainer(tiny_llama(shipped_tokenizer), args=sft_config(tmp_path, **bad), train_dataset=ds,
                          processing_class=shipped_tokenizer)  # fmt: skip


# ------------------------------------------------------------------------------------------------ GRPO

SCRIPT = [
    "get_weather(city='Paris')",  # correct
    "get_weather(city='Rome')",  # value error
    "get_weather_forecast(city='Paris')",  # wrong tool
    "get_time(city='Paris')",  # tool hallucination
    "get_weather(town='Paris')",  # hallucinated + missing parameter
    "get_weather(city='Paris', days=2)",  # redundant parameter
    "weather in paris ((",  # format error
    "get_weather(city='Paris')</s>",  # correct, special token left in
]


class Scripted:
    """A tiny Llama whose generate() writes scripted completions (cycling through SCRIPT), so the rewards
    cover many categories; everything else (log-probs, the GRPO update) is the real model."""

    def __init__(self, tokenizer):
        self.tokenizer, self.k, self.texts = tokenizer, 0, []

    def generate(self, model, input_ids, **kw):
        out = []
        for row in input_ids:
            text = SCRIPT[self.k % len(SCRIPT)]
            self.k += 1
            self.texts.append(text)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
            out.append(torch.cat([row, torch.tensor(ids, dtype=row.dtype)]))
        width = max(len(o) for o in out)
        pad = self.tokenizer.pad_token_id
        return torch.stack([torch.cat([o, o.new_full((width - len(o),), pad)]) for o in out])


def test_grpo_logs_rewards_equal_to_categorize(tmp_path, shipped_tokenizer):
    import datasets
    from transformers import LlamaForCausalLM

    script = Scripted(shipped_tokenizer)

    class ScriptedLlama(LlamaForCausalLM):
        def generate(self, input_ids=None, **kw):
            return script.generate(self, input_ids, **kw)

    model = ScriptedLlama(tiny_llama(shipped_tokenizer).config)
    tools = [WEATHER, {"type": "function", "function": {"name": "get_weather_forecast", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    prompts = datasets.Dataset.from_list(
        [
            {
                "prompt": f"User: weather {i}\nAssistant:",
                "tools": json.dumps(tools),
                "gold": "get_weather(city='Paris')",
            }
            for i in range(4)
        ]  # fmt: skip
    )
    cfg = GRPOConfig(
        str(tmp_path), per_device_train_batch_size=4, num_generations=4, max_completion_length=24,
        max_steps=2,
        logging_steps=1, report_to=[], use_cpu=True, bf16=False, save_strategy="no", learning_rate=1e-4,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[IRMReward()],
        args=cfg,
        train_dataset=prompts,
        processing_class=shipped_tokenizer,
    )
    trainer.train()
    logged = [r for r in trainer.state.log_history if "rewards/irm/mean" in r]
    assert len(logged) == 2 and len(script.texts) == 8
    for step, row in enumerate(logged):
        texts = script.texts[4 * step : 4 * step + 4]
        verdicts = [categorize(t, tools, "get_weather(city='Paris')") for t in texts]
        assert row["rewards/irm/mean"] == pytest.approx(sum(v.reward for v in verdicts) / 4)
        for c in {v.category for v in verdicts}:
            assert row[f"irm/{c}"] == pytest.approx(sum(v.category == c for v in verdicts) / 4)
    # the completions table of the last step: per completion, the reward and category categorize() gives
    last = [categorize(c, tools, "get_weather(city='Paris')") for c in trainer._logs["completion"]]
    assert list(trainer._logs["rewards"]["irm"]) == pytest.approx([v.reward for v in last])
    assert list(trainer._logs["extra"]["category"]) == [v.category for v in last]
    assert len({v.category for v in last}) == 4


def test_lora_sft_trains_the_adapter_and_saves_it(tmp_path, shipped_tokenizer):
    import datasets
    from peft import LoraConfig, PeftModel

    base = tiny_llama(shipped_tokenizer)
    frozen = {n: p.detach().clone() for n, p in base.named_parameters()}
    trainer = PKTSFTTrainer(
        base, args=sft_config(tmp_path, max_steps=2), train_dataset=datasets.Dataset.from_list(chat_rows(4)),
        processing_class=shipped_tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )  # fmt: skip
    trainer.train()
    model = trainer.model
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # B starts at 0: the PKT loss trained it
    for n, p in model.get_base_model().named_parameters():
        if "lora_" not in n:
            key = n.replace("base_layer.", "")
            torch.testing.assert_close(p, frozen[key], rtol=0, atol=0, msg=n)  # the base stays frozen
    trainer.save_model(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    back = PeftModel.from_pretrained(tiny_llama(shipped_tokenizer), tmp_path / "adapter").eval()
    ids = shipped_tokenizer("get_weather(city='Paris')", return_tensors="pt")["input_ids"]
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(back(input_ids=ids).logits, model(input_ids=ids).logits)
