"""PPO policy / value losses and KL penalties: hand-computed cases, fp64 references, both implementations."""

import importlib.util
import math

import pytest
import torch

import tl_fast
from tl_fast.kernels import ppo as kppo

pytestmark = pytest.mark.usefixtures("nan_kernel_outputs")
LN2 = math.log(2.0)


def leaf(values, device, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, device=device, requires_grad=True)


# ---------------------------------------------------------------------------------------------------------
# Policy loss: hand-computed


def test_policy_loss_hand_computed_branches(impl):
    # clip = 0.2, rho = exp(logp - old) exactly 2, 1/2 or 1; l = max(-A rho, -A clamp(rho, 0.8, 1.2)):
    #   tok 0: A=+1, rho=2   -> max(-2, -1.2)    = -1.2   clipped,   dl/dlogp = 0
    #   tok 1: A=+1, rho=1/2 -> max(-0.5, -0.8)  = -0.5   unclipped, dl/dlogp = -A rho = -0.5
    #   tok 2: A=-1, rho=2   -> max(2, 1.2)      =  2     unclipped, dl/dlogp = 2
    #   tok 3: A=-1, rho=1/2 -> max(0.5, 0.8)    =  0.8   clipped,   dl/dlogp = 0
    #   tok 4: A=+2, rho=1   -> -2                        unclipped, dl/dlogp = -2
    #   tok 5: masked (inf garbage), contributes nothing
    # token mean = (-1.2 - 0.5 + 2 + 0.8 - 2) / 5 = -0.18; d mean / dlogp = dl/dlogp / 5
    # clip_frac = 2/5; approx_kl = mean((rho - 1) - log rho) = 2 * (1 - ln2) + 2 * (-0.5 + ln2) + 0) / 5
    logp = leaf([[LN2, -LN2, LN2, -LN2, 0.0, math.inf]], impl)
    old = torch.zeros(1, 6, device=impl)
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0, 2.0, math.nan]], device=impl)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]], device=impl, dtype=torch.bool)
    loss, stats = tl_fast.ppo_policy_loss(logp, old, adv, mask, clip=0.2)
    loss.backward()
    torch.testing.assert_close(loss.cpu(), torch.tensor(-0.18))
    torch.testing.assert_close(logp.grad.cpu(), torch.tensor([[0.0, -0.5, 2.0, 0.0, -2.0, 0.0]]) / 5)
    torch.testing.assert_close(stats.clip_frac.cpu(), torch.tensor(0.4))
    torch.testing.assert_close(stats.dual_clip_frac.cpu(), torch.tensor(0.0))
    torch.testing.assert_close(stats.approx_kl.cpu(), torch.tensor((2 * (1 - LN2) + 2 * (LN2 - 0.5)) / 5))
    torch.testing.assert_close(stats.ratio_mean.cpu(), torch.tensor((2 + 0.5 + 2 + 0.5 + 1) / 5))
    torch.testing.assert_close(stats.ratio_max.cpu(), torch.tensor(2.0))
    assert all(not s.requires_grad for s in stats)


def test_policy_loss_dual_clip_and_clip_high(impl):
    # dual_clip c = 1.5 caps tokens with A < 0 at -c A: tok 2 above (l = 2) becomes 1.5 with gradient 0.
    # clip_high = 0.5 widens the upper bound: tok 0 (A=+1, rho=2) -> max(-2, -1.5) = -1.5, still clipped.
    logp = leaf([[LN2, -LN2, LN2, -LN2]], impl)
    old = torch.zeros(1, 4, device=impl)
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0]], device=impl)
    mask = torch.ones(1, 4, device=impl)
    loss, stats = tl_fast.ppo_policy_loss(
        logp, old, adv, mask, clip=0.2, clip_high=0.5, dual_clip=1.5, reduction="none"
    )
    loss.backward(torch.tensor([[1.0, 2.0, 3.0, 4.0]], device=impl))
    torch.testing.assert_close(loss.detach().cpu(), torch.tensor([[-1.5, -0.5, 1.5, 0.8]]))
    torch.testing.assert_close(logp.grad.cpu(), torch.tensor([[0.0, -0.5 * 2.0, 0.0, 0.0]]))
    torch.testing.assert_close(stats.clip_frac.cpu(), torch.tensor(0.5))  # tokens 0 and 3
    torch.testing.assert_close(stats.dual_clip_frac.cpu(), torch.tensor(0.25))  # token 2


