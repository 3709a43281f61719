"""tl_fast.cross_entropy (Triton row kernels + pure-PyTorch twin) against an fp64 PyTorch reference.

    .venv/bin/python -m pytest -q tests/test_cross_entropy.py

Every CPU test runs twice: through the Triton kernels under TRITON_INTERPRET=1 ("triton") and through the
pure-PyTorch path ("torch"). Output buffers are poisoned with NaN so that an unwritten element fails.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tl_fast.kernels.cross_entropy as ce
from tl_fast.losses import CrossEntropyLoss, cross_entropy, row_coefficients

OPTION_SETS = {
    "plain": {},
    "smoothing": {"label_smoothing": 0.1},
    "z_loss": {"z_loss": 1e-3},
    "softcap": {"softcap": 3.0},
    "all": {"label_smoothing": 0.2, "z_loss": 1e-2, "softcap": 5.0},
}


pytestmark = pytest.mark.usefixtures("nan_kernel_outputs")


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def randn(n: int, seed: int = 7) -> torch.Tensor:
    """A seeded upstream gradient (the global RNG state depends on test order)."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device())


def reference_rows(
    logits, labels, ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None, dtype=torch.float64
):
    """Per-row loss computed in `dtype` by torch's cross_entropy (smoothing included) + z-loss, softcap."""
    z = logits.to(dtype)
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    loss = F.cross_entropy(
        z, labels, ignore_index=ignore_index, reduction="none", label_smoothing=label_smoothing
    )
    valid = labels != ignore_index
    return torch.where(valid, loss + z_loss * torch.logsumexp(z, -1) ** 2, 0.0)


def reduce(rows, labels, weights, reduction, ignore_index=-100):
    valid = (labels != ignore_index).double()
    w = valid if weights is None else valid * weights.double()  # every reduction weighs its rows
    if reduction == "none":
        return rows * w
    total = (rows * w).sum()
    if reduction == "sum":
        return total
    return total / w.sum() if w.sum() != 0 else total * 0


def make_inputs(N, V, dtype=torch.float32, ignore_frac=0.2, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(N, V, generator=g, dtype=torch.float64) * scale).to(dtype).to(device())
    labels = torch.randint(0, V, (N,), generator=g)
    labels[torch.rand(N, generator=g) < ignore_frac] = -100
    weights = torch.rand(N, generator=g, dtype=torch.float64).float()
    return logits, labels.to(device()), weights.to(device())


def loss_and_grad(fn, logits, labels, weights, reduction, upstream=None, **kw):
    x = logits.detach().clone().requires_grad_()
    out = fn(x, labels, weights, reduction=reduction, **kw)
    up = torch.ones_like(out) if upstream is None else upstream.to(out.dtype)
    (grad,) = torch.autograd.grad((out * up).sum(), x)
    return out, grad


def reference(logits, labels, weights, reduction, upstream=None, **kw):
    fn = lambda x, y, w, reduction, **kw: reduce(reference_rows(x, y, **kw), y, w, reduction)
    return loss_and_grad(fn, logits.double(), labels, weights, reduction, upstream, **kw)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("options", list(OPTION_SETS))
@pytest.mark.parametrize("shape", [(3, 423), (17, 1000)])
def test_matches_fp64_reference(kernel_path, shape, options, reduction, monkeypatch):
    monkeypatch.setattr(ce, "MAX_BLOCK_V", 128)  # several blocks per row, the last one partial
    kw = OPTION_SETS[options]
    logits, labels, weights = make_inputs(*shape)
    upstream = randn(shape[0]) if reduction == "none" else None
    out, grad = loss_and_grad(cross_entropy, logits, labels, weights, reduction, upstream, **kw)
    ref, ref_grad = reference(logits, labels, weights, reduction, upstream, **kw)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-6)


def test_vocab_over_64k_splits_blocks(kernel_path):
    logits, labels, weights = make_inputs(3, 70_001, ignore_frac=0.0)
    upstream = randn(3)
    out, grad = loss_and_grad(cross_entropy, logits, labels, weights, "none", upstream, label_smoothing=0.1)
    ref, ref_grad = reference(logits, labels, weights, "none", upstream, label_smoothing=0.1)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("options", ["plain", "all"])
