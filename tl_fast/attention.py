"""Attention backend for the trainer: flash-attn when installed, else PyTorch's FlashAttention kernels.

    impl, why = select_attention("auto", torch.device("cuda"))   # ("tl_fast_varlen", "PyTorch ...")
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=impl)

Packed, padding-free batches carry `cu_seq_lens_q/k` and `max_length_q/k` (tl_fast.data.collate_packed);
transformers forwards those keyword arguments to the attention function registered here, which calls
`torch.nn.attention.varlen.varlen_attn` on the (total_tokens, heads, dim) layout. Unpacked calls (generation
with a KV cache, padded batches) go to SDPA.

Without a varlen kernel (CPU; CUDA without flash-attn or varlen_attn), plain SDPA would run over the whole
packed row with a block-diagonal mask: (Σ L)² attention work and an (N, N) mask. `tl_fast_sdpa` instead runs
causal SDPA per sample inside the packed row (Σ L² work, no mask); measured on the 2-core CPU by
benchmarks/bench_packing.py, where it is at least as fast as padded batches (README, "Training").
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


PACKED_NAME = "tl_fast_sdpa"


def _sample_bounds(query, kwargs) -> list[int] | None:
    """[0, e_1, ..., N]: the samples of a packed row, from cu_seq_lens_q or where position_ids restart."""
    cu = kwargs.get("cu_seq_lens_q")
    if cu is not None:
        return [int(x) for x in cu.tolist()]
    pos = kwargs.get("position_ids")
    if pos is None or pos.shape[-1] != query.shape[2]:
        return None
    starts = (pos.reshape(-1) == 0).nonzero().flatten().tolist()
    return [*starts, query.shape[2]] if starts and starts[0] == 0 else None


def packed_sdpa_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers attention function: per-sample causal SDPA inside one packed row (no mask was built,
    see packed_sdpa_mask); every other call is transformers' SDPA. query/key/value: (1, heads, N, dim)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = None
    if attention_mask is None and query.shape[0] == 1 and query.shape[2] == key.shape[2] > 1:
        bounds = _sample_bounds(query, kwargs)
    if bounds is None or getattr(module, "sliding_window", None):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    gqa = query.shape[1] != key.shape[1]
    out = torch.cat(
        [
            torch.nn.functional.scaled_dot_product_attention(
                query[:, :, s:e],
                key[:, :, s:e],
                value[:, :, s:e],
                dropout_p=dropout,
                is_causal=True,
                scale=scaling,
                enable_gqa=gqa,
            )
            for s, e in zip(bounds[:-1], bounds[1:], strict=True)
            if e > s
        ],
        dim=2,
    )
    return out.transpose(1, 2).contiguous(), None  # (1, N, heads, dim), as transformers expects


def packed_sdpa_mask(batch_size, q_length, kv_length, q_offset=0, kv_offset=0, attention_mask=None, **kwargs):
    """Mask interface of `tl_fast_sdpa`: no mask for a mask-free training row without cache (the attention
    function splits it per sample); anything else (padding, KV cache, sliding windows) gets SDPA's mask."""
    from transformers.masking_utils import sdpa_mask

    config = kwargs.get("config")
    plain = attention_mask is None and batch_size == 1 and q_length == kv_length
    plain = plain and isinstance(q_offset, int) and q_offset == 0 and not kv_offset
    if plain and kwargs.get("local_size") is None and getattr(config, "sliding_window", None) is None:
        return None
    return sdpa_mask(
        batch_size, q_length, kv_length, q_offset, kv_offset, attention_mask=attention_mask, **kwargs
    )


def register_packed_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(PACKED_NAME, packed_sdpa_forward)
    AttentionMaskInterface.register(PACKED_NAME, packed_sdpa_mask)


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
            requested = "packed_sdpa"
        elif has_flash_attn:
            requested = "flash_attention_2"
        elif _varlen_attn() is not None:
            requested = "varlen"
        else:
            requested = "packed_sdpa"
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
    if requested == "packed_sdpa":
        register_packed_attention()
        return PACKED_NAME, "PyTorch SDPA; packed batches: per-sample causal SDPA inside the packed row"
    if requested in ("sdpa", "eager"):
        what = "PyTorch SDPA" if requested == "sdpa" else "eager attention (reference, slow)"
        return requested, what + "; packed batches use a block-diagonal mask over the whole row"
    raise ValueError(
        f"attention={requested!r}: expected auto, flash_attention_2, varlen, packed_sdpa, sdpa or eager"
    )
