"""tl_fast.fused_linear_cross_entropy (chunked lm_head GEMM + row kernels) against an fp64 PyTorch reference.

    .venv/bin/python -m pytest -q tests/test_fused_linear_cross_entropy.py

CPU tests run through the Triton kernels under TRITON_INTERPRET=1 ("triton") and the pure-PyTorch path
("torch"); output buffers are poisoned with NaN so that an unwritten element fails.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tl_fast.kernels.cross_entropy as ce
from tl_fast.kernels.linear_cross_entropy import Plan
from tl_fast.losses import FusedLinearCrossEntropyLoss, fused_linear_cross_entropy

OPTION_SETS = {
    "plain": {},
    "all": {"label_smoothing": 0.1, "z_loss": 1e-3, "softcap": 4.0},
}
# Plans that split N=7 rows and V=423 columns unevenly (the last block and slab partial)
PLANS = {
    "fused": Plan(True, 3, 423, 3, 423, False),  # 3 row blocks of whole rows
    "fused_gw32": Plan(True, 3, 423, 3, 423, True),  # fp32 grad_weight accumulator
    "two_phase": Plan(False, 4, 150, 3, 200, False),  # stats 3 x 3 blocks, grads 2 x 3 blocks
    "two_phase_gw32": Plan(False, 2, 300, 7, 423, True),
}


pytestmark = pytest.mark.usefixtures("nan_kernel_outputs")


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_inputs(N, H, V, dtype=torch.float32, bias=True, ignore_frac=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s, scale=1.0: (
        (torch.randn(*s, generator=g, dtype=torch.float64) * scale).to(dtype).to(device())
    )
    hidden, weight = rand(N, H), rand(V, H, scale=H**-0.5 * 2)
    b = rand(V, scale=0.5) if bias else None
    labels = torch.randint(0, V, (N,), generator=g)
    labels[torch.rand(N, generator=g) < ignore_frac] = -100
    weights = torch.rand(N, generator=g, dtype=torch.float64).float()
    return hidden, weight, b, labels.to(device()), weights.to(device())


def randn(n: int, seed: int = 7) -> torch.Tensor:
    """A seeded upstream gradient (the global RNG state depends on test order)."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device())


def reference_loss(hidden, weight, bias, labels, weights, reduction, label_smoothing=0.0, z_loss=0.0,
                   softcap=None, ignore_index=-100):  # fmt: skip
    """F.linear + F.cross_entropy computed in the inputs' dtype (pass fp64 tensors for the fp64 reference)."""
    z = F.linear(hidden, weight, bias)
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    rows = F.cross_entropy(
        z, labels, reduction="none", label_smoothing=label_smoothing, ignore_index=ignore_index
    )
    valid = labels != ignore_index
    rows = torch.where(valid, rows + z_loss * torch.logsumexp(z, -1) ** 2, 0.0)
    w = valid.to(rows.dtype) * (1.0 if weights is None else weights.to(rows.dtype))  # every reduction weighs
    if reduction == "none":
        return rows * w
    total = (rows * w).sum()
    if reduction == "sum":
        return total
    return total / w.sum() if w.sum() != 0 else total * 0


def run(fn, hidden, weight, bias, labels, weights, reduction, upstream=None, dtype=None, **kw):
    """Loss and gradients of (loss * upstream).sum() wrt hidden, weight, bias (computed in `dtype`)."""
    leaves = [t.detach().to(dtype or t.dtype).requires_grad_() if t is not None else None
              for t in (hidden, weight, bias)]  # fmt: skip
    out = fn(*leaves, labels, weights, reduction, **kw)
    up = torch.ones_like(out) if upstream is None else upstream.to(out.dtype)
    grads = torch.autograd.grad((out * up).sum(), [t for t in leaves if t is not None])
    return out, list(grads)


def ours(hidden, weight, bias, labels, weights, reduction, **kw):
    return fused_linear_cross_entropy(hidden, weight, labels, weights, bias=bias, reduction=reduction, **kw)