def test_low_precision_error_within_twice_torch(kernel_path, dtype, options):
    """Error vs fp64 on the same low-precision logits, at most 2x the error of torch computing in `dtype`."""
    kw = OPTION_SETS[options]
    logits, labels, _ = make_inputs(16, 999, dtype=dtype)
    weights = None  # per-row precision; the weighting of "none" is checked by test_matches_fp64_reference
    out, grad = loss_and_grad(cross_entropy, logits, labels, weights, "none", **kw)
    ref, ref_grad = reference(logits, labels, weights, "none", **kw)
    torch_out, torch_grad = loss_and_grad(
        lambda x, y, w, reduction, **kw: reference_rows(x, y, dtype=dtype, **kw), logits, labels, weights,
        "none",
        **kw,
    )  # fmt: skip
    assert grad.dtype == dtype
    assert (out.double() - ref).abs().max() <= 2 * (torch_out.double() - ref).abs().max() + 1e-6
    assert (grad.double() - ref_grad).abs().max() <= 2 * (torch_grad.double() - ref_grad).abs().max() + 1e-6


def test_all_rows_ignored_and_zero_weights_give_zero_not_nan(kernel_path):
    logits, labels, weights = make_inputs(5, 300)
    ignored = torch.full_like(labels, -100)
    for reduction in ("sum", "mean", "weighted_mean"):
        out, grad = loss_and_grad(cross_entropy, logits, ignored, weights, reduction)
        assert out.item() == 0.0 and torch.all(grad == 0)
    out, grad = loss_and_grad(cross_entropy, logits, labels, torch.zeros_like(weights), "weighted_mean")
    assert out.item() == 0.0 and torch.all(grad == 0)
    # weight 0 on some rows: those rows get no gradient, the rest match the reference
    weights[:2] = 0
    out, grad = loss_and_grad(cross_entropy, logits, labels, weights, "weighted_mean")
    ref, ref_grad = reference(logits, labels, weights, "weighted_mean")
    assert torch.all(grad[:2] == 0)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype,scale", [(torch.float32, 1e4), (torch.float16, 2e4)])
def test_extreme_logits(kernel_path, dtype, scale):
    logits, labels, weights = make_inputs(6, 257, dtype=dtype, scale=scale)
    logits[0, :] = scale  # a flat row at the dtype's range
    logits[1, :] = -scale
    out, grad = loss_and_grad(cross_entropy, logits, labels, weights, "weighted_mean", z_loss=1e-4)
    ref, ref_grad = reference(logits, labels, weights, "weighted_mean", z_loss=1e-4)
    assert torch.isfinite(out) and torch.isfinite(grad).all()
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-3, atol=1e-4)


def test_leading_dims_module_and_no_input_writes(kernel_path):
    logits, labels, weights = make_inputs(12, 200)
    logits3, labels3, weights3 = logits.view(3, 4, 200), labels.view(3, 4), weights.view(3, 4)
    before = logits3.clone()
    x = logits3.clone().requires_grad_()
    loss = CrossEntropyLoss(label_smoothing=0.1)(x, labels3, weights3)
    loss.backward()
    assert torch.equal(x.detach(), before)
    ref, ref_grad = reference(logits, labels, weights, "weighted_mean", label_smoothing=0.1)
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad.reshape(12, 200).double(), ref_grad, rtol=1e-5, atol=1e-7)
    rows = cross_entropy(logits3, labels3, reduction="none")
    assert rows.shape == (3, 4)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
def test_ignore_index_other_than_minus_100(kernel_path, reduction):
    """ignore_index=5 is a vocabulary index: rows labelled 5 are ignored, all others (no -100 here) count."""
    logits, labels, weights = make_inputs(9, 300, ignore_frac=0.0)
    labels[[1, 4, 7]] = 5
    upstream = randn(9) if reduction == "none" else None
    out, grad = loss_and_grad(
        cross_entropy, logits, labels, weights, reduction, upstream, ignore_index=5, label_smoothing=0.1
    )
    ref_rows = lambda x, y, w, reduction, **kw: reduce(reference_rows(x, y, **kw), y, w, reduction, 5)
    ref, ref_grad = loss_and_grad(
        ref_rows, logits.double(), labels, weights, reduction, upstream, ignore_index=5, label_smoothing=0.1
    )
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-7)
    assert torch.all(grad[[1, 4, 7]] == 0) and torch.all(grad[0] != 0)
    if reduction == "none":
        assert torch.all(out[[1, 4, 7]] == 0) and torch.all(out[[0, 2, 3, 5, 6, 8]] > 0)


