"""Attention backend for the trainer: flash-attn when installed, else PyTorch's FlashAttention kernels.

    impl, why = select_attention("auto", torch.device("cuda"))   # ("tl_fast_varlen", "PyTorch ...")
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=impl)

Packed, padding-free batches carry `cu_seq_lens_q/k` and `max_length_q/k` (tl_fast.data.collate_packed);
transformers forwards those keyword arguments to the attention function registered here, which calls
`torch.nn.attention.varlen.varlen_attn` on the (total_tokens, heads, dim) layout. Unpacked calls (generation
with a KV cache, padded batches) go to SDPA.
"""

from __future__ import annotations

import importlib.util
import inspect

import torch

VARLEN_NAME = "tl_fast_varlen"


def _varlen_attn():
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


def _causal_kwargs(fn) -> dict:
    # torch <= 2.11 takes is_causal=; later releases take a (left, right) window instead.
    params = inspect.signature(fn).parameters
    return {"is_causal": True} if "is_causal" in params else {"window_size": (-1, 0)}


def varlen_attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers attention function: query/key/value (1, heads, total_tokens, dim) of one packed row."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu_q, cu_k = kwargs.get("cu_seq_lens_q"), kwargs.get("cu_seq_lens_k")
    if cu_q is None or query.shape[0] != 1 or not query.is_cuda or dropout:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    fn = _varlen_attn()
    q, k, v = (t.squeeze(0).transpose(0, 1) for t in (query, key, value))  # (total, heads, dim)
    out = fn(
        q.contiguous(),
        k.contiguous(),
        v.contiguous(),
        cu_q.to(torch.int32),
        (cu_k if cu_k is not None else cu_q).to(torch.int32),
        int(kwargs["max_length_q"]),
        int(kwargs.get("max_length_k") or kwargs["max_length_q"]),
        scale=scaling,
        enable_gqa=q.shape[1] != k.shape[1],
        **_causal_kwargs(fn),
    )
    return out.unsqueeze(0), None  # (1, total, heads, dim), as transformers expects


def register_varlen_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(VARLEN_NAME, varlen_attention_forward)
    AttentionMaskInterface.register(VARLEN_NAME, sdpa_mask)


def select_attention(requested: str, device: torch.device) -> tuple[str, str]:
    """Returns (attn_implementation for transformers, a sentence saying which kernels run)."""
    has_flash_attn = importlib.util.find_spec("flash_attn") is not None
    if requested == "auto":
        if device.type != "cuda":
            requested = "sdpa"
        elif has_flash_attn:
            requested = "flash_attention_2"
        elif _varlen_attn() is not None:
            requested = "varlen"
        else:
            requested = "sdpa"
    if requested == "flash_attention_2":
        if not has_flash_attn:
            raise ValueError(
                "attention='flash_attention_2' but flash-attn is not installed "
                "(pip install flash-attn --no-build-isolation)"
            )
        return requested, "flash-attn (flash_attention_2), packed batches via cu_seqlens"
    if requested == "varlen":
        if _varlen_attn() is None or device.type != "cuda":
            raise ValueError("attention='varlen' needs CUDA and torch.nn.attention.varlen (torch >= 2.10)")
        register_varlen_attention()
        return VARLEN_NAME, "PyTorch FlashAttention kernels: varlen_attn for packed batches, SDPA otherwise"
    if requested in ("sdpa", "eager"):
        what = "PyTorch SDPA" if requested == "sdpa" else "eager attention (reference, slow)"
        return requested, what + "; packed batches use a block-diagonal mask built from position_ids"
    raise ValueError(f"attention={requested!r}: expected auto, flash_attention_2, varlen, sdpa or eager")
