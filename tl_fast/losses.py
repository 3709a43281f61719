"""Token-weighted cross-entropy (the PKT-SFT objective), on given logits or fused with the lm_head.

    import tl_fast
    loss = tl_fast.fused_linear_cross_entropy(hidden, lm_head.weight, labels, token_weights)   # () fp32
    rows = tl_fast.cross_entropy(logits, labels, reduction="none")                            # (N,) fp32

Notation: N tokens, H hidden size, V vocabulary; l_i the per-token loss of row i (kernels/cross_entropy.py
has smoothing, z-loss and softcap), w_i its token weight, valid_i = (label_i != ignore_index).
Reductions (w = 1 without token_weights): "none" -> w_i l_i (N,) (0 on ignored rows), whose sum is
"sum" -> sum_i valid_i w_i l_i; "mean" and "weighted_mean" (the same) -> sum_i valid_i w_i l_i /
sum_i valid_i w_i, which without token_weights is the mean over the valid rows. No reduction drops
the weights.
A zero denominator (every row ignored, or every weight 0) gives loss 0 and zero gradients, never NaN.
Token weights are data: they get no gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tl_fast.kernels.cross_entropy import CEOptions, cross_entropy_bwd, cross_entropy_fwd
from tl_fast.kernels.linear_cross_entropy import Plan, linear_cross_entropy_bwd, linear_cross_entropy_fwd

REDUCTIONS = ("none", "sum", "mean", "weighted_mean")

__all__ = [
    "CrossEntropyLoss",
    "FusedLinearCrossEntropyLoss",
    "cross_entropy",
    "fused_linear_cross_entropy",
    "row_coefficients",
]


def row_coefficients(
    labels: Tensor, token_weights: Tensor | None, reduction: str, ignore_index: int = -100
) -> Tensor:
    """(N,) fp32 c with reduced loss = sum_i c_i l_i, computed on device (no host sync)."""
    if reduction not in REDUCTIONS[1:]:
        raise ValueError(f"reduction must be one of {REDUCTIONS[1:]} here, got {reduction!r}")
    w = (labels != ignore_index).float()
    if token_weights is not None:  # every reduction weighs its rows: dropping weights silently loses PKT's
        w = w * token_weights.float()
    if reduction == "sum":
        return w
    denom = w.sum()
    return w / torch.where(denom == 0, 1.0, denom)


def _weighted_rows(loss: Tensor, weights: Tensor | None) -> Tensor:
    return loss if weights is None else loss * weights.float()


def _options(ignore_index, label_smoothing, z_loss, softcap) -> CEOptions:
    return CEOptions(
        ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap
    )


def _check_common(labels: Tensor, n: int, token_weights: Tensor | None, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if labels.numel() != n:
        raise ValueError(f"labels must hold one label per row ({n}), got shape {tuple(labels.shape)}")
    if token_weights is not None and token_weights.shape != labels.shape:
        raise ValueError(
            f"token_weights must have the labels' shape {tuple(labels.shape)}, "
            f"got {tuple(token_weights.shape)}"
        )


def check_label_range(labels: Tensor, vocab: int, ignore_index: int | None, name: str = "labels") -> None:
    """Labels must lie in [0, vocab) or equal ignore_index: the kernels mask an out-of-range load, which would
    give a meaningless loss silently. CPU: a ValueError naming the row. CUDA: an asynchronous device assert
    (no host sync), as F.cross_entropy does."""
    bad = (labels < 0) | (labels >= vocab)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if labels.is_cuda:
        torch._assert_async(~bad.any(), f"{name} outside [0, {vocab}) (and not ignore_index)")
    elif bool(bad.any()):
        row = int(bad.reshape(-1).nonzero()[0])
        value = int(labels.reshape(-1)[row])
        raise ValueError(f"{name}[{row}] = {value} is outside [0, {vocab}) and is not ignore_index")


# ------------------------------------------------------------------------------------------------------------
# Cross-entropy over given logits
# ------------------------------------------------------------------------------------------------------------


class CrossEntropyFunction(torch.autograd.Function):
    """logits (N, V) -> per-row loss (N,) fp32. Saves the caller's logits (no copy) and (N, 2) row stats."""

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor, opts: CEOptions) -> Tensor:
        loss, stats, _ = cross_entropy_fwd(logits, labels, opts)
        ctx.save_for_backward(logits, labels, stats)
        ctx.opts = opts
        return loss

    @staticmethod
    def backward(ctx, dloss: Tensor):
        logits, labels, stats = ctx.saved_tensors
        dlogits = cross_entropy_bwd(logits, labels, stats, dloss.float().contiguous(), ctx.opts)
        return dlogits, None, None


