"""tl_fast.logprobs.fused_linear_logprobs against fp64 log_softmax, forward and backward (both outputs).

    .venv/bin/python -m pytest -q tests/test_logprobs.py

CPU tests run through the Triton kernels under TRITON_INTERPRET=1 ("triton") and the pure-PyTorch path
("torch"); output buffers are poisoned with NaN so that an unwritten element fails.
"""

from __future__ import annotations

import pytest
import torch

import tl_fast.kernels.cross_entropy as ce
from tl_fast.kernels.cross_entropy import CEOptions
from tl_fast.kernels.linear_cross_entropy import Plan
from tl_fast.logprobs import FusedLinearLogprobsFunction, fused_linear_logprobs

pytestmark = pytest.mark.usefixtures("nan_kernel_outputs")


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_inputs(N, H, V, dtype=torch.float32, scale=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(N, H, generator=g, dtype=torch.float64).to(dtype).to(device())
    weight = (torch.randn(V, H, generator=g, dtype=torch.float64) * scale * H**-0.5).to(dtype).to(device())
    tokens = torch.randint(0, V, (N,), generator=g).to(device())
    return hidden, weight, tokens


def reference(hidden, weight, tokens, temperature):
    """logp and entropy from log_softmax, in the inputs' dtype."""
    logp_all = torch.log_softmax((hidden @ weight.T) / temperature, dim=-1)
    logp = logp_all.gather(1, tokens[:, None])[:, 0]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def run(fn, hidden, weight, tokens, g_logp, g_ent, dtype=None, **kw):
    h = hidden.detach().to(dtype or hidden.dtype).requires_grad_()
    w = weight.detach().to(dtype or weight.dtype).requires_grad_()
    logp, ent = fn(h, w, tokens, **kw)
    objective = (logp * g_logp.to(logp.dtype)).sum()
    if g_ent is not None:
        objective = objective + (ent * g_ent.to(ent.dtype)).sum()
    return logp, ent, *torch.autograd.grad(objective, (h, w))


def ours(h, w, tokens, temperature, plan=None):
    opts = CEOptions(ignore_index=-(2**62), temperature=temperature)
    if plan is None:
        return fused_linear_logprobs(h, w, tokens, temperature=temperature, return_entropy=True)
    return FusedLinearLogprobsFunction.apply(h, w, tokens, opts, True, None, plan)


# statistics in 13-row x 212-column blocks, gradients in 7 x 300 (N=13, V=423: every last block partial)
SLABS = Plan(False, 7, 300, 13, 212, False)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("with_entropy_grad", [False, True])
@pytest.mark.parametrize("plan", [None, SLABS])
def test_matches_fp64_log_softmax(kernel_path, temperature, with_entropy_grad, plan, monkeypatch):
    monkeypatch.setattr(ce, "MAX_BLOCK_V", 128)
    N, H, V = 13, 20, 423
    hidden, weight, tokens = make_inputs(N, H, V)
    g = torch.Generator().manual_seed(1)
    g_logp = torch.randn(N, generator=g, dtype=torch.float64).to(device())
    g_ent = torch.randn(N, generator=g, dtype=torch.float64).to(device()) if with_entropy_grad else None
    got = run(ours, hidden, weight, tokens, g_logp, g_ent, temperature=temperature, plan=plan)
    want = run(reference, hidden, weight, tokens, g_logp, g_ent, dtype=torch.float64, temperature=temperature)
    assert got[0].dtype == torch.float32 and got[1].dtype == torch.float32
    for a, b in zip(got, want, strict=False):
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-5)


def test_logp_only_and_vocab_over_64k(kernel_path):
    hidden, weight, tokens = make_inputs(3, 8, 65_600)
    h = hidden.clone().requires_grad_()
    logp = fused_linear_logprobs(h, weight, tokens, temperature=1.3)
    assert isinstance(logp, torch.Tensor) and logp.shape == (3,)
    up = torch.tensor([0.5, -1.0, 2.0], device=device())
    (logp * up).sum().backward()
    hr = hidden.double().requires_grad_()
    ref, _ = reference(hr, weight.double(), tokens, 1.3)
    (ref * up.double()).sum().backward()
    torch.testing.assert_close(logp.double(), ref.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h.grad.double(), hr.grad, rtol=1e-4, atol=1e-5)


def test_only_entropy_used_and_extreme_logits(kernel_path):
    hidden, weight, tokens = make_inputs(6, 16, 300, scale=400.0)  # logits in the thousands: near one-hot
    h = hidden.clone().requires_grad_()
    logp, ent = fused_linear_logprobs(h, weight, tokens, temperature=0.5, return_entropy=True)
    ent.sum().backward()  # logp gets no upstream gradient
    hr = hidden.double().requires_grad_()
    ref_logp, ref_ent = reference(hr, weight.double(), tokens, 0.5)
    ref_ent.sum().backward()
    assert torch.isfinite(logp).all() and torch.isfinite(h.grad).all()
    torch.testing.assert_close(logp.double(), ref_logp.detach(), rtol=1e-5, atol=1e-2)
    torch.testing.assert_close(ent.double(), ref_ent.detach(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(h.grad.double(), hr.grad, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_error_within_twice_torch(kernel_path, dtype):
    N, H, V = 24, 32, 257
    hidden, weight, tokens = make_inputs(N, H, V, dtype=dtype)
    g = torch.Generator().manual_seed(2)
    g_logp, g_ent = (torch.randn(N, generator=g, dtype=torch.float64).to(device()) for _ in range(2))
    got = run(
        ours, hidden, weight, tokens, g_logp, g_ent, temperature=0.8, plan=Plan(False, 12, 257, 24, 130, 0)
    )
    want = run(reference, hidden, weight, tokens, g_logp, g_ent, dtype=torch.float64, temperature=0.8)
    torch_ = run(reference, hidden, weight, tokens, g_logp, g_ent, temperature=0.8)
    rms = lambda a, r: (a.double() - r).pow(2).mean().sqrt()  # the max of rounding errors is too noisy
    for a, r, t in zip(got, want, torch_, strict=True):
        assert rms(a, r) <= 2 * rms(t, r) + 1e-6


@pytest.mark.gpu
def test_real_size_bf16_gpu():
    """N=4096, H=4096, V=128256 in bf16: within 2x torch-in-bf16 (grad_weight too: at most 4 roundings), no
    host sync."""
    N, H, V = 4096, 4096, 128256
    hidden, weight, tokens = make_inputs(N, H, V, dtype=torch.bfloat16)
    g = torch.Generator().manual_seed(2)
    g_logp, g_ent = (torch.randn(N, generator=g).cuda() for _ in range(2))
    torch.cuda.set_sync_debug_mode("error")
    try:
        got = run(ours, hidden, weight, tokens, g_logp, g_ent, temperature=0.9)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    want = run(reference, hidden, weight, tokens, g_logp, g_ent, dtype=torch.float64, temperature=0.9)
    torch_ = run(reference, hidden, weight, tokens, g_logp, g_ent, temperature=0.9)
    rms = lambda a, r: (a.double() - r).pow(2).mean().sqrt()
    for a, r, t in zip(got, want, torch_, strict=True):
        assert rms(a, r) <= 2 * rms(t, r) + 1e-6
