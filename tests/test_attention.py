"""Packed rows without a varlen kernel: per-sample SDPA inside the row (tl_fast_sdpa) equals each sample
run alone and the block-diagonal-mask SDPA, forward and backward, builds no (N, N) mask, is the CPU
default."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tl_fast.attention import PACKED_NAME, register_packed_attention, select_attention
from tl_fast.data import collate_packed


def tiny(attn: str, kv_heads: int = 4) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        tie_word_embeddings=False,
    )
    cfg._attn_implementation = attn
    return LlamaForCausalLM(cfg).double()


def rows(lengths):
    g = torch.Generator().manual_seed(1)
    out = []
    for n in lengths:
        ids = torch.randint(1, 64, (n,), generator=g)
        out.append({"input_ids": ids, "labels": torch.full((n,), -100), "token_weights": torch.ones(n)})
    return out


@pytest.mark.parametrize("kv_heads", [4, 2])  # 2: grouped-query attention
def test_per_sample_attention_equals_each_sample_alone(kv_heads, monkeypatch):
    register_packed_attention()
    lengths = [5, 1, 9, 3]
    batch = collate_packed(rows(lengths))
    model = tiny(PACKED_NAME, kv_heads)
    reference = tiny("sdpa", kv_heads)
    reference.load_state_dict(model.state_dict())
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        torch.nn.functional,
        "scaled_dot_product_attention",
        lambda q, *a, **k: calls.append((q.shape[2], k.get("is_causal"))) or sdpa(q, *a, **k),
    )
    keys = ("position_ids", "cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")
    inputs = {k: batch[k] for k in keys}
    h = model.model(input_ids=batch["input_ids"], use_cache=False, **inputs).last_hidden_state
    # one causal SDPA call per sample and layer, each over that sample's tokens only: Σ L² work, no mask
    assert calls == [(n, True) for _ in range(2) for n in lengths]
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", sdpa)
    start = 0
    for n, r in zip(lengths, rows(lengths), strict=True):
        alone = reference.model(input_ids=r["input_ids"][None]).last_hidden_state[0]
        torch.testing.assert_close(h[0, start : start + n], alone, rtol=1e-10, atol=1e-10)
        start += n
    # the block-diagonal-mask path of plain SDPA, forward and backward with a random upstream gradient
    g = torch.randn_like(h)
    (grad,) = torch.autograd.grad(h, model.model.embed_tokens.weight, g)
    # (use_cache=False, as the trainer calls it: with a cache transformers does not detect packed rows)
    h_ref = reference.model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    (grad_ref,) = torch.autograd.grad(h_ref, reference.model.embed_tokens.weight, g)
    torch.testing.assert_close(h, h_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-9, atol=1e-10)


def test_no_mask_for_packed_rows_but_padding_and_cache_keep_theirs():
    from transformers.masking_utils import create_causal_mask

    register_packed_attention()
    model = tiny(PACKED_NAME)
    emb = torch.zeros(1, 6, 32, dtype=torch.float64)
    pos = torch.tensor([[0, 1, 2, 0, 1, 2]])
    assert create_causal_mask(model.config, emb, None, None, position_ids=pos) is None
    padded = torch.tensor([[1, 1, 1, 1, 0, 0]])
    mask = create_causal_mask(model.config, emb, padded, None, position_ids=pos)
    assert mask is not None and not mask[0, 0, :, 4:].any()  # padding keys masked, as SDPA has it
    # generation with a KV cache (greedy) gives the same tokens as plain SDPA
    ref = tiny("sdpa")
    ref.load_state_dict(model.state_dict())
    prompt = torch.tensor([[3, 4, 5, 6], [0, 7, 8, 9]])
    am = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]])
    kw = dict(attention_mask=am, max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(prompt, **kw), ref.generate(prompt, **kw))


def test_cpu_default_is_per_sample_attention():
    impl, why = select_attention("auto", torch.device("cpu"))
    assert impl == PACKED_NAME and "per-sample" in why
    assert select_attention("sdpa", torch.device("cpu"))[0] == "sdpa"  # the old path stays selectable
