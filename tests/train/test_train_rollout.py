"""Rollout bookkeeping: which generated tokens a response's log-probs, values and rewards cover."""

import torch

from tl_fast.train.rollout import _response_mask


def test_response_mask_keeps_tokens_up_to_and_including_the_first_eos():
    eos, pad = 2, 0
    responses = torch.tensor(
        [
            [5, 6, 2, 0, 0],  # EOS at 2, then padding: tokens 0..2 count (EOS included: it is a choice)
            [5, 2, 7, 2, 0],  # only the first EOS ends the response
            [5, 6, 7, 8, 9],  # no EOS: cut by max_new_tokens, every token counts
            [2, 0, 0, 0, 0],  # EOS at once
        ]
    )
    want = [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]
    mask, ended = _response_mask(responses, {eos}, pad)
    assert mask.tolist() == want
    assert ended.tolist() == [True, True, False, True]  # the overlong rule (DAPO) reads this
    # pad == eos (tokenizers without a pad token): the first EOS still counts, the padding after it not
    same = torch.tensor([[5, 2, 2, 2]])
    mask, ended = _response_mask(same, {2}, 2)
    assert mask.tolist() == [[1, 1, 0, 0]] and ended.tolist() == [True]
