"""The one-layer Llama the trainer's unit tests update (seeded, SDPA attention, untied head)."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tiny_policy(vocab: int = 32, dtype: torch.dtype = torch.float32) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    cfg._attn_implementation = "sdpa"
    return LlamaForCausalLM(cfg).to(dtype)
