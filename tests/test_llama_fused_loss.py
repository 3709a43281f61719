"""End to end: a tiny Llama trained with the fused PKT loss follows the HF-logits reference run step for step.

    .venv/bin/python -m pytest -q tests/test_llama_fused_loss.py

Both runs start from the same random init and see the same batches. The reference takes the model's own
logits and a token-weighted F.cross_entropy (sum w*l / sum w over trained tokens); the fused run takes the
final hidden states and calls tl_fast.fused_linear_cross_entropy with the lm_head weight (Triton under
TRITON_INTERPRET=1).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from tl_fast.losses import fused_linear_cross_entropy

transformers = pytest.importorskip("transformers")

STEPS = 4


def tiny_llama(tie: bool):
    config = transformers.LlamaConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).float().eval()  # eval: no dropout, same math in both runs


def batches(vocab: int):
    """The same batch every step, so the loss must fall."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (2, 12), generator=g)
    labels = ids.clone()
    labels[:, :4] = -100  # the prompt is not trained on
    weights = torch.rand(2, 12, generator=g) * 1.5 + 0.25  # PKT-style per-token weights
    return [(ids, labels, weights)] * STEPS


def reference_loss(model, ids, labels, weights):
    logits = model(input_ids=ids).logits[:, :-1]
    lab, w = labels[:, 1:], weights[:, 1:]
    rows = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), lab.reshape(-1), reduction="none")
    w = w.reshape(-1) * (lab.reshape(-1) != -100)
    return (rows * w).sum() / w.sum()


def fused_loss(model, ids, labels, weights):
    hidden = model.model(input_ids=ids).last_hidden_state[:, :-1]
    return fused_linear_cross_entropy(hidden, model.lm_head.weight, labels[:, 1:], weights[:, 1:])


def train(model, loss_fn):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for ids, labels, weights in batches(model.config.vocab_size):
        loss = loss_fn(model, ids, labels, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("tie", [False, True])
def test_fused_loss_training_matches_reference(tie):
    ref_model = tiny_llama(tie)
    fused_model = copy.deepcopy(ref_model)
    start = {k: v.clone() for k, v in ref_model.named_parameters()}
    ref_losses = train(ref_model, reference_loss)
    fused_losses = train(fused_model, fused_loss)
    assert ref_losses[-1] < ref_losses[0]  # it learns, so the comparison is not between two frozen models
    torch.testing.assert_close(fused_losses, ref_losses, rtol=1e-5, atol=1e-6)
    pairs = zip(ref_model.named_parameters(), fused_model.named_parameters(), strict=True)
    for (name, p_ref), (_, p_fused) in pairs:
        torch.testing.assert_close(p_fused, p_ref, rtol=1e-4, atol=1e-5, msg=name)
        assert not torch.equal(p_fused, start[name]), f"{name} did not change"
