"""Group-relative advantages (GRPO / Dr. GRPO), the loss aggregations and DAPO's overlong shaping, on small
hand-computed cases (derivations in the comments)."""

import math

import pytest
import torch

from tl_fast.rl import aggregate_loss, group_advantages, overlong_penalty

# Three prompts x G=4 samples.
SCORES = torch.tensor([1.0, 0.0, 1.0, 0.0, 3.0, 3.0, 3.0, 3.0, -2.0, 1.0, 0.0, 1.0])


def test_grpo_advantage_divides_by_the_groups_std():
    adv, st = group_advantages(SCORES, 4)
    # g0 = [1, 0, 1, 0]: mean 1/2, unbiased var = 4 * (1/2)^2 / 3 = 1/3, A = ±(1/2) / sqrt(1/3) = ±sqrt(3)/2
    # g1 = [3, 3, 3, 3]: std 0, A = 0 / (0 + eps) = 0 (no signal)
    # g2 = [-2, 1, 0, 1]: mean 0, var = (4 + 1 + 0 + 1) / 3 = 2, A = r / sqrt(2)
    h = math.sqrt(3) / 2
    r2 = 1 / math.sqrt(2)
    want = torch.tensor([h, -h, h, -h, 0, 0, 0, 0, -2 * r2, r2, 0, r2])
    torch.testing.assert_close(adv, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(st.mean, torch.tensor([0.5, 3.0, 0.0]))
    torch.testing.assert_close(st.std, torch.tensor([math.sqrt(1 / 3), 0.0, math.sqrt(2)]))
    assert st.signal.tolist() == [True, False, True]  # DAPO's dynamic sampling drops g1


def test_dr_grpo_advantage_is_not_divided_by_std():
    adv, _ = group_advantages(SCORES, 4, scale_by_std=False)
    # A = r - mean of its group: g0 ±1/2, g1 0, g2 = r (mean 0)
    want = torch.tensor([0.5, -0.5, 0.5, -0.5, 0, 0, 0, 0, -2.0, 1.0, 0.0, 1.0])
    torch.testing.assert_close(adv, want)


def test_group_advantages_reject_bad_groups():
    with pytest.raises(ValueError, match="multiple of group_size"):
        group_advantages(SCORES[:5], 4)
    with pytest.raises(ValueError, match=">= 2"):
        group_advantages(SCORES, 1)


def test_loss_aggregations():
    nan = float("nan")
    loss = torch.tensor([[1.0, 3.0, nan, nan], [2.0, 2.0, 2.0, 6.0], [nan, nan, nan, nan]])
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    # token_mean: (1 + 3 + 2 + 2 + 2 + 6) / 6 tokens; the empty third row adds nothing
    assert aggregate_loss(loss, mask, "token_mean").item() == pytest.approx(16 / 6)
    # seq_mean: rows with tokens only: (4/2 + 12/4) / 2
    assert aggregate_loss(loss, mask, "seq_mean").item() == pytest.approx(2.5)
    # seq_sum_norm: 16 / (B=3 rows x max_len=4), whatever the lengths
    assert aggregate_loss(loss, mask, "seq_sum_norm", max_len=4).item() == pytest.approx(16 / 12)
    # a global token count (e.g. over processes) replaces the local one
    assert aggregate_loss(loss, mask, "token_mean", num_tokens=torch.tensor(8)).item() == pytest.approx(2.0)
    assert aggregate_loss(loss, mask, "seq_mean", num_seqs=torch.tensor(4)).item() == pytest.approx(1.25)
    assert aggregate_loss(loss, torch.zeros_like(mask), "token_mean").item() == 0.0
    with pytest.raises(ValueError, match="max_len"):
        aggregate_loss(loss, mask, "seq_sum_norm")


def test_aggregations_weigh_tokens_differently():
    # d loss / d l_t: token_mean gives every token 1/N; seq_mean gives a token of row i 1/(n_rows |o_i|)
    loss = torch.ones(2, 4, requires_grad=True)
    mask = torch.tensor([[1, 0, 0, 0], [1, 1, 1, 1]])
    (g_tok,) = torch.autograd.grad(aggregate_loss(loss, mask, "token_mean"), loss)
    (g_seq,) = torch.autograd.grad(aggregate_loss(loss, mask, "seq_mean"), loss)
    (g_dr,) = torch.autograd.grad(aggregate_loss(loss, mask, "seq_sum_norm", max_len=8), loss)
    assert g_tok[0, 0] == g_tok[1, 0] == pytest.approx(1 / 5)
    assert g_seq[0, 0] == pytest.approx(1 / 2) and g_seq[1, 0] == pytest.approx(1 / 8)
    assert g_dr[0, 0] == g_dr[1, 3] == pytest.approx(1 / 16)  # 1 / (B * max_len)
    assert g_tok[0, 1] == g_seq[0, 1] == g_dr[0, 1] == 0


def test_overlong_penalty_is_dapos_soft_punishment():
    # max_len 8, buffer 4: no penalty up to 8 - 4 = 4 tokens, then -(len - 4) / 4, -1 at 8
    lengths = torch.tensor([3, 4, 6, 8])
    torch.testing.assert_close(overlong_penalty(lengths, 8, 4), torch.tensor([0.0, 0.0, -0.5, -1.0]))
    torch.testing.assert_close(
        overlong_penalty(lengths, 8, 4, factor=2.0), torch.tensor([0.0, 0.0, -1.0, -2.0])
    )
    with pytest.raises(ValueError, match="buffer"):
        overlong_penalty(lengths, 8, 0)
