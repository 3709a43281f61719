"""Collators for encoded samples: right-padded batches, or packed (padding-free) rows.

    batch = collate_padded(rows, pad_token_id=tokenizer.pad_token_id)  # (B, T) + attention_mask
    batch = collate_packed(rows)                                         # (1, N) + position_ids, cu_seqlens

rows: dicts with input_ids, labels, token_weights (lists or 1-D tensors), e.g. rows of build_sft_dataset.
Packed rows are safe for causal-LM label shifting: the first token of every sample is a prompt token
(label -100, weight 0), so the position that would predict across a boundary is never trained.
"""

from __future__ import annotations

from typing import Any

import torch

from tl_fast.data.pkt import IGNORE_INDEX


def _as_tensor(x: Any, dtype: torch.dtype) -> torch.Tensor:
    return x.to(dtype) if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=dtype)


def collate_padded(
    rows: list[dict[str, Any]], pad_token_id: int, pad_to_multiple_of: int | None = None
) -> dict[str, torch.Tensor]:
    """input_ids (B, T) int64, attention_mask (B, T) int64, labels (B, T) int64 (-100 on padding),
    token_weights (B, T) fp32 (0 on padding). T is the longest row, rounded up to pad_to_multiple_of."""
    if not rows:
        raise ValueError("cannot collate an empty batch")
    T = max(len(r["input_ids"]) for r in rows)
    if pad_to_multiple_of:
        T = -(-T // pad_to_multiple_of) * pad_to_multiple_of
    B = len(rows)
    out = {
        "input_ids": torch.full((B, T), pad_token_id, dtype=torch.long),
        "attention_mask": torch.zeros((B, T), dtype=torch.long),
        "labels": torch.full((B, T), IGNORE_INDEX, dtype=torch.long),
        "token_weights": torch.zeros((B, T), dtype=torch.float32),
    }
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        out["input_ids"][b, :n] = _as_tensor(r["input_ids"], torch.long)
        out["attention_mask"][b, :n] = 1
        out["labels"][b, :n] = _as_tensor(r["labels"], torch.long)
        out["token_weights"][b, :n] = _as_tensor(r["token_weights"], torch.float32)
    return out


def collate_packed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of N = sum of lengths tokens: input_ids, labels (1, N) int64, token_weights (1, N) fp32,
    position_ids (1, N) int64 restarting at 0 per sample, cu_seqlens (B+1,) int32 sample boundaries,
    max_seqlen int; the same boundaries under transformers' names cu_seq_lens_q/k and max_length_q/k."""
    if not rows:
        raise ValueError("cannot collate an empty batch")
    lengths = [len(r["input_ids"]) for r in rows]
    for r, n in zip(rows, lengths, strict=True):
        if len(r["labels"]) != n or len(r["token_weights"]) != n:
            raise ValueError(f"row {r.get('id', '?')}: input_ids, labels and token_weights differ in length")
        if r["labels"][0] != IGNORE_INDEX:
            raise ValueError(
                f"row {r.get('id', '?')}: a packed row must start with an untrained prompt token"
            )
    cu = torch.zeros(len(rows) + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(torch.tensor(lengths), 0)
    max_len = max(lengths)
    return {
        "input_ids": torch.cat([_as_tensor(r["input_ids"], torch.long) for r in rows])[None],
        "labels": torch.cat([_as_tensor(r["labels"], torch.long) for r in rows])[None],
        "token_weights": torch.cat([_as_tensor(r["token_weights"], torch.float32) for r in rows])[None],
        "position_ids": torch.cat([torch.arange(n) for n in lengths])[None],
        "cu_seqlens": cu,
        "max_seqlen": max_len,
        "cu_seq_lens_q": cu,
        "cu_seq_lens_k": cu,
        "max_length_q": max_len,
        "max_length_k": max_len,
    }


def pack_by_tokens(lengths: list[int], tokens_per_batch: int) -> list[list[int]]:
    """Next-fit in order: consecutive groups of row indices whose lengths sum to at most tokens_per_batch
    (a row longer than the budget forms its own group)."""
    groups, current, used = [], [], 0
    for i, n in enumerate(lengths):
        if current and used + n > tokens_per_batch:
            groups.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        groups.append(current)
    return groups