def cross_entropy(
    logits: Tensor,
    labels: Tensor,
    token_weights: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "weighted_mean",
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    softcap: float | None = None,
) -> Tensor:
    """Token-weighted cross-entropy over logits (..., V) fp32/bf16/fp16 with labels (...) int64.

    token_weights: (...) float, the labels' shape, applied by every reduction (module docstring). Returns ()
    fp32, or (...) fp32 for reduction="none".
    The caller's logits are never written; the backward allocates a fresh dlogits in the logits dtype.
    """
    V = logits.shape[-1]
    rows = logits.reshape(-1, V)
    if rows.stride(-1) != 1:
        rows = rows.contiguous()
    _check_common(labels, rows.shape[0], token_weights, reduction)
    check_label_range(labels, V, ignore_index)
    flat_labels = labels.reshape(-1).contiguous()
    opts = _options(ignore_index, label_smoothing, z_loss, softcap)
    loss = CrossEntropyFunction.apply(rows, flat_labels, opts)
    weights = None if token_weights is None else token_weights.reshape(-1).detach()
    if reduction == "none":
        return _weighted_rows(loss, weights).view(labels.shape)
    return (loss * row_coefficients(flat_labels, weights, reduction, ignore_index)).sum()


# ------------------------------------------------------------------------------------------------------------
# Cross-entropy fused with the lm_head
# ------------------------------------------------------------------------------------------------------------