def policy_loss_reference(logp, old, adv, mask, clip_low, clip_high, dual_clip):
    """TRL / OpenRLHF-style formula in plain torch (autograd gives the gradient); per-token, masked to 0."""
    ratio = torch.exp(logp - old)
    l1 = -adv * ratio
    l2 = -adv * ratio.clamp(1 - clip_low, 1 + clip_high)
    loss = torch.maximum(l1, l2)
    if dual_clip is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -dual_clip * adv), loss)
    return torch.where(mask, loss, 0.0)


@pytest.mark.parametrize("shape", [(3, 423), (1, 1), (2, 1030)])
@pytest.mark.parametrize("dual_clip,clip_high", [(None, None), (3.0, 0.28)])
@pytest.mark.parametrize("reduction", ["token_mean", "seq_mean", "none"])
def test_policy_loss_matches_fp64_reference(impl, shape, dual_clip, clip_high, reduction):
    gen = torch.Generator().manual_seed(shape[1])
    old = torch.randn(shape, generator=gen, dtype=torch.float64) - 2
    logp64 = old + 0.4 * torch.randn(shape, generator=gen, dtype=torch.float64)  # many tokens beyond the clip
    adv = torch.randn(shape, generator=gen, dtype=torch.float64)
    mask = torch.rand(shape, generator=gen) > 0.25
    if shape[0] > 1:
        mask[0] = False  # a row without tokens
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)

    ref_logp = logp64.clone().requires_grad_()
    ref_tok = policy_loss_reference(ref_logp, old, adv, mask, 0.2, clip_high or 0.2, dual_clip)
    if reduction == "token_mean":
        ref = ref_tok.sum() / mask.sum().clamp(min=1)
    elif reduction == "seq_mean":
        rows = mask.any(-1)
        per_row = ref_tok.sum(-1) / mask.sum(-1).clamp(min=1)
        ref = (per_row * rows).sum() / rows.sum().clamp(min=1)
    else:
        ref = ref_tok
    (ref * upstream if reduction == "none" else ref).sum().backward()

    logp = logp64.float().to(impl).requires_grad_()
    out, stats = tl_fast.ppo_policy_loss(
        logp,
        old.float().to(impl),
        adv.float().to(impl),
        mask.to(impl),
        clip=0.2,
        clip_high=clip_high,
        dual_clip=dual_clip,
        reduction=reduction,
    )
    (out * upstream.float().to(impl) if reduction == "none" else out).sum().backward()
    torch.testing.assert_close(out.detach().cpu().double(), ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logp.grad.cpu().double(), ref_logp.grad, rtol=1e-5, atol=1e-6)

    ratio = torch.exp(logp64 - old)
    l1, l2 = -adv * ratio, -adv * ratio.clamp(0.8, 1 + (clip_high or 0.2))
    n = mask.sum().clamp(min=1).double()
    torch.testing.assert_close(stats.clip_frac.cpu().double(), ((l2 > l1) & mask).sum() / n)
    kl = torch.where(mask, ratio - 1 - (logp64 - old), 0.0)
    torch.testing.assert_close(stats.approx_kl.cpu().double(), kl.sum() / n, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        stats.ratio_mean.cpu().double(), (ratio * mask).sum() / n, rtol=1e-5, atol=1e-7
    )
    torch.testing.assert_close(stats.ratio_max.cpu().double(), ratio[mask].max(), rtol=1e-5, atol=1e-7)


def test_policy_loss_all_masked_is_zero_not_nan(impl):
    logp = leaf([[math.nan, math.inf]], impl)
    z = torch.full((1, 2), math.nan, device=impl)
    loss, stats = tl_fast.ppo_policy_loss(logp, z, z, torch.zeros(1, 2, device=impl))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logp.grad.cpu(), torch.zeros(1, 2))
    assert stats.clip_frac.item() == 0.0 and stats.approx_kl.item() == 0.0
    assert stats.ratio_max.item() == -math.inf


def test_policy_loss_bf16_logprobs_get_bf16_grad(impl):
    logp = leaf([[-1.0, -2.0]], impl, torch.bfloat16)
    loss, _ = tl_fast.ppo_policy_loss(
        logp, logp.detach().float(), torch.ones(1, 2, device=impl), torch.ones(1, 2, device=impl)
    )
    loss.backward()
    # rho = 1 everywhere: l = -A, dl/dlogp = -A rho = -1, mean over 2 tokens
    assert logp.grad.dtype == torch.bfloat16
    torch.testing.assert_close(logp.grad.float().cpu(), torch.tensor([[-0.5, -0.5]]))


