"""Per-token log-probs (and entropy) of chosen tokens through the lm_head, without the (N, V) logits (PPO).

    from tl_fast.logprobs import fused_linear_logprobs
    logp, ent = fused_linear_logprobs(hidden, lm_head.weight, tokens, temperature=0.7, return_entropy=True)

Notation: z = hidden @ weight^T / T (N, V); lse_i = log sum_j exp(z_ij); logp_i = z_i[tokens_i] - lse_i;
entropy_i = lse_i - sum_j p_ij z_ij. The same engine as the fused cross-entropy
(kernels/linear_cross_entropy.py), with logp = -loss: the forward keeps (N, 2) softmax statistics and the
entropy, and the backward recomputes the logits a block at a time for arbitrary upstream gradients of both
outputs (8*N*H*V FLOPs for forward + backward: PPO's loss is not linear in logp, so the gradient cannot be
finished in the forward as it is for a reduced cross-entropy).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tl_fast.kernels.cross_entropy import CEOptions
from tl_fast.kernels.linear_cross_entropy import linear_cross_entropy_bwd, linear_cross_entropy_fwd
from tl_fast.losses import check_label_range

__all__ = ["FusedLinearLogprobsFunction", "fused_linear_logprobs"]

# No token is ignored: -2**62 is no vocabulary index, so every row counts.
_NO_IGNORE = -(2**62)


class FusedLinearLogprobsFunction(torch.autograd.Function):
    """(hidden, weight, tokens) -> logp (N,) fp32, or (logp, entropy) with return_entropy."""

    @staticmethod
    def forward(ctx, hidden, weight, tokens, opts: CEOptions, return_entropy: bool, workspace, plan=None):
        out = linear_cross_entropy_fwd(
            hidden, weight, None, tokens, opts, with_entropy=return_entropy, max_workspace_bytes=workspace,
            plan=plan,
        )  # fmt: skip
        ctx.save_for_backward(hidden, weight, tokens, out.stats, out.entropy)
        ctx.opts, ctx.workspace, ctx.plan, ctx.return_entropy = opts, workspace, plan, return_entropy
        ctx.set_materialize_grads(False)
        logp = out.loss.neg_()
        return (logp, out.entropy) if return_entropy else logp

    @staticmethod
    def backward(ctx, dlogp, dentropy=None):
        hidden, weight, tokens, stats, entropy = ctx.saved_tensors
        if dlogp is None and dentropy is None:
            return None, None, None, None, None, None, None
        # d(logp) = -d(loss): the kernel takes the upstream gradient of the loss
        dloss = torch.zeros_like(stats[:, 0]) if dlogp is None else dlogp.float().neg().contiguous()
        if dentropy is not None:
            dentropy = dentropy.float().contiguous()
        gh, gw, _ = linear_cross_entropy_bwd(
            hidden, weight, None, tokens, stats, dloss, ctx.opts,
            entropy=entropy if dentropy is not None else None, dentropy=dentropy,
            need_grad=(ctx.needs_input_grad[0], ctx.needs_input_grad[1], False),
            max_workspace_bytes=ctx.workspace, plan=ctx.plan,
        )  # fmt: skip
        return gh, gw, None, None, None, None, None


def fused_linear_logprobs(
    hidden: Tensor,
    weight: Tensor,
    tokens: Tensor,
    *,
    temperature: float = 1.0,
    return_entropy: bool = False,
    max_workspace_bytes: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """log softmax(hidden @ weight^T / temperature)[tokens], never materializing the (N, V) logits.

    hidden: (N, H) fp32/bf16/fp16; weight: (V, H) (read in hidden's dtype a slab at a time when it differs;
    its gradient comes out in weight's dtype); tokens: (N,) int64 in [0, V). Returns logp (N,) fp32, and
    entropy (N,) fp32 of the same distribution when return_entropy. Both outputs are differentiable with
    respect to hidden and weight for any upstream gradient. max_workspace_bytes: as in
    fused_linear_cross_entropy.
    """
    if hidden.dim() != 2 or tokens.shape != (hidden.shape[0],):
        raise ValueError(
            f"expected hidden (N, H) and tokens (N,), got {tuple(hidden.shape)} and {tuple(tokens.shape)}"
        )
    check_label_range(tokens, weight.shape[0], None, name="tokens")
    opts = CEOptions(ignore_index=_NO_IGNORE, temperature=temperature)
    return FusedLinearLogprobsFunction.apply(
        hidden.contiguous(),
        weight.contiguous(),
        tokens.contiguous(),
        opts,
        return_entropy,
        max_workspace_bytes,
    )
