"""RL math as pure functions: GAE, masked statistics, clipped policy / value losses, KL penalties, and the
group-relative advantages, loss aggregations and overlong shaping of GRPO / DAPO / Dr. GRPO.

    import tl_fast
    adv, ret = tl_fast.gae(rewards, values, mask, gamma=1.0, lam=0.95)          # one kernel launch
    adv = tl_fast.masked_whiten(adv, mask)
    loss, stats = tl_fast.ppo_policy_loss(logprobs, old_logprobs, adv, mask, clip=0.2)
    vloss, vstats = tl_fast.ppo_value_loss(values, old_values, ret, mask, clip=0.2)
    kl, kstats = tl_fast.kl_penalty(logprobs, ref_logprobs, kind="k3", mask=mask)
    adv, gstats = tl_fast.group_advantages(scores, group_size=4)                # GRPO: (B,) per sample
    loss = tl_fast.aggregate_loss(loss_tok, mask, "token_mean")                # DAPO's token-level loss

Shapes: every per-token tensor is (B, T) (any common shape works for the losses); `mask` is bool/int/float
with nonzero = response token. Outputs are fp32. Nothing here syncs with the host: statistics are 0-dim
detached tensors, and an all-masked batch gives 0, never NaN. Kernels and their pure-PyTorch twins are in
tl_fast/kernels/ppo.py (Triton on CUDA, or on CPU under TRITON_INTERPRET=1; the twins otherwise).

Notation: rho = exp(logp - old_logp) the probability ratio, A the advantage, R the return, m the mask.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from tl_fast.kernels.ppo import gae_fwd, policy_loss_fwd, value_loss_fwd

__all__ = [
    "GroupStats",
    "KLStats",
    "PolicyLossStats",
    "ValueLossStats",
    "aggregate_loss",
    "fused_linear_logprobs",
    "gae",
    "group_advantages",
    "kl_penalty",
    "masked_mean",
    "masked_sum",
    "masked_var",
    "masked_whiten",
    "overlong_penalty",
    "ppo_policy_loss",
    "ppo_value_loss",
]

Reduction = Literal["token_mean", "seq_mean", "none"]


def fused_linear_logprobs(
    hidden: Tensor, weight: Tensor, tokens: Tensor, *, temperature: float = 1.0, return_entropy: bool = False
):
    """log softmax(hidden @ weight.T / temperature)[tokens] without (N, V) logits; see tl_fast.logprobs.

    hidden: (N, H), weight: (V, H), tokens: (N,) int -> (N,) fp32 log-probs (and (N,) fp32 entropy).
    """
    from tl_fast.logprobs import fused_linear_logprobs as impl  # imported late: owned by the lm_head module

    return impl(hidden, weight, tokens, temperature=temperature, return_entropy=return_entropy)


# ------------------------------------------------------------------------------------------------------------
# Masked statistics (a handful of reductions each; torch runs them as well as a hand-written kernel would)


def masked_sum(x: Tensor, mask: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """sum of x where mask != 0; masked entries are never read into the result (NaN/inf padding is safe)."""
    x = torch.where(mask != 0, x, 0.0)
    return x.sum() if dim is None else x.sum(dim, keepdim=keepdim)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """sum(m x) / sum(m) over `dim` (all elements if None), in x's dtype; 0 where no element is selected."""
    count = masked_sum(torch.ones_like(x), mask, dim, keepdim)
    return masked_sum(x, mask, dim, keepdim) / count.clamp(min=1)


def masked_var(x: Tensor, mask: Tensor, dim: int | None = None, unbiased: bool = True) -> Tensor:
    """Variance of the selected entries; `unbiased` multiplies by n / (n - 1) when n > 1."""
    keep = dim is not None
    mean = masked_mean(x, mask, dim, keepdim=keep)
    var = masked_mean((x - mean) ** 2, mask, dim, keepdim=keep)
    if unbiased:
        n = masked_sum(torch.ones_like(x), mask, dim, keepdim=keep)
        var = torch.where(n > 1, var * n / (n - 1).clamp(min=1), var)
    return var if not keep else var.squeeze(dim)


def masked_whiten(
    x: Tensor, mask: Tensor, *, shift_mean: bool = True, dim: int | None = None, eps: float = 1e-8
) -> Tensor:
    """(x - mean) / sqrt(var + eps) with masked mean and unbiased variance over `dim` (whole tensor if None).

    `shift_mean=False` adds the mean back (scales only), as TRL's `whiten`. Masked positions are set to 0.
    """
    keep = dim is not None
    mean = masked_mean(x, mask, dim, keepdim=keep)
    var = masked_var(x, mask, dim)
    if keep:
        var = var.unsqueeze(dim)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return torch.where(mask != 0, out, 0.0)