def test_policy_loss_rejects_bad_arguments():
    x = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="advantages must be detached"):
        tl_fast.ppo_policy_loss(x, x, torch.zeros(1, 3, requires_grad=True), torch.ones(1, 3))
    with pytest.raises(ValueError, match="dual_clip"):
        tl_fast.ppo_policy_loss(x, x, x, torch.ones(1, 3), dual_clip=0.5)
    with pytest.raises(ValueError, match="expected"):
        tl_fast.ppo_policy_loss(x, x, torch.zeros(1, 4), torch.ones(1, 3))
    with pytest.raises(ValueError, match="reduction"):
        tl_fast.ppo_policy_loss(x, x, x, torch.ones(1, 3), reduction="mean")


# ---------------------------------------------------------------------------------------------------------
# Value loss


def test_value_loss_hand_computed_branches(impl):
    # clip = 0.2, v_c = old + clamp(v - old, -0.2, 0.2), l = 0.5 max((v - R)^2, (v_c - R)^2):
    #   tok 0: v=1.5, old=1, R=2 -> v_c=1.2: max(0.25, 0.64) -> 0.32  clipped,   dl/dv = 0
    #   tok 1: v=1.1, old=1, R=2 -> v_c=1.1: equal         -> 0.405 unclipped, dl/dv = v - R = -0.9
    #   tok 2: v=0.5, old=1, R=0 -> v_c=0.8: max(0.25, 0.64) -> 0.32  clipped,   dl/dv = 0
    #   tok 3: v=1.5, old=1, R=0 -> v_c=1.2: max(2.25, 1.44) -> 1.125 unclipped, dl/dv = 1.5
    #   tok 4: masked
    # token mean = (0.32 + 0.405 + 0.32 + 1.125) / 4 = 0.5425, clip_frac = 0.5
    v = leaf([[1.5, 1.1, 0.5, 1.5, math.nan]], impl)
    old = torch.tensor([[1.0, 1.0, 1.0, 1.0, math.nan]], device=impl)
    ret = torch.tensor([[2.0, 2.0, 0.0, 0.0, math.inf]], device=impl)
    mask = torch.tensor([[1, 1, 1, 1, 0]], device=impl)
    loss, stats = tl_fast.ppo_value_loss(v, old, ret, mask, clip=0.2)
    loss.backward()
    torch.testing.assert_close(loss.cpu(), torch.tensor(0.5425))
    torch.testing.assert_close(v.grad.cpu(), torch.tensor([[0.0, -0.9, 0.0, 1.5, 0.0]]) / 4)
    torch.testing.assert_close(stats.clip_frac.cpu(), torch.tensor(0.5))
    torch.testing.assert_close(stats.value_mean.cpu(), torch.tensor(4.6 / 4))
    torch.testing.assert_close(stats.return_mean.cpu(), torch.tensor(1.0))


def test_value_loss_unclipped(impl):
    # clip=None: l = 0.5 (v - R)^2 whatever old is; tok 0 above gives 0.5 * 0.25 = 0.125, grad -0.5.
    v = leaf([[1.5]], impl)
    loss, stats = tl_fast.ppo_value_loss(
        v,
        torch.ones(1, 1, device=impl),
        torch.full((1, 1), 2.0, device=impl),
        torch.ones(1, 1, device=impl),
        clip=None,
    )
    loss.backward()
    torch.testing.assert_close(loss.cpu(), torch.tensor(0.125))
    torch.testing.assert_close(v.grad.cpu(), torch.tensor([[-0.5]]))
    assert stats.clip_frac.item() == 0.0


