"""PKTTrainer (transformers.Trainer + tl_fast's fused PKT loss) against independent references: the HF
Trainer's own loss, an fp64 weighted cross-entropy over the model's full logits, and one big batch."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import Trainer, TrainingArguments

from tl_fast.data import PKTConfig
from tl_fast.integrations.transformers import PKTCollator, PKTTrainer

from .conftest import tiny_llama


def args(tmp_path, **kw):
    base = dict(
        per_device_train_batch_size=2, max_steps=1, learning_rate=1.0, optim="sgd", weight_decay=0.0,
        max_grad_norm=0.0, lr_scheduler_type="constant", logging_steps=1, report_to=[], use_cpu=True,
        save_strategy="no", train_sampling_strategy="sequential", dataloader_drop_last=False, seed=0,
    )  # fmt: skip
    base.update(kw)
    return TrainingArguments(str(tmp_path), **base)


def ref_loss(model, batch) -> torch.Tensor:
    """sum(w * l) / sum(w) in fp64 over the model's own full logits (no tl_fast code)."""
    keys = ("input_ids", "attention_mask", "position_ids", "cu_seq_lens_q", "cu_seq_lens_k")
    kw = {k: batch[k] for k in keys if k in batch}
    kw.update({k: batch[k] for k in ("max_length_q", "max_length_k") if k in batch})
    logits = model(**kw).logits[:, :-1].double()
    labels, w = batch["labels"][:, 1:], batch["token_weights"][:, 1:].double()
    valid = labels != -100
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.clamp(min=0).reshape(-1), reduction="none"
    ).view(labels.shape)
    w = w * valid
    return (w * nll).sum() / w.sum()


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def deltas(before, model):
    return {n: p.detach() - before[n] for n, p in model.named_parameters()}


def test_all_weights_one_equals_the_hf_trainers_own_loss(tmp_path, shipped_tokenizer, rows):
    import datasets

    ds = datasets.Dataset.from_list(rows[:8])
    col = PKTCollator(shipped_tokenizer, pkt=PKTConfig(enabled=False))
    plain = lambda rows: {k: v for k, v in col(rows).items() if k not in ("token_weights", "pkt_stats")}  # noqa: E731
    kw = dict(
        max_steps=2, gradient_accumulation_steps=2, learning_rate=0.5
    )  # SGD: no Adam sign amplification
    hf_model, pkt_model = tiny_llama(shipped_tokenizer), tiny_llama(shipped_tokenizer)
    start = [p.detach().clone() for p in pkt_model.parameters()]
    # the plain Trainer would drop the conversations column before the collator sees it
    hf_args = args(tmp_path / "hf", remove_unused_columns=False, **kw)
    hf = Trainer(model=hf_model, args=hf_args, train_dataset=ds, data_collator=plain)
    hf.train()
    pkt = PKTTrainer(model=pkt_model, args=args(tmp_path / "pkt", **kw), train_dataset=ds, data_collator=col)
    pkt.train()
    hf_losses = [r["loss"] for r in hf.state.log_history if "loss" in r]
    pkt_losses = [r["loss"] for r in pkt.state.log_history if "loss" in r]
    assert len(pkt_losses) == 2
    torch.testing.assert_close(pkt_losses, hf_losses, rtol=1e-5, atol=1e-5)
    for (n, p), q in zip(pkt_model.named_parameters(), hf_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=n)
    assert any((p - q0).abs().max() > 1e-3 for p, q0 in zip(pkt_model.parameters(), start, strict=True))


def test_grad_accumulation_equals_one_big_batch_and_the_fp64_reference(tmp_path, shipped_tokenizer, rows):
    import datasets

    ds = datasets.Dataset.from_list(rows[:4])
    col = PKTCollator(shipped_tokenizer)
    full_batch = col(rows[:4])
    assert (full_batch["token_weights"] > 1).any()  # PKT weights are in play
    base = tiny_llama(shipped_tokenizer)
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    # one SGD step with lr 1: the parameter change is minus the gradient
    runs = {}
    for name, per_device, accum in (("full", 4, 1), ("accum", 2, 2), ("accum4", 1, 4)):
        model = copy.deepcopy(base)
        a = args(tmp_path / name, per_device_train_batch_size=per_device, gradient_accumulation_steps=accum)
        PKTTrainer(model=model, args=a, train_dataset=ds, data_collator=col).train()
        runs[name] = deltas(before, model)
    ref_model = copy.deepcopy(base)
    ref_loss(ref_model, full_batch).backward()
    want = {n: -g for n, g in grads(ref_model).items()}
    # what a per-micro-batch weighted mean (Trainer's default scaling) would give: must differ measurably
    wrong_model = copy.deepcopy(base)
    for half in (rows[:2], rows[2:4]):
        (ref_loss(wrong_model, col(half)) / 2).backward()
    wrong = {n: -g for n, g in grads(wrong_model).items()}
    gap = max((wrong[n] - want[n]).abs().max().item() for n in want)
    assert gap > 1e-3
    for name, got in runs.items():
        for n in want:
            torch.testing.assert_close(got[n], want[n], rtol=1e-4, atol=gap / 50, msg=f"{name}: {n}")


def _lora(model, targets, **kw):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets, **kw))