def test_row_coefficients_and_errors():
    labels = torch.tensor([1, -100, 2, 3])
    w = torch.tensor([2.0, 5.0, 0.0, 1.0])
    close = lambda a, b: torch.testing.assert_close(a, torch.tensor(b))
    close(row_coefficients(labels, w, "weighted_mean"), [2 / 3, 0.0, 0.0, 1 / 3])
    close(row_coefficients(labels, w, "mean"), [2 / 3, 0.0, 0.0, 1 / 3])  # mean is weighted_mean
    close(row_coefficients(labels, None, "mean"), [1 / 3, 0.0, 1 / 3, 1 / 3])
    close(row_coefficients(labels, w, "sum"), [2.0, 0.0, 0.0, 1.0])
    close(row_coefficients(labels, None, "sum"), [1.0, 0.0, 1.0, 1.0])
    # another ignore_index: label 2 is ignored, -100 is an ordinary (if out-of-vocabulary) value here
    close(row_coefficients(labels, w, "weighted_mean", ignore_index=2), [2 / 8, 5 / 8, 0.0, 1 / 8])
    logits = torch.randn(4, 10)
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(logits, labels, reduction="avg")
    with pytest.raises(ValueError, match="token_weights"):
        cross_entropy(logits, labels, torch.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(logits, labels, label_smoothing=1.5)
    with pytest.raises(ValueError, match="dlogits"):
        ce.cross_entropy_fwd(logits, labels, ce.CEOptions(), coef=torch.ones(4))


def test_labels_outside_the_vocabulary_are_rejected():
    from tl_fast import fused_linear_cross_entropy, fused_linear_logprobs

    logits, hidden, weight = torch.randn(4, 10), torch.randn(4, 8), torch.randn(10, 8)
    for bad in (10, -1):
        labels = torch.tensor([1, -100, bad, 3])
        with pytest.raises(ValueError, match=rf"labels\[2\] = {bad} is outside \[0, 10\)"):
            cross_entropy(logits, labels)
        with pytest.raises(ValueError, match="outside"):
            fused_linear_cross_entropy(hidden, weight, labels)
    with pytest.raises(ValueError, match=r"tokens\[1\] = -100"):  # log-probs have no ignore_index
        fused_linear_logprobs(hidden, weight, torch.tensor([1, -100, 2, 3]))
    cross_entropy(logits, torch.tensor([1, -100, 9, 0]))  # the edges and ignore_index pass


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("V", [32016, 128256])
def test_real_size_gpu(dtype, V):
    N = 4096
    logits, labels, weights = make_inputs(N, V, dtype=dtype)
    torch.cuda.set_sync_debug_mode("error")  # any host sync inside the op raises
    try:
        out, grad = loss_and_grad(
            cross_entropy, logits, labels, weights, "weighted_mean", label_smoothing=0.1
        )
    finally:
        torch.cuda.set_sync_debug_mode("default")
    ref, ref_grad = reference(logits, labels, weights, "weighted_mean", label_smoothing=0.1)
    torch_out, torch_grad = loss_and_grad(
        lambda x, y, w, red: reduce(reference_rows(x, y, label_smoothing=0.1, dtype=dtype), y, w, red),
        logits, labels, weights, "weighted_mean",
    )  # fmt: skip
    half_ulp = torch.finfo(dtype).eps / 2 * ref.abs().item()  # a scalar rounded to dtype: luck within this
    assert (out.double() - ref).abs() <= 2 * max((torch_out.double() - ref).abs().item(), half_ulp)
    assert (grad.double() - ref_grad).abs().max() <= 2 * (torch_grad.double() - ref_grad).abs().max() + 1e-9
