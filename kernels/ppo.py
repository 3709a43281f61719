"""PPO math in Triton: single-launch masked GAE and fused clipped policy / value losses.

    from tl_fast.kernels.ppo import gae_fwd, policy_loss_fwd, value_loss_fwd
    adv, ret = gae_fwd(rewards, values, mask, gamma=1.0, lam=0.95)              # (B, T) fp32 each
    out = policy_loss_fwd(logprobs, old_logprobs, advantages, mask, 0.2, 0.2, None)   # PolicyLossOut

The autograd Functions and the public API are in tl_fast/rl.py. On CPU tensors (unless TRITON_INTERPRET=1)
every launcher runs the pure-PyTorch twin of its kernel (`*_torch`), which is also the readable specification.

GAE over a masked sequence (Schulman et al. 2016, eq. 16), per row. The response positions are those with
mask != 0, t_1 < ... < t_n; gaps and padding on either side are skipped, as if the row were compacted to its
response tokens (for right-padded rows this equals the per-step loop of TRL / OpenRLHF):
    delta_k = r(t_k) + gamma * V(t_{k+1}) - V(t_k)          V(t_{n+1}) = 0: the episode ends after t_n
    A_k     = delta_k + gamma * lam * A_{k+1}               A_{n+1} = 0
    adv(t_k) = A_k,  ret(t_k) = A_k + V(t_k);  adv = ret = 0 at every position with mask == 0.
Rewards and values at masked positions are never read into the result.

The kernel turns both backward recursions into affine maps x_t = a_t * x_{t+1} + b_t, which compose
associatively ((a1, b1) after (a2, b2) = (a1 a2, a1 b2 + b1)). A tile of BLOCK_T steps is loaded in reverse
time order (its latest step first), so the recursion becomes a *forward* `tl.associative_scan` in registers,
and tiles are chained right to left through one carried value per row:
    next response value  nv_t = mask(t+1) ? V(t+1) : nv_{t+1}      (a, b) = (1 - m(t+1), m(t+1) V(t+1))
    advantage carry      z_t  = mask(t) ? delta_t + g l z_{t+1} : z_{t+1}   (a, b) = (m ? g l : 1, m delta_t)
Forward, not `reverse=True`: Triton issue #4362 reports wrong reverse scans with a non-commutative combine
like this one on GPUs, which the interpreter does not show.

Policy loss per token (PPO-clip, Schulman et al. 2017 eq. 7; dual clip: Ye et al. 2020, AAAI), with
rho = exp(logp - old_logp), A the advantage, e_lo / e_hi the clip range and c > 1 the dual clip:
    l = max(-A rho, -A clamp(rho, 1 - e_lo, 1 + e_hi));   if A < 0 and c is set: l = min(l, -c A)
    dl/dlogp = -A rho on the unclipped branch, 0 where a clip is active.
Value loss per token (clipped like OpenAI baselines / TRL): v_c = clamp(v, old_v - e, old_v + e),
    l = 0.5 max((v - R)^2, (v_c - R)^2);   dl/dv = (v - R) where the unclipped term wins, else 0.
Both kernels write the unreduced fp32 per-token loss and its derivative (the backward is a multiply by the
upstream gradient), and per-program partial sums of the masked statistics, so one launch plus one small
`sum(0)` gives the loss and every statistic without a host sync. Masked positions give loss 0 and gradient 0,
even when their inputs are inf or NaN (padding garbage never reaches an exp or a product).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from tl_fast._dispatch import use_triton

MAX_BLOCK_T = 1024  # GAE tile length: 8 fp32 per thread per operand at 4 warps
LOSS_BLOCK = 1024  # tokens per program in the loss kernels
FP_FUSION = True  # passed to every launch: Triton 3.10 changes the default; tolerances were set with FMA on

# Columns of the per-program partial sums written by the loss kernels. Sums, except the last column: a max.
POLICY_STATS = ("count", "loss", "clipped", "dual_clipped", "approx_kl", "ratio", "ratio_max")
VALUE_STATS = ("count", "loss", "clipped", "value", "return")  # all sums


def _empty(shape, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Every output buffer of this module comes from here, so tests can swap in NaN-filled ones."""
    return torch.empty(shape, dtype=dtype, device=device)


def _as_rows(x: Tensor, name: str, shape: torch.Size) -> Tensor:
    if x.shape != shape:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {tuple(shape)}")
    return x if x.stride(-1) == 1 else x.contiguous()


# ------------------------------------------------------------------------------------------------------------
# GAE