@pytest.mark.parametrize("variant", ["plain", "tied", "lora_lm_head", "modules_to_save", "padded_vs_packed"])
def test_gradients_equal_the_reference(tmp_path, shipped_tokenizer, rows, variant):
    model = tiny_llama(shipped_tokenizer, tie=variant == "tied")
    if variant == "lora_lm_head":
        model = _lora(model, ["q_proj", "v_proj", "lm_head"], lora_dropout=0.0)
        with torch.no_grad():  # B starts at 0: move it so the adapter changes the logits
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.5)
    if variant == "modules_to_save":
        model = _lora(model, ["q_proj"], modules_to_save=["lm_head"])
    col = PKTCollator(shipped_tokenizer, packing=variant == "padded_vs_packed")
    trainer = PKTTrainer(model=model, args=args(tmp_path), train_dataset=[{}], data_collator=col)
    batch = col(rows[:3])
    batch.pop("pkt_stats")
    model.train()
    ours = trainer.compute_loss(model, dict(batch))
    ours.backward()
    got = grads(model)
    model.zero_grad()
    ref_batch = PKTCollator(shipped_tokenizer)(rows[:3]) if variant == "padded_vs_packed" else batch
    want_loss = ref_loss(model, ref_batch)
    want_loss.backward()
    want = grads(model)
    torch.testing.assert_close(ours.double(), want_loss, rtol=1e-5, atol=1e-6)
    assert set(got) == set(want) and got
    for n in want:
        torch.testing.assert_close(got[n], want[n], rtol=1e-3, atol=1e-6, msg=n)
    if variant == "lora_lm_head":
        assert any("lm_head.lora_B" in n and want[n].abs().sum() > 0 for n in want)
    if variant == "tied":
        assert model.lm_head.weight is model.model.embed_tokens.weight


def test_lora_dropout_on_lm_head_is_the_modules_own(shipped_tokenizer):
    from tl_fast.integrations._head import head_projection

    model = _lora(tiny_llama(shipped_tokenizer), ["lm_head"], lora_dropout=0.5)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_()
    model.train()
    hidden = torch.randn(3, 5, 32)
    torch.manual_seed(1)
    theirs = model.get_output_embeddings()(hidden)
    torch.manual_seed(1)
    h, w, b, _ = head_projection(model, hidden)
    torch.testing.assert_close(torch.nn.functional.linear(h, w, b), theirs, rtol=1e-5, atol=1e-5)


def test_a_model_with_unknown_logit_transform_is_refused(tmp_path, shipped_tokenizer, rows):
    from transformers import LlamaForCausalLM

    class Scaled(LlamaForCausalLM):
        def forward(self, *a, **kw):
            out = super().forward(*a, **kw)
            out.logits = out.logits * 3.0
            return out

    base = tiny_llama(shipped_tokenizer)
    model = Scaled(base.config)
    col = PKTCollator(shipped_tokenizer)
    trainer = PKTTrainer(model=model, args=args(tmp_path), train_dataset=[{}], data_collator=col)
    with pytest.raises(RuntimeError, match="differs from the model's own logits"):
        trainer.compute_loss(model, col(rows[:2]))


def test_softcapped_model_matches_its_own_loss(tmp_path, shipped_tokenizer, rows):
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(0)
    cfg = Gemma2Config(
        vocab_size=len(shipped_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, final_logit_softcapping=0.5,
        pad_token_id=shipped_tokenizer.pad_token_id,
    )  # fmt: skip
    model = Gemma2ForCausalLM(cfg)
    col = PKTCollator(shipped_tokenizer, pkt=PKTConfig(enabled=False))
    trainer = PKTTrainer(model=model, args=args(tmp_path), train_dataset=[{}], data_collator=col)
    batch = col(rows[:2])
    batch.pop("pkt_stats")
    ours = trainer.compute_loss(model, dict(batch))
    theirs = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
    ).loss
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    uncapped = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert uncapped.abs().max() <= 0.5 + 1e-6  # the cap binds, so a missing softcap would be seen


def test_evaluate_and_save(tmp_path, shipped_tokenizer, rows):
    import datasets
    from transformers import AutoModelForCausalLM

    col = PKTCollator(shipped_tokenizer)
    model = tiny_llama(shipped_tokenizer)
    ds = datasets.Dataset.from_list(rows[:4])
    ev = datasets.Dataset.from_list(rows[4:8])
    a = args(tmp_path, optim="adamw_torch", learning_rate=1e-3, per_device_eval_batch_size=2)
    trainer = PKTTrainer(model=model, args=a, train_dataset=ds, eval_dataset=ev, data_collator=col)
    trainer.train()
    metrics = trainer.evaluate()
    model.eval()
    with torch.no_grad():
        want = [ref_loss(model, col(rows[i : i + 2])).item() for i in (4, 6)]
    assert metrics["eval_loss"] == pytest.approx(sum(want) / 2, rel=1e-5)
    trainer.save_model(str(tmp_path / "saved"))
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "saved")
    for (n, p), q in zip(model.named_parameters(), back.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=n)


def test_ddp_equals_one_big_batch(tmp_path, shipped_tokenizer):
    """2 processes x gradient accumulation 2 (gloo): the step's gradient is the fp64 reference's over all
    4 rows, and the logged loss is their weighted mean."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import chat_rows

    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(worker), str(tmp_path)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = torch.load(tmp_path / "ddp.pt")
    model = tiny_llama(shipped_tokenizer)
    batch = PKTCollator(shipped_tokenizer)(chat_rows(4))
    loss = ref_loss(model, batch)
    loss.backward()
    assert got["rows"] == 4  # every process's rows were counted
    assert got["loss"] == [pytest.approx(loss.item(), rel=1e-5)]
    for n, g in grads(model).items():
        torch.testing.assert_close(got["delta"][n], -g, rtol=1e-4, atol=1e-6, msg=n)