@pytest.mark.parametrize("shape", [(3, 423), (2, 1030)])
@pytest.mark.parametrize("clip", [0.2, None])
def test_value_loss_matches_fp64_reference(impl, shape, clip):
    gen = torch.Generator().manual_seed(7)
    old = torch.randn(shape, generator=gen, dtype=torch.float64)
    v64 = old + 0.3 * torch.randn(shape, generator=gen, dtype=torch.float64)
    ret = torch.randn(shape, generator=gen, dtype=torch.float64)
    mask = torch.rand(shape, generator=gen) > 0.3
    upstream = torch.randn(shape, generator=gen, dtype=torch.float64)

    ref_v = v64.clone().requires_grad_()
    ref = 0.5 * (ref_v - ret) ** 2
    if clip is not None:
        ref = torch.maximum(ref, 0.5 * (old + (ref_v - old).clamp(-clip, clip) - ret) ** 2)
    ref = torch.where(mask, ref, 0.0)
    (ref * upstream).sum().backward()

    v = v64.float().to(impl).requires_grad_()
    out, _ = tl_fast.ppo_value_loss(
        v, old.float().to(impl), ret.float().to(impl), mask.to(impl), clip=clip, reduction="none"
    )
    (out * upstream.float().to(impl)).sum().backward()
    torch.testing.assert_close(out.detach().cpu().double(), ref.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(v.grad.cpu().double(), ref_v.grad, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# KL penalty


def test_kl_penalty_hand_computed():
    # d = logp - ref = (ln 2, -ln 2, 0):
    #   k1 = d;   k2 = d^2 / 2;   k3 = exp(-d) - 1 + d = (0.5 - 1 + ln2, 2 - 1 - ln2, 0)
    # gradients: dk1/dlogp = 1, dk2/dlogp = d, dk3/dlogp = 1 - exp(-d) = (0.5, -1, 0); d/dref = -d/dlogp
    d = torch.tensor([[LN2, -LN2, 0.0]])
    want = {"k1": d, "k2": 0.5 * d * d, "k3": torch.tensor([[LN2 - 0.5, 1 - LN2, 0.0]])}
    want_grad = {"k1": torch.ones(1, 3), "k2": d, "k3": torch.tensor([[0.5, -1.0, 0.0]])}
    for kind in ("k1", "k2", "k3"):
        logp = leaf([[LN2 - 1, -LN2 - 1, -1.0]], "cpu")
        ref = leaf([[-1.0, -1.0, -1.0]], "cpu")
        kl, stats = tl_fast.kl_penalty(logp, ref, kind=kind)
        kl.sum().backward()
        torch.testing.assert_close(kl.detach(), want[kind])
        torch.testing.assert_close(logp.grad, want_grad[kind])
        torch.testing.assert_close(ref.grad, -want_grad[kind])
        torch.testing.assert_close(stats.mean, want[kind].mean())
        torch.testing.assert_close(stats.max, want[kind].max())


def test_kl_penalty_mask_and_errors():
    logp = torch.tensor([[0.0, math.nan, -1.0]], requires_grad=True)
    ref = torch.tensor([[-1.0, 0.0, -1.0]])
    kl, stats = tl_fast.kl_penalty(logp, ref, kind="k3", mask=torch.tensor([[1, 0, 1]]))
    kl.sum().backward()
    torch.testing.assert_close(kl.detach(), torch.tensor([[math.exp(-1) - 1 + 1, 0.0, 0.0]]))
    assert torch.isfinite(logp.grad).all() and logp.grad[0, 1] == 0
    torch.testing.assert_close(stats.mean, torch.tensor(math.exp(-1) / 2))
    with pytest.raises(ValueError, match="kind"):
        tl_fast.kl_penalty(logp, ref, kind="k4")


# ---------------------------------------------------------------------------------------------------------
# Log-probs (implemented in tl_fast.logprobs, re-exported here)


@pytest.mark.skipif(importlib.util.find_spec("tl_fast.logprobs") is None, reason="tl_fast.logprobs not built")
def test_fused_linear_logprobs_reexport_matches_log_softmax():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(5, 16, generator=gen, dtype=torch.float64)
    weight = torch.randn(70, 16, generator=gen, dtype=torch.float64)
    tokens = torch.randint(0, 70, (5,), generator=gen)
    upstream = torch.randn(5, generator=gen, dtype=torch.float64)
    ref_h, ref_w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    ref = torch.log_softmax(ref_h @ ref_w.T / 0.7, -1).gather(1, tokens[:, None])[:, 0]
    (ref * upstream).sum().backward()
    h, w = hidden.float().requires_grad_(), weight.float().requires_grad_()
    out = tl_fast.rl.fused_linear_logprobs(h, w, tokens, temperature=0.7)
    (out * upstream.float()).sum().backward()
    torch.testing.assert_close(out.detach().double(), ref.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(h.grad.double(), ref_h.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w.grad.double(), ref_w.grad, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# GPU: fused kernels vs their torch twins at the trainer's size


@pytest.mark.gpu
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_policy_and_value_kernels_match_twins_on_gpu(dual_clip):
    gen = torch.Generator(device="cuda").manual_seed(0)
    B, T = 256, 1024
    old = torch.randn(B, T, device="cuda", generator=gen) - 2
    logp = old + 0.3 * torch.randn(B, T, device="cuda", generator=gen)
    adv = torch.randn(B, T, device="cuda", generator=gen)
    mask = torch.rand(B, T, device="cuda", generator=gen) > 0.2
    got = kppo.policy_loss_fwd(logp, old, adv, mask, 0.2, 0.28, dual_clip)
    want = kppo.policy_loss_torch(
        logp.flatten(), old.flatten(), adv.flatten(), mask.flatten(), 0.2, 0.28, dual_clip
    )
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-3)  # sums of 2e5 fp32 terms in another order
    got = kppo.value_loss_fwd(logp, old, adv, mask, 0.2)
    want = kppo.value_loss_torch(logp.flatten(), old.flatten(), adv.flatten(), mask.flatten(), 0.2)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-3)