@triton.jit
def _affine_combine(a_prev, b_prev, a_here, b_here):
    # Scan order is reverse time: the running element (steps after t: x_{t+1} = a' X + b', X the carry into
    # the tile) comes first, step t (x_t = a x_{t+1} + b) second; their composition is
    # x_t = (a a') X + (a b' + b).
    return a_here * a_prev, a_here * b_prev + b_here


@triton.jit
def gae_fwd_kernel(
    # data pointers
    rewards_ptr,
    values_ptr,
    mask_ptr,
    adv_ptr,
    ret_ptr,
    # shapes
    B,
    T,
    # strides (rows; the time axis is contiguous)
    stride_r,
    stride_v,
    stride_m,
    stride_out,
    # constants
    gamma,
    gamma_lam,
    BLOCK_B: tl.constexpr,
    BLOCK_T: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    row_ok = rows < B
    # int64 row offsets: B * T may exceed 2^31 at long contexts.
    rows64 = rows.to(tl.int64)[:, None]
    j = tl.arange(0, BLOCK_T)[None, :]
    next_value = tl.zeros((BLOCK_B,), dtype=tl.float32)  # V of the first response token after this tile
    next_adv = tl.zeros((BLOCK_B,), dtype=tl.float32)  # A of the first response token after this tile
    for i in range(0, tl.cdiv(T, BLOCK_T)):
        # Tile i from the right, in reverse time: scan index j holds step t = T - 1 - (i * BLOCK_T + j), so
        # the last tile's tail (t < 0) is masked; masked steps are identities (a, b) = (1, 0).
        t = (T - 1 - i * BLOCK_T) - j
        ok = row_ok[:, None] & (t >= 0)
        ok_next = row_ok[:, None] & (t >= 0) & (t + 1 < T)
        m = tl.load(mask_ptr + rows64 * stride_m + t, mask=ok, other=0) != 0
        r = tl.load(rewards_ptr + rows64 * stride_r + t, mask=ok & m, other=0.0).to(tl.float32)
        v = tl.load(values_ptr + rows64 * stride_v + t, mask=ok & m, other=0.0).to(tl.float32)
        # The one-step-ahead operands are re-read shifted by one (L1/L2 hits) instead of shifted in registers.
        m1 = tl.load(mask_ptr + rows64 * stride_m + t + 1, mask=ok_next, other=0) != 0
        v1 = tl.load(values_ptr + rows64 * stride_v + t + 1, mask=ok_next & m1, other=0.0).to(tl.float32)

        # 1) nv_t: value of the first response token strictly after t (0 past the last one).
        a = tl.where(m1, 0.0, 1.0)
        b = tl.where(m1, v1, 0.0)
        a, b = tl.associative_scan((a, b), axis=1, combine_fn=_affine_combine)
        nv = b + a * next_value[:, None]
        # 2) z_t: advantage of the first response token at or after t.
        delta = r + gamma * nv - v
        a = tl.where(m, gamma_lam, 1.0)
        b = tl.where(m, delta, 0.0)
        a, b = tl.associative_scan((a, b), axis=1, combine_fn=_affine_combine)
        z = b + a * next_adv[:, None]

        out = rows64 * stride_out + t
        tl.store(adv_ptr + out, tl.where(m, z, 0.0), mask=ok)
        tl.store(ret_ptr + out, tl.where(m, z + v, 0.0), mask=ok)
        # Carry the earliest step of this tile (the last scan index) into the tile on its left.
        last = j == BLOCK_T - 1
        next_value = tl.sum(tl.where(last, nv, 0.0), axis=1)
        next_adv = tl.sum(tl.where(last, z, 0.0), axis=1)


def gae_torch(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Vectorized twin of `gae_fwd_kernel` (same semantics): O(B T min(T, 256)) work, T / 256 Python steps.

    Each row is compacted (response tokens first, in order) by a stable sort, so the recursion runs over a
    right-padded batch; there A = delta @ D^T with D[k, k'] = (gamma lam)^(k' - k) for k' >= k, done in
    256-step blocks chained by the carried A (an exact discounted sum, no division by vanishing powers).
    """
    B, T = rewards.shape
    dev = rewards.device
    m = mask != 0
    order = torch.argsort((~m).to(torch.int8), dim=1, stable=True)  # response positions first, in order
    mc = torch.gather(m, 1, order)
    r = torch.where(mc, torch.gather(rewards, 1, order).float(), 0.0)
    v = torch.where(mc, torch.gather(values, 1, order).float(), 0.0)
    v_next = torch.nn.functional.pad(v[:, 1:], (0, 1))  # compacted: the next response token is the next slot
    delta = torch.where(mc, r + gamma * v_next - v, 0.0)

    L = min(T, 256)
    k = torch.arange(L, device=dev, dtype=torch.float32)
    gl = torch.tensor(gamma * lam, device=dev, dtype=torch.float32)
    expo = k[None, :] - k[:, None]  # expo[k, k'] = k' - k
    disc = torch.where(expo >= 0, gl ** expo.clamp(min=0), 0.0)  # (L, L): disc[k, k'] = (g l)^(k' - k)
    carry_pow = gl ** (L - k)  # weight of the carry (A just past the block) at each step of a full block
    adv_c = torch.empty(B, T, device=dev, dtype=torch.float32)
    carry = torch.zeros(B, device=dev, dtype=torch.float32)
    for end in range(T, 0, -L):
        start = max(0, end - L)
        n = end - start
        block = delta[:, start:end] @ disc[:n, :n].T + carry[:, None] * carry_pow[L - n :]
        adv_c[:, start:end] = block
        carry = block[:, 0]
    adv_c = torch.where(mc, adv_c, 0.0)
    adv = torch.zeros_like(adv_c).scatter_(1, order, adv_c)
    ret = torch.zeros_like(adv_c).scatter_(1, order, torch.where(mc, adv_c + v, 0.0))
    return adv, ret


def gae_launch_config(B: int, T: int) -> tuple[int, int, int]:
    """(BLOCK_B, BLOCK_T, num_warps): a tile of up to 2048 steps (rows x time) per program and loop step."""
    block_t = min(triton.next_power_of_2(T), MAX_BLOCK_T)
    return max(1, min(triton.next_power_of_2(B), 2048 // block_t)), block_t, 4


def gae_fwd(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """(advantages, returns), (B, T) fp32, from rewards, values (B, T) float and mask (B, T) any dtype."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (B, T), got shape {tuple(rewards.shape)}")
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={gamma}, lam={lam}")
    values = _as_rows(values, "values", rewards.shape)
    mask = _as_rows(mask, "mask", rewards.shape)
    rewards = _as_rows(rewards, "rewards", rewards.shape)
    if not use_triton(rewards):
        return gae_torch(rewards, values, mask, gamma, lam)
    B, T = rewards.shape
    adv = _empty((B, T), torch.float32, rewards.device)
    ret = _empty((B, T), torch.float32, rewards.device)
    if B * T == 0:
        return adv, ret
    block_b, block_t, warps = gae_launch_config(B, T)
    gae_fwd_kernel[(triton.cdiv(B, block_b),)](
        rewards, values, mask, adv, ret,
        B, T,
        rewards.stride(0), values.stride(0), mask.stride(0), adv.stride(0),
        float(gamma), float(gamma * lam),
        BLOCK_B=block_b, BLOCK_T=block_t, num_warps=warps, enable_fp_fusion=FP_FUSION,
    )  # fmt: skip
    return adv, ret


# ------------------------------------------------------------------------------------------------------------
# Policy loss


class PolicyLossOut(NamedTuple):
    loss: Tensor  # (N,) fp32 per-token loss, 0 where masked
    dloss: Tensor  # (N,) fp32 d loss / d logprob, 0 where masked
    sums: Tensor  # (len(POLICY_STATS),) fp32 masked sums; the last entry is max ratio (-inf if no token)


@triton.jit
def policy_loss_fwd_kernel(
    # data pointers
    logp_ptr,
    old_logp_ptr,
    adv_ptr,
    mask_ptr,
    loss_ptr,
    dloss_ptr,
    partial_ptr,
    # shapes
    N,
    # constants
    clip_low,
    clip_high,
    dual_clip,
    HAS_DUAL_CLIP: tl.constexpr,
    N_STATS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    m = (tl.load(mask_ptr + offs, mask=ok, other=0) != 0) & ok
    # Masked lanes read nothing, so padding garbage (inf, NaN) never enters exp() or a product.
    logp = tl.load(logp_ptr + offs, mask=m, other=0.0).to(tl.float32)
    old = tl.load(old_logp_ptr + offs, mask=m, other=0.0).to(tl.float32)
    adv = tl.load(adv_ptr + offs, mask=m, other=0.0).to(tl.float32)

    log_ratio = logp - old
    ratio = tl.exp(log_ratio)
    loss_unclipped = -adv * ratio
    loss_clipped = -adv * tl.minimum(tl.maximum(ratio, 1.0 - clip_low), 1.0 + clip_high)
    clipped = loss_clipped > loss_unclipped
    loss = tl.where(clipped, loss_clipped, loss_unclipped)
    dloss = tl.where(clipped, 0.0, loss_unclipped)  # d(-A rho)/dlogp = -A rho
    n_dual = 0.0
    if HAS_DUAL_CLIP:
        dual = (adv < 0) & (loss > -dual_clip * adv)
        loss = tl.where(dual, -dual_clip * adv, loss)
        dloss = tl.where(dual, 0.0, dloss)
        n_dual = tl.sum((m & dual).to(tl.float32), axis=0)
    approx_kl = (ratio - 1.0) - log_ratio  # k3 estimator of KL(old || new), >= 0

    tl.store(loss_ptr + offs, tl.where(m, loss, 0.0), mask=ok)
    tl.store(dloss_ptr + offs, tl.where(m, dloss, 0.0), mask=ok)
    base = partial_ptr + pid * N_STATS
    tl.store(base + 0, tl.sum(m.to(tl.float32), axis=0))
    tl.store(base + 1, tl.sum(tl.where(m, loss, 0.0), axis=0))
    tl.store(base + 2, tl.sum((m & clipped).to(tl.float32), axis=0))
    tl.store(base + 3, n_dual)
    tl.store(base + 4, tl.sum(tl.where(m, approx_kl, 0.0), axis=0))
    tl.store(base + 5, tl.sum(tl.where(m, ratio, 0.0), axis=0))
    tl.store(base + 6, tl.max(tl.where(m, ratio, float("-inf")), axis=0))


def policy_loss_torch(
    logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, clip_low: float, clip_high: float, dual_clip
) -> PolicyLossOut:
    """Twin of `policy_loss_fwd_kernel` on flat (N,) tensors."""
    m = mask != 0
    log_ratio = torch.where(m, logp.float() - old_logp.float(), 0.0)
    a = torch.where(m, adv.float(), 0.0)
    ratio = torch.exp(log_ratio)
    loss_unclipped = -a * ratio
    loss_clipped = -a * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    clipped = loss_clipped > loss_unclipped
    loss = torch.where(clipped, loss_clipped, loss_unclipped)
    dloss = torch.where(clipped, 0.0, loss_unclipped)
    dual = torch.zeros_like(m)
    if dual_clip is not None:
        dual = (a < 0) & (loss > -dual_clip * a)
        loss = torch.where(dual, -dual_clip * a, loss)
        dloss = torch.where(dual, 0.0, dloss)
    approx_kl = (ratio - 1.0) - log_ratio
    mf = m.float()
    sums = torch.stack(
        [
            mf.sum(),
            (loss * mf).sum(),
            (clipped & m).float().sum(),
            (dual & m).float().sum(),
            (approx_kl * mf).sum(),
            (ratio * mf).sum(),
            torch.where(m, ratio, float("-inf")).amax() if m.numel() else ratio.new_tensor(float("-inf")),
        ]
    )
    return PolicyLossOut(torch.where(m, loss, 0.0), torch.where(m, dloss, 0.0), sums)


def _flat_inputs(tensors: dict[str, Tensor], shape: torch.Size) -> list[Tensor]:
    out = []
    for name, x in tensors.items():
        if x.shape != shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)}, expected {tuple(shape)} (as logprobs)")
        out.append(x.reshape(-1).contiguous())
    return out


