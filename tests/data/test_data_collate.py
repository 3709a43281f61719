"""Collators: padded and packed batches carry the same tokens; packed positions restart per sample."""

import pytest
import torch

from tl_fast.data import IGNORE_INDEX, collate_packed, collate_padded, pack_by_tokens


def _rows():
    rows = []
    for n, t in ((5, 2), (3, 1), (7, 4)):  # length, trained tail
        ids = list(range(10 * n, 10 * n + n))
        labels = [IGNORE_INDEX] * (n - t) + ids[n - t :]
        weights = [0.0] * (n - t) + [3.0] + [1.0] * (t - 1)
        rows.append({"id": f"r{n}", "input_ids": ids, "labels": labels, "token_weights": weights})
    return rows


def test_padded():
    rows = _rows()
    b = collate_padded(rows, pad_token_id=-7, pad_to_multiple_of=4)
    assert b["input_ids"].shape == (3, 8) and b["token_weights"].dtype == torch.float32
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        assert b["input_ids"][i, :n].tolist() == r["input_ids"] and (b["input_ids"][i, n:] == -7).all()
        assert b["attention_mask"][i].sum() == n
        assert (b["labels"][i, n:] == IGNORE_INDEX).all() and (b["token_weights"][i, n:] == 0).all()


def test_packed_matches_padded():
    rows = _rows()
    p, b = collate_packed(rows), collate_padded(rows, pad_token_id=0)
    mask = b["attention_mask"].bool()
    assert p["input_ids"].shape == (1, 15)
    for key in ("input_ids", "labels", "token_weights"):
        assert torch.equal(p[key][0], b[key][mask])
    assert p["position_ids"][0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6]
    assert p["cu_seqlens"].tolist() == [0, 5, 8, 15] and p["cu_seqlens"].dtype == torch.int32
    assert p["max_seqlen"] == p["max_length_q"] == 7 and p["cu_seq_lens_k"] is p["cu_seqlens"]
    # label shifting inside the packed row never trains across a boundary: each sample starts untrained
    starts = p["cu_seqlens"][:-1].long()
    assert (p["labels"][0, starts] == IGNORE_INDEX).all()


def test_packed_rejects_a_trained_first_token():
    rows = _rows()
    rows[1]["labels"][0] = 5
    with pytest.raises(ValueError, match="untrained prompt token"):
        collate_packed(rows)


def test_pack_by_tokens():
    assert pack_by_tokens([5, 3, 7, 20, 1], tokens_per_batch=10) == [[0, 1], [2], [3], [4]]
    groups = pack_by_tokens([4] * 9, tokens_per_batch=12)
    assert groups == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