class FusedLinearCrossEntropyFunction(torch.autograd.Function):
    """Two strategies, one op (the engine is kernels/linear_cross_entropy.py):

    * coef given (any reduction to a scalar), bf16/fp32: returns sum_i coef_i l_i, shape (). Gradients are
      computed in the forward; the backward only scales them by the upstream scalar, in place in buffers this
      Function owns, and hands them over, so it can run once (no retain_graph).
    * coef None (reduction "none"), or fp16 hidden states: returns l (N,) fp32 (or the scalar) and keeps
      only (N, 2) row stats; the backward recomputes the logits for the upstream gradient. fp16 goes this way
      because its dlogits must be rounded after the upstream gradient (GradScaler's loss scale) is applied:
      at 1/N scale small gradients flush to zero before the scale could protect them.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, coef, opts, workspace, plan, grad_enabled):
        # needs_input_grad ignores torch.no_grad() and forward always runs in no-grad mode: hence grad_enabled
        need = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            bias is not None and ctx.needs_input_grad[2],
        )
        ctx.opts, ctx.workspace, ctx.plan, ctx.need = opts, workspace, plan, need
        ctx.bias_dtype = None if bias is None else bias.dtype
        grads_now = coef is not None and grad_enabled and any(need) and hidden.dtype != torch.float16
        out = linear_cross_entropy_fwd(
            hidden, weight, bias, labels, opts, coef=coef if grads_now else None, need_grad=need,
            max_workspace_bytes=workspace, plan=plan,
        )  # fmt: skip
        ctx.forward_plan = out.plan
        if grads_now:
            ctx.grads = (out.grad_hidden, out.grad_weight, out.grad_bias)
            return (out.loss * coef).sum()
        ctx.save_for_backward(hidden, weight, bias, labels, out.stats, coef)
        return out.loss if coef is None else (out.loss * coef).sum()

    @staticmethod
    def backward(ctx, grad_out):
        if not hasattr(ctx, "grads"):
            hidden, weight, bias, labels, stats, coef = ctx.saved_tensors
            dloss = grad_out.float() * coef if coef is not None else grad_out.float().contiguous()
            gh, gw, gb = linear_cross_entropy_bwd(
                hidden, weight, bias, labels, stats, dloss, ctx.opts, need_grad=ctx.need,
                max_workspace_bytes=ctx.workspace, plan=ctx.plan,
            )  # fmt: skip
        else:
            if ctx.grads is None:
                raise RuntimeError(
                    "fused_linear_cross_entropy computes its gradients in the forward and hands them over in "
                    "the first backward; a second backward (retain_graph=True) is not supported"
                )
            gh, gw, gb = ctx.grads
            ctx.grads = None  # drop our reference so autograd can adopt the buffers without a copy
            g = grad_out.to(torch.float32)
            for t in (gh, gw, gb):
                if t is not None:
                    t.mul_(g)  # no host sync: the scalar stays on the device
        if gb is not None:
            gb = gb.to(ctx.bias_dtype)  # accumulated in fp32
        return gh, gw, gb, None, None, None, None, None, None


def fused_linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    labels: Tensor,
    token_weights: Tensor | None = None,
    *,
    bias: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "weighted_mean",
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    softcap: float | None = None,
    max_workspace_bytes: int | None = None,
    plan: Plan | None = None,
) -> Tensor:
    """cross_entropy(hidden @ weight^T + bias, labels, token_weights) without the (N, V) logits.

    hidden: (..., H) fp32/bf16/fp16; weight: (V, H), any of those dtypes (an fp32 master weight is read a slab
    at a time, never copied whole; its gradient comes out in fp32); bias: (V,) or None; labels, token_weights:
    (...). Returns () fp32, or (...) fp32 for reduction="none".
    max_workspace_bytes: bound on the buffers the op allocates besides the gradients (default 150 MiB, see
    kernels/linear_cross_entropy.py for the time/memory trade-off it sets); plan: a fixed
    kernels.linear_cross_entropy.Plan (tuning, tests). Under grad mode with a scalar reduction the gradients
    are computed during this call (6*N*H*V FLOPs when the workspace allows whole-row blocks, else 8*N*H*V);
    call it under torch.no_grad() for evaluation.
    """
    H = hidden.shape[-1]
    rows = hidden.reshape(-1, H).contiguous()
    _check_common(labels, rows.shape[0], token_weights, reduction)
    check_label_range(labels, weight.shape[0], ignore_index)
    flat_labels = labels.reshape(-1).contiguous()
    weight = weight.contiguous()
    opts = _options(ignore_index, label_smoothing, z_loss, softcap)
    args = (opts, max_workspace_bytes, plan, torch.is_grad_enabled())
    weights = None if token_weights is None else token_weights.reshape(-1).detach()
    if reduction == "none":
        loss = FusedLinearCrossEntropyFunction.apply(rows, weight, bias, flat_labels, None, *args)
        return _weighted_rows(loss, weights).view(labels.shape)
    coef = row_coefficients(flat_labels, weights, reduction, ignore_index)
    return FusedLinearCrossEntropyFunction.apply(rows, weight, bias, flat_labels, coef, *args)


# ------------------------------------------------------------------------------------------------------------
# Modules
# ------------------------------------------------------------------------------------------------------------


class CrossEntropyLoss(nn.Module):
    """Module form of `cross_entropy`: forward(logits, labels, token_weights=None)."""

    def __init__(self, *, ignore_index=-100, reduction="weighted_mean", label_smoothing=0.0, z_loss=0.0,
                 softcap=None):  # fmt: skip
        super().__init__()
        self.kwargs = dict(
            ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing, z_loss=z_loss,
            softcap=softcap,
        )  # fmt: skip

    def forward(self, logits: Tensor, labels: Tensor, token_weights: Tensor | None = None) -> Tensor:
        return cross_entropy(logits, labels, token_weights, **self.kwargs)


class FusedLinearCrossEntropyLoss(CrossEntropyLoss):
    """Module form of `fused_linear_cross_entropy`.

    forward(hidden, weight, labels, token_weights=None, bias=None)
    """

    def __init__(self, *, max_workspace_bytes: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_workspace_bytes = max_workspace_bytes

    def forward(self, hidden, weight, labels, token_weights=None, bias=None) -> Tensor:
        return fused_linear_cross_entropy(
            hidden, weight, labels, token_weights, bias=bias, max_workspace_bytes=self.max_workspace_bytes,
            **self.kwargs,
        )  # fmt: skip