def _reduce_partials(partial: Tensor) -> Tensor:
    return torch.cat([partial[:, :-1].sum(0), partial[:, -1].amax(0, keepdim=True)])


def policy_loss_fwd(
    logp: Tensor,
    old_logp: Tensor,
    adv: Tensor,
    mask: Tensor,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None,
) -> PolicyLossOut:
    """Per-token clipped policy loss, its derivative and masked stat sums; inputs of any common shape."""
    logp, old_logp, adv, mask = _flat_inputs(
        {"logprobs": logp, "old_logprobs": old_logp, "advantages": adv, "mask": mask}, logp.shape
    )
    if not use_triton(logp):
        return policy_loss_torch(logp, old_logp, adv, mask, clip_low, clip_high, dual_clip)
    N = logp.numel()
    n_prog = max(1, triton.cdiv(N, LOSS_BLOCK))
    loss = _empty((N,), torch.float32, logp.device)
    dloss = _empty((N,), torch.float32, logp.device)
    partial = _empty((n_prog, len(POLICY_STATS)), torch.float32, logp.device)
    policy_loss_fwd_kernel[(n_prog,)](
        logp, old_logp, adv, mask, loss, dloss, partial,
        N,
        float(clip_low), float(clip_high), float(dual_clip or 0.0),
        HAS_DUAL_CLIP=dual_clip is not None, N_STATS=len(POLICY_STATS), BLOCK=LOSS_BLOCK,
        enable_fp_fusion=FP_FUSION,
    )  # fmt: skip
    return PolicyLossOut(loss, dloss, _reduce_partials(partial))


