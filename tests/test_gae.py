"""GAE: the one-launch Triton kernel and its vectorized torch twin against a readable Python loop."""

import math

import pytest
import torch

import tl_fast
from tl_fast.kernels import ppo as kppo

pytestmark = pytest.mark.usefixtures("nan_kernel_outputs")


def gae_reference(rewards, values, mask, gamma, lam):
    """The specification, in fp64, one row and one step at a time.

    Positions with mask == 0 are skipped: the row is read as its response tokens t_1 < ... < t_n only, so a
    token's "next" token is the next *response* token (gaps and padding on either side are ignored), and the
    episode ends after t_n (V = 0 beyond it). Advantages and returns are 0 at every masked position.
    """
    B, T = rewards.shape
    adv = torch.zeros(B, T, dtype=torch.float64)
    ret = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        next_value, next_adv = 0.0, 0.0
        for t in reversed(range(T)):
            if not mask[b, t]:
                continue
            r, v = float(rewards[b, t]), float(values[b, t])
            delta = r + gamma * next_value - v
            next_adv = delta + gamma * lam * next_adv
            next_value = v
            adv[b, t] = next_adv
            ret[b, t] = next_adv + v
    return adv, ret


def make_mask(kind: str, B: int, T: int, gen: torch.Generator) -> torch.Tensor:
    m = torch.zeros(B, T, dtype=torch.bool)
    for b in range(B):
        lo = int(torch.randint(0, max(1, T // 3), (1,), generator=gen)) if kind in ("left", "both") else 0
        hi = (
            T - int(torch.randint(0, max(1, T // 3), (1,), generator=gen)) if kind in ("right", "both") else T
        )
        m[b, lo : max(lo, hi)] = True
        if kind == "gaps":
            m[b] = torch.rand(T, generator=gen) > 0.4
    if B > 2:
        m[1] = False  # a row without response tokens
    return m


def check_against_loop(impl, B, T, kind, gamma, lam):
    gen = torch.Generator().manual_seed(B * 1000 + T)
    rewards = torch.randn(B, T, generator=gen)
    values = torch.randn(B, T, generator=gen)
    mask = make_mask(kind, B, T, gen)
    want_adv, want_ret = gae_reference(rewards, values, mask, gamma, lam)
    adv, ret = tl_fast.gae(rewards.to(impl), values.to(impl), mask.to(impl), gamma=gamma, lam=lam)
    assert adv.dtype == ret.dtype == torch.float32 and adv.shape == (B, T)
    # fp32 sums of up to T terms of size ~1: tolerance grows with the discounted horizon.
    atol = 1e-5 * (1 + min(T, 1 / max(1e-9, 1 - gamma * lam)))
    torch.testing.assert_close(adv.cpu().double(), want_adv, rtol=1e-5, atol=atol)
    torch.testing.assert_close(ret.cpu().double(), want_ret, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("B,T", [(1, 1), (3, 1), (4, 7), (5, 37), (2, 100)])
@pytest.mark.parametrize("kind", ["full", "right", "left", "both", "gaps"])
@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 0.5), (1.0, 1.0)])
def test_gae_matches_reference_loop(impl, B, T, kind, gamma, lam, monkeypatch):
    # 16-step tiles: T = 37 and 100 (not powers of two) take 3 and 7 tiles, the leftmost one partial, so the
    # carry between tiles and the masked tail of the last tile are both exercised; T = 1 is a single step.
    monkeypatch.setattr(kppo, "MAX_BLOCK_T", 16)
    check_against_loop(impl, B, T, kind, gamma, lam)


@pytest.mark.parametrize("kind", ["both", "gaps"])
def test_gae_default_tiles_long_rows(impl, kind):
    # The launcher's own tile (1024 steps): T = 1100 is two tiles, the second with 948 masked steps.
    assert kppo.gae_launch_config(3, 1100)[1] == 1024
    check_against_loop(impl, 3, 1100, kind, 1.0, 0.95)


def test_gae_hand_computed_three_steps(impl):
    # r = (0, 0, 1), V = (0.5, 0.6, 0.7), gamma = 1, lam = 0.5:
    #   delta_2 = 1 + 0 - 0.7 = 0.3            A_2 = 0.3
    #   delta_1 = 0 + 0.7 - 0.6 = 0.1          A_1 = 0.1 + 0.5 * 0.3 = 0.25
    #   delta_0 = 0 + 0.6 - 0.5 = 0.1          A_0 = 0.1 + 0.5 * 0.25 = 0.225
    #   returns = A + V = (0.725, 0.85, 1.0)
    # Row 1 holds the same three response tokens at positions 1, 3, 4 of 6, with NaN garbage at the left pad,
    # the gap and the right pad: the answer must be the same, and 0 elsewhere.
    nan = math.nan
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], [nan, 0.0, nan, 0.0, 1.0, nan]])
    values = torch.tensor([[0.5, 0.6, 0.7, 0.0, 0.0, 0.0], [nan, 0.5, nan, 0.6, 0.7, nan]])
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 1, 0, 1, 1, 0]])
    adv, ret = tl_fast.gae(rewards.to(impl), values.to(impl), mask.to(impl), gamma=1.0, lam=0.5)
    want_adv = torch.tensor([[0.225, 0.25, 0.3, 0, 0, 0], [0, 0.225, 0, 0.25, 0.3, 0]])
    want_ret = torch.tensor([[0.725, 0.85, 1.0, 0, 0, 0], [0, 0.725, 0, 0.85, 1.0, 0]])
    torch.testing.assert_close(adv.cpu(), want_adv)
    torch.testing.assert_close(ret.cpu(), want_ret)


