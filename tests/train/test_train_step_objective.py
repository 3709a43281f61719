"""The SFT step optimizes the PKT objective of the whole step: Σw·ℓ / Σw over all of its micro-batches.

Averaging per-micro-batch weighted means (what `loss / grad_accum` does) weighs a light micro-batch's tokens
as much as a heavy one's; the test builds two micro-batches whose total weights differ 6x so the two disagree.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from tl_fast.train import sft
from tl_fast.train.config import RunConfig, SFTConfig

# (input_ids, labels, token_weights): Σw over trained tokens 21 (heavy) vs 2 (light)
HEAVY = ([1, 5, 7, 9, 11, 13], [-100, 5, 7, 9, 11, 13], [1, 9, 9, 1, 1, 1])
LIGHT = ([2, 4, 6, 8, 10, 12], [-100, -100, -100, -100, 10, 12], [1, 1, 1, 1, 1, 1])


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False,
    )  # fmt: skip
    cfg._attn_implementation = "sdpa"
    return LlamaForCausalLM(cfg).double()


def padded_batch(rows: list[tuple[list[int], list[int], list[float]]]) -> dict:
    ids = torch.tensor([r[0] for r in rows])
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.tensor([r[1] for r in rows]),
        "token_weights": torch.tensor([r[2] for r in rows], dtype=torch.float64),
    }


def reference_step_gradient(model, batches) -> dict[str, torch.Tensor]:
    """Σw·ℓ / Σw over every trained token of every batch, from full logits (an independent path)."""
    model.zero_grad()
    num, den = 0.0, 0.0
    for b in batches:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
        labels, w = b["labels"][:, 1:], b["token_weights"][:, 1:]
        keep = labels != -100
        nll = F.cross_entropy(logits[keep], labels[keep], reduction="none")
        num = num + (w[keep] * nll).sum()
        den = den + w[keep].sum()
    (num / den).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_grad_accum_step_equals_one_big_batch(tmp_path, monkeypatch):
    from accelerate import Accelerator

    from tl_fast.train.report import MetricsLog

    monkeypatch.setenv("TRITON_INTERPRET", "0")
    heavy, light = padded_batch([HEAVY]), padded_batch([LIGHT])
    model = tiny_llama()
    want = reference_step_gradient(model, [heavy, light])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad()

    lr = 1e-3  # plain SGD: the update is -lr * grad, which the test reads back
    monkeypatch.setattr(sft, "make_optimizer", lambda params, *a: torch.optim.SGD(list(params), lr=lr))
    monkeypatch.setattr(sft, "save_checkpoint", lambda *a, **k: None)
    cfg = SFTConfig(epochs=1, grad_accum=2, warmup_ratio=0.0, grad_clip=0.0)
    sft.run_sft(
        model, None, [heavy, light], cfg, RunConfig(), tmp_path, MetricsLog(tmp_path / "m.jsonl"),
        Accelerator(cpu=True),
    )  # fmt: skip
    # one step, cosine schedule at step 0 = full lr
    for name, p in model.named_parameters():
        got = (before[name] - p.detach()) / lr
        torch.testing.assert_close(got, want[name], rtol=1e-5, atol=1e-7, msg=lambda m, n=name: f"{n}: {m}")

    # the per-micro-batch mean is a different objective here (so the comparison above can fail)
    model2 = tiny_llama()
    model2.zero_grad()
    per_micro = 0.0
    for b in (heavy, light):
        g = reference_step_gradient(model2, [b])
        per_micro = per_micro + g["lm_head.weight"] / 2
    assert not torch.allclose(per_micro, want["lm_head.weight"], rtol=1e-3)


@pytest.mark.parametrize("normalizer", [None, 7.5])
def test_pkt_loss_normalizer(normalizer, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    from tl_fast.train.model import PKTLoss, trained_weight

    b = padded_batch([([1, 5, 7, 9], [-100, 5, -100, 9], [1, 3, 2, 1])])
    assert float(trained_weight(b)) == 4.0  # labels shifted: tokens 5 (w 3) and 9 (w 1)
    model = tiny_llama()
    logits = model(input_ids=b["input_ids"]).logits[0, :-1]
    nll = F.cross_entropy(logits, b["labels"][0, 1:], reduction="none", ignore_index=-100)
    num = 3 * nll[0] + 1 * nll[2]
    want = num / (4.0 if normalizer is None else normalizer)
    got = PKTLoss(model)(b, normalizer=normalizer)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_two_processes_step_equals_one_big_batch(tmp_path):
    """DDP averages gradients over processes; the step must still be Σw·ℓ / Σw over both processes' tokens."""
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         str(Path(__file__).parent / "step_objective_worker.py"), str(tmp_path)],
        cwd=tmp_path, env={**os.environ, "TRITON_INTERPRET": "0", "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    want = reference_step_gradient(tiny_llama(), [padded_batch([HEAVY]), padded_batch([LIGHT])])
    for rank in (0, 1):
        update = torch.load(tmp_path / f"update{rank}.pt")
        for name, got in update.items():
            torch.testing.assert_close(
                got, want[name], rtol=1e-5, atol=1e-7, msg=lambda m, n=name: f"{n}: {m}"
            )