# ------------------------------------------------------------------------------------------------------------
# Value loss


class ValueLossOut(NamedTuple):
    loss: Tensor  # (N,) fp32 per-token loss, 0 where masked
    dloss: Tensor  # (N,) fp32 d loss / d value, 0 where masked
    sums: Tensor  # (len(VALUE_STATS),) fp32 masked sums


@triton.jit
def value_loss_fwd_kernel(
    # data pointers
    values_ptr,
    old_values_ptr,
    returns_ptr,
    mask_ptr,
    loss_ptr,
    dloss_ptr,
    partial_ptr,
    # shapes
    N,
    # constants
    clip,
    HAS_CLIP: tl.constexpr,
    N_STATS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < N
    m = (tl.load(mask_ptr + offs, mask=ok, other=0) != 0) & ok
    v = tl.load(values_ptr + offs, mask=m, other=0.0).to(tl.float32)
    ret = tl.load(returns_ptr + offs, mask=m, other=0.0).to(tl.float32)
    err = v - ret
    loss = 0.5 * err * err
    dloss = err
    n_clipped = 0.0
    if HAS_CLIP:
        old = tl.load(old_values_ptr + offs, mask=m, other=0.0).to(tl.float32)
        # Clamp v itself (not v - old) so that v_c == v exactly inside the band: a rounding-level difference
        # must not flip the branch and zero the gradient.
        err_c = tl.minimum(tl.maximum(v, old - clip), old + clip) - ret
        loss_c = 0.5 * err_c * err_c
        clipped = loss_c > loss
        loss = tl.where(clipped, loss_c, loss)
        dloss = tl.where(clipped, 0.0, dloss)
        n_clipped = tl.sum((m & clipped).to(tl.float32), axis=0)
    tl.store(loss_ptr + offs, tl.where(m, loss, 0.0), mask=ok)
    tl.store(dloss_ptr + offs, tl.where(m, dloss, 0.0), mask=ok)
    base = partial_ptr + pid * N_STATS
    tl.store(base + 0, tl.sum(m.to(tl.float32), axis=0))
    tl.store(base + 1, tl.sum(tl.where(m, loss, 0.0), axis=0))
    tl.store(base + 2, n_clipped)
    tl.store(base + 3, tl.sum(tl.where(m, v, 0.0), axis=0))
    tl.store(base + 4, tl.sum(tl.where(m, ret, 0.0), axis=0))


def value_loss_torch(values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip) -> ValueLossOut:
    """Twin of `value_loss_fwd_kernel` on flat (N,) tensors."""
    m = mask != 0
    v = torch.where(m, values.float(), 0.0)
    ret = torch.where(m, returns.float(), 0.0)
    err = v - ret
    loss = 0.5 * err * err
    dloss = err
    clipped = torch.zeros_like(m)
    if clip is not None:
        old = torch.where(m, old_values.float(), 0.0)
        err_c = torch.minimum(torch.maximum(v, old - clip), old + clip) - ret
        loss_c = 0.5 * err_c * err_c
        clipped = loss_c > loss
        loss = torch.where(clipped, loss_c, loss)
        dloss = torch.where(clipped, 0.0, dloss)
    mf = m.float()
    sums = torch.stack([mf.sum(), (loss * mf).sum(), (clipped & m).float().sum(), v.sum(), ret.sum()])
    return ValueLossOut(torch.where(m, loss, 0.0), torch.where(m, dloss, 0.0), sums)


def value_loss_fwd(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip: float | None
) -> ValueLossOut:
    """Per-token clipped value loss, its derivative and masked stat sums; inputs of any common shape."""
    values, old_values, returns, mask = _flat_inputs(
        {"values": values, "old_values": old_values, "returns": returns, "mask": mask}, values.shape
    )
    if not use_triton(values):
        return value_loss_torch(values, old_values, returns, mask, clip)
    N = values.numel()
    n_prog = max(1, triton.cdiv(N, LOSS_BLOCK))
    loss = _empty((N,), torch.float32, values.device)
    dloss = _empty((N,), torch.float32, values.device)
    partial = _empty((n_prog, len(VALUE_STATS)), torch.float32, values.device)
    value_loss_fwd_kernel[(n_prog,)](
        values, old_values, returns, mask, loss, dloss, partial,
        N,
        float(clip or 0.0),
        HAS_CLIP=clip is not None, N_STATS=len(VALUE_STATS), BLOCK=LOSS_BLOCK, enable_fp_fusion=FP_FUSION,
    )  # fmt: skip
    return ValueLossOut(loss, dloss, partial.sum(0))