def test_gae_discount_gamma(impl):
    # gamma = 0.5, lam = 1, V = 0, reward 1 on the last of 3 tokens: A_t = 0.5^(2 - t) = (0.25, 0.5, 1)
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values, mask = torch.zeros_like(rewards), torch.ones(1, 3)
    adv, ret = tl_fast.gae(rewards.to(impl), values.to(impl), mask.to(impl), gamma=0.5, lam=1.0)
    torch.testing.assert_close(adv.cpu(), torch.tensor([[0.25, 0.5, 1.0]]))
    torch.testing.assert_close(ret.cpu(), torch.tensor([[0.25, 0.5, 1.0]]))


def test_gae_strided_rows_and_dtypes(impl):
    # Rows that are a slice of a wider buffer (row stride != T), bf16 values, float mask.
    gen = torch.Generator().manual_seed(3)
    wide_r, wide_v = torch.randn(4, 20, generator=gen), torch.randn(4, 20, generator=gen).bfloat16()
    mask = (torch.rand(4, 13, generator=gen) > 0.3).float()
    rewards, values = wide_r[:, 2:15], wide_v[:, 2:15]
    want_adv, want_ret = gae_reference(rewards, values.float(), mask, 1.0, 0.95)
    adv, ret = tl_fast.gae(rewards.to(impl), values.to(impl), mask.to(impl))
    torch.testing.assert_close(adv.cpu().double(), want_adv, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ret.cpu().double(), want_ret, rtol=1e-5, atol=1e-5)


def test_gae_is_not_differentiable_and_checks_inputs():
    rewards = torch.randn(2, 5, requires_grad=True)
    adv, ret = tl_fast.gae(rewards, torch.randn(2, 5), torch.ones(2, 5))
    assert not adv.requires_grad and not ret.requires_grad
    with pytest.raises(ValueError, match="values has shape"):
        tl_fast.gae(torch.randn(2, 5), torch.randn(2, 4), torch.ones(2, 5))
    with pytest.raises(ValueError, match="gamma and lam"):
        tl_fast.gae(torch.randn(2, 5), torch.randn(2, 5), torch.ones(2, 5), lam=1.5)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        tl_fast.gae(torch.randn(5), torch.randn(5), torch.ones(5))


@pytest.mark.gpu
def test_gae_gpu_benchmark_shape():
    # The benchmark shape B=256, T=1024 with left and right padding: kernel vs twin vs the loop on a few rows.
    gen = torch.Generator().manual_seed(0)
    B, T = 256, 1024
    rewards, values = torch.randn(B, T, generator=gen), torch.randn(B, T, generator=gen)
    mask = make_mask("both", B, T, gen) | make_mask("gaps", B, T, gen)
    adv, ret = tl_fast.gae(rewards.cuda(), values.cuda(), mask.cuda())
    twin_adv, twin_ret = kppo.gae_torch(rewards.cuda(), values.cuda(), mask.cuda(), 1.0, 0.95)
    torch.testing.assert_close(adv, twin_adv, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ret, twin_ret, rtol=1e-4, atol=1e-4)
    rows = [0, 1, 77, 255]
    want_adv, want_ret = gae_reference(rewards[rows], values[rows], mask[rows], 1.0, 0.95)
    torch.testing.assert_close(adv[rows].cpu().double(), want_adv, rtol=1e-5, atol=2e-4)
    torch.testing.assert_close(ret[rows].cpu().double(), want_ret, rtol=1e-5, atol=2e-4)