def check_close(got, want, rtol, atol):
    out, grads = got
    ref, ref_grads = want
    torch.testing.assert_close(out.double(), ref, rtol=rtol, atol=atol)
    for g, r in zip(grads, ref_grads, strict=False):
        torch.testing.assert_close(g.double(), r, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("options", list(OPTION_SETS))
@pytest.mark.parametrize("bias", [False, True])
def test_matches_fp64_reference(kernel_path, reduction, options, bias, monkeypatch):
    monkeypatch.setattr(ce, "MAX_BLOCK_V", 128)  # several blocks per slab, the last one partial
    kw = OPTION_SETS[options]
    hidden, weight, b, labels, weights = make_inputs(7, 24, 423, bias=bias)
    up = randn(7) if reduction == "none" else None
    got = run(ours, hidden, weight, b, labels, weights, reduction, up, plan=PLANS["two_phase"], **kw)
    want = run(reference_loss, hidden, weight, b, labels, weights, reduction, up, dtype=torch.float64, **kw)
    assert got[0].dtype == torch.float32
    check_close(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("reduction", ["none", "weighted_mean"])
@pytest.mark.parametrize("plan", list(PLANS))
def test_every_plan_matches_fp64_reference(kernel_path, reduction, plan, monkeypatch):
    monkeypatch.setattr(ce, "MAX_BLOCK_V", 128)
    kw = OPTION_SETS["all"]
    hidden, weight, b, labels, weights = make_inputs(7, 24, 423)
    up = randn(7) if reduction == "none" else None
    got = run(ours, hidden, weight, b, labels, weights, reduction, up, plan=PLANS[plan], **kw)
    want = run(reference_loss, hidden, weight, b, labels, weights, reduction, up, dtype=torch.float64, **kw)
    check_close(got, want, rtol=2e-5, atol=2e-5)


def test_vocab_over_64k(kernel_path):
    hidden, weight, b, labels, weights = make_inputs(5, 8, 66_000, ignore_frac=0.0)
    got = run(
        ours, hidden, weight, b, labels, weights, "weighted_mean", plan=Plan(True, 2, 66_000, 2, 66_000, 0)
    )
    want = run(reference_loss, hidden, weight, b, labels, weights, "weighted_mean", dtype=torch.float64)
    check_close(got, want, rtol=1e-4, atol=5e-5)  # fp32 GEMMs with an inner dimension of 66k


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("reduction", ["none", "weighted_mean"])
def test_low_precision_error_within_twice_torch(kernel_path, dtype, reduction):
    hidden, weight, b, labels, weights = make_inputs(40, 32, 300, dtype=dtype)
    up = randn(40) if reduction == "none" else None
    out, grads = run(
        ours, hidden, weight, b, labels, weights, reduction, up, label_smoothing=0.1,
        plan=Plan(False, 20, 150, 40, 150, False),
    )  # fmt: skip
    ref, ref_grads = run(
        reference_loss,
        hidden,
        weight,
        b,
        labels,
        weights,
        reduction,
        up,
        dtype=torch.float64,
        label_smoothing=0.1,
    )
    t_out, t_grads = run(
        reference_loss, hidden, weight, b, labels, weights, reduction, up, label_smoothing=0.1
    )
    # RMS error: the max of a few hundred rounding errors swings 2-3x between seeds, for torch as for us
    err = lambda a, r: (a.double() - r).pow(2).mean().sqrt().item()
    # a scalar loss rounded to `dtype` is off by up to half an ulp, by luck anywhere from 0 to that
    half_ulp = torch.finfo(dtype).eps / 2 * ref.abs().max().item() if reduction != "none" else 0.0
    assert err(out, ref) <= 2 * max(err(t_out, ref), half_ulp) + 1e-6
    for g, r, t in zip(grads, ref_grads, t_grads, strict=False):
        assert g.dtype == dtype
        assert err(g, r) <= 2 * err(t, r) + 1e-6


def test_frozen_weight_and_hidden_only(kernel_path):
    hidden, weight, b, labels, weights = make_inputs(9, 16, 100)
    h = hidden.clone().requires_grad_()
    loss = fused_linear_cross_entropy(h, weight, labels, weights, bias=b, plan=PLANS["two_phase"])
    loss.backward()
    hr = hidden.double().requires_grad_()
    reference_loss(hr, weight.double(), b.double(), labels, weights, "weighted_mean").backward()
    torch.testing.assert_close(h.grad.double(), hr.grad, rtol=1e-5, atol=1e-6)
    w = weight.clone().requires_grad_()
    fused_linear_cross_entropy(hidden, w, labels, weights, bias=b, plan=PLANS["fused"]).backward()
    wr = weight.double().requires_grad_()
    reference_loss(hidden.double(), wr, b.double(), labels, weights, "weighted_mean").backward()
    assert hidden.grad is None
    torch.testing.assert_close(w.grad.double(), wr.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "weighted_mean"])
def test_ignore_index_other_than_minus_100(kernel_path, reduction):
    """ignore_index=3 is a vocabulary index: rows labelled 3 are ignored, all others count."""
    hidden, weight, b, labels, weights = make_inputs(10, 16, 120, ignore_frac=0.0)
    labels[[0, 5, 6]] = 3
    up = randn(10) if reduction == "none" else None
    kw = {"ignore_index": 3, "z_loss": 1e-3}
    got = run(ours, hidden, weight, b, labels, weights, reduction, up, plan=PLANS["two_phase"], **kw)
    want = run(reference_loss, hidden, weight, b, labels, weights, reduction, up, dtype=torch.float64, **kw)
    check_close(got, want, rtol=1e-5, atol=1e-6)


def test_zero_denominator_gives_zero_not_nan(kernel_path):
    hidden, weight, b, labels, weights = make_inputs(6, 8, 50)
    for lab, w in ((torch.full_like(labels, -100), weights), (labels, torch.zeros_like(weights))):
        out, grads = run(ours, hidden, weight, b, lab, w, "weighted_mean", plan=PLANS["two_phase"])
        assert out.item() == 0.0 and all(torch.all(g == 0) for g in grads)


def test_no_grad_forward_equals_grad_forward_and_inputs_untouched(kernel_path):
    hidden, weight, b, labels, weights = make_inputs(10, 16, 77)
    copies = [t.clone() for t in (hidden, weight, b)]
    with torch.no_grad():
        plain = fused_linear_cross_entropy(hidden, weight, labels, weights, bias=b, plan=PLANS["fused"])
    out, _ = run(ours, hidden, weight, b, labels, weights, "weighted_mean", plan=PLANS["fused"])
    torch.testing.assert_close(plain, out.detach(), rtol=0, atol=0)
    assert all(torch.equal(t, c) for t, c in zip((hidden, weight, b), copies, strict=False))


def test_second_backward_is_refused_and_leading_dims_and_module(kernel_path):
    hidden, weight, b, labels, weights = make_inputs(12, 16, 64)
    h = hidden.view(3, 4, 16).clone().requires_grad_()
    loss = FusedLinearCrossEntropyLoss(max_workspace_bytes=5 * 64 * 4)(
        h, weight, labels.view(3, 4), weights.view(3, 4), b
    )
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()
    ref = reference_loss(hidden.double(), weight.double(), b.double(), labels, weights, "weighted_mean")
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-6)