# ------------------------------------------------------------------------------------------------------------
# GAE


@torch.no_grad()
def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation over the response tokens of each row, in one kernel launch.

    rewards, values: (B, T) float; mask: (B, T), nonzero = response token (padding on either side and gaps
    allowed). Returns (advantages, returns), (B, T) fp32, not differentiable (targets for the losses).
    With t_1 < ... < t_n the response positions of a row (others skipped, as after compaction):
        delta_k = r(t_k) + gamma V(t_{k+1}) - V(t_k),  V(t_{n+1}) = 0
        A_k = delta_k + gamma lam A_{k+1},  A_{n+1} = 0;   returns = A + V.
    Both outputs are 0 at masked positions; rewards and values there are ignored. The paper's setting: KL
    penalty folded into `rewards` per token by the trainer, the rule reward added on the last response token,
    gamma = 1, lam = 0.95.
    """
    return gae_fwd(rewards, values, mask, float(gamma), float(lam))


# ------------------------------------------------------------------------------------------------------------
# Policy and value losses


class PolicyLossStats(NamedTuple):
    """Detached 0-dim fp32 tensors, averaged over the selected tokens."""

    clip_frac: Tensor  # fraction of tokens whose loss took the clipped-ratio branch (gradient 0 there)
    dual_clip_frac: Tensor  # fraction where the dual clip capped the loss at -c A (A < 0); 0 without it
    approx_kl: Tensor  # k3 estimator of KL(old || new): mean of (rho - 1) - log rho
    ratio_mean: Tensor  # mean rho
    ratio_max: Tensor  # max rho (-inf when no token is selected)


class ValueLossStats(NamedTuple):
    """Detached 0-dim fp32 tensors, averaged over the selected tokens."""

    clip_frac: Tensor  # fraction of tokens where the clipped value's error won (gradient 0 there)
    value_mean: Tensor
    return_mean: Tensor


class _FusedTokenLoss(torch.autograd.Function):
    """Per-token loss from a fused forward that also wrote d loss / d input; gradient to the first input only.

    Outputs the per-token loss, its masked token-mean and the stat sums; the backward is
    grad = dloss * (g_token + g_mean / count), dloss being 0 at masked positions.
    """

    @staticmethod
    def forward(ctx, x, fwd, *args):
        out = fwd(x, *args)
        count = out.sums[0].clamp(min=1)
        ctx.save_for_backward(out.dloss, count)
        ctx.x_meta = (x.shape, x.dtype, 2 + len(args))
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(out.sums)
        return out.loss.view(x.shape), out.sums[1] / count, out.sums

    @staticmethod
    def backward(ctx, g_token, g_mean, _g_sums):
        dloss, count = ctx.saved_tensors
        shape, dtype, n_inputs = ctx.x_meta
        g = None if g_token is None else g_token.reshape(-1).float()
        if g_mean is not None:
            g = g_mean / count if g is None else g + g_mean / count
        grad = None if g is None else (dloss * g).view(shape).to(dtype)
        return (grad,) + (None,) * (n_inputs - 1)


def _check_constants(**tensors: Tensor) -> None:
    for name, t in tensors.items():
        if t.requires_grad:
            raise ValueError(f"{name} must be detached (it is a target, no gradient flows into it)")


def _reduce(loss_tok: Tensor, loss_mean: Tensor, mask: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "token_mean":
        return loss_mean
    if reduction == "none":
        return loss_tok
    if reduction == "seq_mean":  # mean over rows with a response token of each row's token-mean
        per_row = masked_mean(loss_tok, mask, dim=-1)
        has_tokens = (mask != 0).any(-1)
        return masked_mean(per_row, has_tokens)
    raise ValueError(f"reduction must be 'token_mean', 'seq_mean' or 'none', got {reduction!r}")


def ppo_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip: float = 0.2,
    clip_high: float | None = None,
    dual_clip: float | None = None,
    reduction: Reduction = "token_mean",
) -> tuple[Tensor, PolicyLossStats]:
    """Clipped PPO surrogate, fused with its masked statistics (one kernel + one small reduction on GPU).

    logprobs: (B, T) float, differentiable; old_logprobs, advantages: (B, T) detached; mask: (B, T).
    Per token l = max(-A rho, -A clamp(rho, 1 - clip, 1 + clip_high)) (clip_high defaults to clip, > clip is
    DAPO's clip-higher); with dual_clip = c > 1, tokens with A < 0 get min(l, -c A). Returns the loss reduced
    by `reduction` ("token_mean": sum(m l) / sum(m); "seq_mean": mean over rows of each row's token-mean;
    "none": (B, T) fp32, 0 where masked) and PolicyLossStats. Gradients flow into `logprobs` only.
    """
    clip_high = clip if clip_high is None else clip_high
    if not (clip >= 0 and clip_high >= 0):
        raise ValueError(f"clip and clip_high must be >= 0, got {clip} and {clip_high}")
    if dual_clip is not None and not dual_clip > 1:
        raise ValueError(f"dual_clip must be None or > 1, got {dual_clip}")
    _check_constants(old_logprobs=old_logprobs, advantages=advantages)
    loss_tok, loss_mean, sums = _FusedTokenLoss.apply(
        logprobs, policy_loss_fwd, old_logprobs, advantages, mask, clip, clip_high, dual_clip
    )
    count = sums[0].clamp(min=1)
    stats = PolicyLossStats(
        clip_frac=sums[2] / count,
        dual_clip_frac=sums[3] / count,
        approx_kl=sums[4] / count,
        ratio_mean=sums[5] / count,
        ratio_max=sums[6],
    )
    return _reduce(loss_tok, loss_mean, mask, reduction), stats


def ppo_value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    *,
    clip: float | None = 0.2,
    reduction: Reduction = "token_mean",
) -> tuple[Tensor, ValueLossStats]:
    """Clipped value loss, fused with its masked statistics.

    values: (B, T) float, differentiable; old_values, returns: (B, T) detached; mask: (B, T).
    Per token l = 0.5 max((v - R)^2, (v_c - R)^2) with v_c = clamp(v, old_v - clip, old_v + clip);
    clip=None gives 0.5 (v - R)^2. Reduction as in `ppo_policy_loss`.
    """
    if clip is not None and not clip >= 0:
        raise ValueError(f"clip must be None or >= 0, got {clip}")
    _check_constants(old_values=old_values, returns=returns)
    loss_tok, loss_mean, sums = _FusedTokenLoss.apply(values, value_loss_fwd, old_values, returns, mask, clip)
    count = sums[0].clamp(min=1)
    stats = ValueLossStats(clip_frac=sums[2] / count, value_mean=sums[3] / count, return_mean=sums[4] / count)
    return _reduce(loss_tok, loss_mean, mask, reduction), stats


# ------------------------------------------------------------------------------------------------------------
# KL penalty


class KLStats(NamedTuple):
    """Detached 0-dim fp32 tensors over the selected tokens (all tokens when no mask is given)."""

    mean: Tensor
    max: Tensor  # -inf when no token is selected


def kl_penalty(
    logprobs: Tensor, ref_logprobs: Tensor, kind: str = "k1", *, mask: Tensor | None = None
) -> tuple[Tensor, KLStats]:
    """Per-token estimate of KL(pi || pi_ref) from the sampled tokens' log-probs (Schulman's k1/k2/k3).

    logprobs, ref_logprobs: (B, T) float -> (B, T) fp32, differentiable in both inputs, 0 where mask == 0.
    With d = logprobs - ref_logprobs:  k1 = d;  k2 = d^2 / 2;  k3 = exp(-d) - 1 + d (unbiased, >= 0).
    The trainer folds -beta * kl into the per-token rewards before `gae`.
    """
    d = logprobs.float() - ref_logprobs.float()
    m = torch.ones_like(d, dtype=torch.bool) if mask is None else mask != 0
    d = torch.where(m, d, 0.0)
    if kind == "k1":
        kl = d
    elif kind == "k2":
        kl = 0.5 * d * d
    elif kind == "k3":
        kl = torch.expm1(-d) + d
    else:
        raise ValueError(f"kind must be 'k1', 'k2' or 'k3', got {kind!r}")
    with torch.no_grad():
        kl_max = torch.where(m, kl, float("-inf")).amax() if kl.numel() else kl.new_tensor(float("-inf"))
        stats = KLStats(mean=masked_mean(kl, m), max=kl_max)
    return kl, stats


# ------------------------------------------------------------------------------------------------------------
# Group-relative advantages (GRPO, DAPO, Dr. GRPO), loss aggregation, overlong shaping
#
# No kernel here: the group statistics are O(B) work on a (num_groups, G) tensor and the broadcast of a
# sample's advantage to its tokens is one elementwise pass, the same memory traffic a fused kernel would
# have; a kernel would save a handful of kernel launches per RL step, beside a policy forward and backward.

AggMode = Literal["token_mean", "seq_mean", "seq_sum_norm"]


class GroupStats(NamedTuple):
    """Per group of G samples of one prompt, (num_groups,) tensors, detached."""

    mean: Tensor  # fp32 mean reward
    std: Tensor  # fp32 unbiased standard deviation of the rewards
    signal: Tensor  # bool: the rewards differ (a group whose rewards all agree has zero advantage)


@torch.no_grad()
def group_advantages(
    scores: Tensor, group_size: int, *, scale_by_std: bool = True, eps: float = 1e-6
) -> tuple[Tensor, GroupStats]:
    """Group-relative advantage of each sample; rows k*G .. k*G+G-1 are the G samples of prompt k.

    scores: (B,) float, B a multiple of G >= 2 -> advantages (B,) fp32 and GroupStats.
        GRPO (Shao et al. 2024, DeepSeekMath §4.1.2):  A_i = (r_i - mean_g r) / (std_g r + eps)
        Dr. GRPO (Liu et al. 2025, arXiv 2503.20783 §3.1), scale_by_std=False:  A_i = r_i - mean_g r
    std is unbiased (torch.std; TRL and verl alike), eps = 1e-6 as verl's compute_grpo_outcome_advantage.
    Every token of sample i gets A_i (the trainer broadcasts it over the response mask).
    """
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2 for group-relative advantages, got {group_size}")
    if scores.dim() != 1 or scores.numel() % group_size:
        raise ValueError(
            f"scores must be (B,) with B a multiple of group_size={group_size}, got {tuple(scores.shape)}"
        )
    r = scores.float().view(-1, group_size)
    mean = r.mean(-1)
    std = r.std(-1)
    adv = r - mean[:, None]
    if scale_by_std:
        adv = adv / (std[:, None] + eps)
    signal = r.amax(-1) > r.amin(-1)
    return adv.reshape(-1), GroupStats(mean, std, signal)


def aggregate_loss(
    loss_tok: Tensor,
    mask: Tensor,
    mode: AggMode,
    *,
    max_len: int | None = None,
    num_tokens: Tensor | None = None,
    num_seqs: Tensor | None = None,
) -> Tensor:
    """Reduces a (B, T) per-token loss over the tokens with mask != 0 to a scalar (verl's agg_loss modes):

    - "token_mean": Σ m·l / Σ m  (DAPO's token-level loss, arXiv 2503.14476 eq. 8; verl "token-mean")
    - "seq_mean":   mean over sequences with tokens of Σ_t m·l / Σ_t m  (GRPO's 1/G Σ_i 1/|o_i| Σ_t;
      verl "seq-mean-token-mean", TRL loss_type="grpo")
    - "seq_sum_norm": Σ m·l / (B · max_len)  (Dr. GRPO's constant normalizer = the generation budget;
      TRL loss_type="dr_grpo")
    `num_tokens` / `num_seqs` (0-dim tensors) replace the local Σ m / sequence count, e.g. by the global count
    over data-parallel processes divided by their number, so that the all-reduced mean of the processes'
    gradients is that of the whole batch. Fully masked input gives 0.
    """
    m = mask != 0
    total = torch.where(m, loss_tok, 0.0).sum()
    if mode == "token_mean":
        count = m.sum() if num_tokens is None else num_tokens
        return total / count.clamp(min=1)
    if mode == "seq_mean":
        per_seq = masked_mean(loss_tok, m, dim=-1)
        count = m.any(-1).sum() if num_seqs is None else num_seqs
        return per_seq.sum() / count.clamp(min=1)
    if mode == "seq_sum_norm":
        if max_len is None or max_len < 1:
            raise ValueError(f"seq_sum_norm needs max_len >= 1 (the generation budget), got {max_len}")
        rows = loss_tok.shape[0] if num_seqs is None else num_seqs
        return total / (rows * max_len)
    raise ValueError(f"mode must be 'token_mean', 'seq_mean' or 'seq_sum_norm', got {mode!r}")


def overlong_penalty(lengths: Tensor, max_len: int, buffer: int, factor: float = 1.0) -> Tensor:
    """DAPO's soft overlong punishment (arXiv 2503.14476 eq. 13, verl's DAPO reward manager), (B,) fp32:

        R(y) = min(-(|y| - (max_len - buffer)) / buffer * factor, 0)
    0 up to max_len - buffer tokens, then linear down to -factor at max_len (generation stops there).
    lengths: (B,) response lengths in tokens.
    """
    if not 0 < buffer <= max_len:
        raise ValueError(f"overlong buffer must lie in (0, max_len={max_len}], got {buffer}")
    exceed = lengths.float() - (max_len - buffer)
    return torch.clamp(-exceed / buffer * factor, max=0.0)
