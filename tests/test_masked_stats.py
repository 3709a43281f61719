"""masked_mean / masked_var / masked_whiten against fp64 statistics of the selected entries."""

import math

import pytest
import torch

import tl_fast
from tl_fast.rl import masked_sum, masked_var


def data(shape=(4, 37), seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(shape, generator=gen, dtype=torch.float64) + 1
    mask = torch.rand(shape, generator=gen) > 0.4
    mask[2] = False  # a row with nothing selected
    mask[3, :] = False
    mask[3, 5] = True  # a row with one element selected
    x[~mask] = math.nan  # padding garbage must never reach a result
    return x, mask


def test_masked_mean_and_sum_hand_computed():
    # selected: 1, 3 (row 0) and 10 (row 1): sum 14, mean 14 / 3; per row: (2, 10)
    x = torch.tensor([[1.0, math.inf, 3.0], [math.nan, 10.0, -5.0]])
    mask = torch.tensor([[1, 0, 1], [0, 1, 0]])
    assert masked_sum(x, mask).item() == 14.0
    torch.testing.assert_close(tl_fast.masked_mean(x, mask), torch.tensor(14.0 / 3))
    torch.testing.assert_close(tl_fast.masked_mean(x, mask, dim=1), torch.tensor([2.0, 10.0]))
    torch.testing.assert_close(
        tl_fast.masked_mean(x, mask, dim=1, keepdim=True), torch.tensor([[2.0], [10.0]])
    )


def test_masked_var_hand_computed():
    # selected 1, 3, 5: mean 3, squared deviations 4 + 0 + 4 = 8 -> biased 8/3, unbiased 8/2 = 4
    x = torch.tensor([1.0, math.nan, 3.0, 5.0])
    mask = torch.tensor([True, False, True, True])
    torch.testing.assert_close(masked_var(x, mask), torch.tensor(4.0))
    torch.testing.assert_close(masked_var(x, mask, unbiased=False), torch.tensor(8.0 / 3))


@pytest.mark.parametrize("dim", [None, 1, 0])
def test_masked_stats_match_selected_entries(dim):
    x, mask = data()
    mean = tl_fast.masked_mean(x, mask, dim=dim)
    var = masked_var(x, mask, dim=dim)
    if dim is None:
        sel = x[mask]
        torch.testing.assert_close(mean, sel.mean())
        torch.testing.assert_close(var, sel.var(unbiased=True))
        return
    for i in range(x.shape[1 - dim]):
        sel = (x[i] if dim == 1 else x[:, i])[(mask[i] if dim == 1 else mask[:, i])]
        want_mean = sel.mean() if sel.numel() else torch.tensor(0.0, dtype=x.dtype)
        want_var = sel.var(unbiased=True) if sel.numel() > 1 else torch.tensor(0.0, dtype=x.dtype)
        torch.testing.assert_close(mean[i], want_mean)
        torch.testing.assert_close(var[i], want_var)


def test_empty_selection_gives_zero_not_nan():
    x = torch.full((2, 3), math.nan)
    mask = torch.zeros(2, 3)
    assert tl_fast.masked_mean(x, mask).item() == 0.0
    assert masked_var(x, mask).item() == 0.0
    assert torch.equal(tl_fast.masked_whiten(x, mask), torch.zeros(2, 3))


@pytest.mark.parametrize("dim", [None, -1])
def test_masked_whiten(dim):
    x, mask = data()
    out = tl_fast.masked_whiten(x, mask, dim=dim)
    assert torch.equal(out[~mask], torch.zeros_like(out[~mask]))
    rows = [out[mask]] if dim is None else [out[i][mask[i]] for i in (0, 1)]
    for sel in rows:  # selected entries are standardized (unbiased variance, eps = 1e-8)
        torch.testing.assert_close(sel.mean(), torch.tensor(0.0, dtype=x.dtype), atol=1e-12, rtol=0)
        torch.testing.assert_close(
            sel.var(unbiased=True), torch.tensor(1.0, dtype=x.dtype), atol=1e-7, rtol=0
        )
    if dim is None:  # shift_mean=False adds the mean back: out = (x - mean) / std + mean
        kept = tl_fast.masked_whiten(x, mask, shift_mean=False)
        torch.testing.assert_close(kept[mask], out[mask] + x[mask].mean())


def test_masked_mean_gradient():
    x, mask = data((4, 11), seed=1)
    x = torch.where(mask, x, 0.0).requires_grad_()
    g = torch.autograd.grad(tl_fast.masked_mean(x, mask), x)[0]
    # d mean / dx = m / sum(m)
    torch.testing.assert_close(g, mask.double() / mask.sum())
    torch.autograd.gradcheck(lambda t: tl_fast.masked_whiten(t, mask), (x,))


@pytest.mark.gpu
def test_rl_functions_do_not_sync_with_the_host():
    # CUDA's sync debug mode raises on any device-to-host synchronization inside the calls.
    x, mask = data()
    x, mask = torch.where(mask, x, 0.0).float().cuda(), mask.cuda()
    logp = (x / 10).requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        tl_fast.masked_whiten(x, mask)
        adv, ret = tl_fast.gae(x, x, mask)
        loss, _ = tl_fast.ppo_policy_loss(logp, x / 10, adv, mask, dual_clip=3.0)
        loss.backward()
        tl_fast.ppo_value_loss(logp, x, ret, mask)
        tl_fast.kl_penalty(logp, x / 10, kind="k3", mask=mask)
    finally:
        torch.cuda.set_sync_debug_mode(0)