def test_upstream_scale_and_mixed_dtype_weight(kernel_path):
    """A non-unit upstream scalar scales the stored gradients; an fp32 weight with bf16 hidden: fp32 grads."""
    hidden, weight, b, labels, weights = make_inputs(8, 16, 90)
    got = run(ours, hidden, weight, b, labels, weights, "mean", torch.tensor(3.5))
    want = run(
        reference_loss, hidden, weight, b, labels, weights, "mean", torch.tensor(3.5), dtype=torch.float64
    )
    check_close(got, want, rtol=1e-5, atol=1e-5)
    w = weight.clone().requires_grad_()
    fused_linear_cross_entropy(hidden.bfloat16(), w, labels).backward()
    assert w.grad.dtype == torch.float32 and torch.isfinite(w.grad).all()


@pytest.mark.gpu
@pytest.mark.parametrize("V", [32016, 128256])
def test_real_size_bf16_gpu(V):
    """N=4096, H=4096 in bf16: error vs fp64 within 2x torch-in-bf16 (grad_weight too: the planner rounds it
    at most 4 times), no host sync, default workspace."""
    N, H = 4096, 4096
    hidden, weight, b, labels, weights = make_inputs(N, H, V, dtype=torch.bfloat16, bias=False)
    torch.cuda.set_sync_debug_mode("error")
    try:
        out, grads = run(ours, hidden, weight, None, labels, weights, "weighted_mean")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    ref, ref_grads = run(
        reference_loss, hidden, weight, None, labels, weights, "weighted_mean", dtype=torch.float64
    )
    t_out, t_grads = run(reference_loss, hidden, weight, None, labels, weights, "weighted_mean")
    err = lambda a, r: (a.double() - r).pow(2).mean().sqrt().item()  # RMS, as in the CPU test
    half_ulp = torch.finfo(torch.bfloat16).eps / 2 * ref.abs().item()  # the scalar loss rounded to bf16
    assert err(out, ref) <= 2 * max(err(t_out, ref), half_ulp)
    assert err(grads[0], ref_grads[0]) <= 2 * err(t_grads[0], ref_grads[0])
    assert err(grads[1], ref_grads[1]) <= 2 * err(t_grads[1], ref_grads[1])


@pytest.mark.parametrize("reduction", ["none", "sum", "weighted_mean"])
def test_fp64_on_cpu_matches_fp64_reference(reduction, monkeypatch):
    """fp64 models (reference runs of the trainer) take the torch path; gradients come back in fp64."""
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    hidden, weight, b, labels, weights = make_inputs(9, 16, 301)
    hidden, weight, b, labels, weights = (t.cpu() for t in (hidden, weight, b, labels, weights))
    up = randn(9) if reduction == "none" else None
    got = run(ours, hidden, weight, b, labels, weights, reduction, up, dtype=torch.float64, z_loss=1e-3)
    want = run(
        reference_loss, hidden, weight, b, labels, weights, reduction, up, dtype=torch.float64, z_loss=1e-3
    )
    assert all(g.dtype == torch.float64 for g in got[1])
    check_close(got, want, rtol=1e-5, atol=1e-6)  # the loss and row stats are fp32
