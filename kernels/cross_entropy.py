"""Cross-entropy row kernels over a vocabulary (or one slab of it), in Triton, with pure-PyTorch twins.

    from tl_fast.kernels.cross_entropy import CEOptions, cross_entropy_fwd, cross_entropy_bwd
    loss, stats, _ = cross_entropy_fwd(logits, labels, CEOptions())          # (N,) and (N, 2) fp32
    dlogits = cross_entropy_bwd(logits, labels, stats, dloss, CEOptions())   # (N, V) logits dtype

The autograd Functions are in tl_fast/losses.py and tl_fast/logprobs.py; the lm_head-fused engine that calls
these kernels on chunks of logits it makes with cuBLAS is kernels/linear_cross_entropy.py.

* `cross_entropy_fwd_kernel` streams a row in BLOCK_V pieces (online max and sum, so any V works) and returns
  per-row fp32 loss, softmax statistics and, when asked, entropy. With HAS_GRAD it streams the row a second
  time and writes d(coef * loss)/d(logits), which may overwrite the logits (the fused engine does that to its
  own chunk buffer). A row may also arrive as slabs of columns [col0, col0 + n_cols): STATE_IN / STATE_OUT
  carry a running (max, sum, entropy sum, sum of z, z of the label) per row between launches, so a row's
  statistics can be built slab by slab without ever holding the whole row.
* `cross_entropy_bwd_kernel` writes the gradient of one slab from the saved statistics and arbitrary per-row
  upstream gradients of the loss and of the entropy.
The statistics are kept as (m, log s), m the row max of z and s = sum_j exp(z_j - m), not as
lse = m + log s: a rounded lse near |z| ~ 1e3 is off by ~1e-4, and z - lse + entropy (the entropy gradient)
or a log-prob near 0 would inherit that as a large relative error.

Notation, per row: x = logits (V,), u = x / T, z = c * tanh(u / c) with softcap c (else z = u),
lse = log sum_j exp(z_j), p = softmax(z), y = label, eps = label smoothing, zl = z-loss scale.
    loss    = lse - (1 - eps) z_y - (eps / V) sum_j z_j + zl * lse^2        (torch's label smoothing)
    entropy = lse - sum_j p_j z_j
    dloss/dz_k    = p_k (1 + 2 zl lse) - (1 - eps) [k = y] - eps / V
    dentropy/dz_k = -p_k (z_k - lse + entropy)
    dz_k/dx_k     = (1 / T) (1 - (z_k / c)^2)          (1 / T without softcap)
Rows whose label equals ignore_index get loss 0 and gradient 0. Labels must otherwise lie in [0, V); the
kernels mask the label load, so an out-of-range label reads no memory; tl_fast.losses rejects one.

Every launch passes enable_fp_fusion explicitly (FP_FUSION): Triton 3.10 changes the default, and the
kernels' tolerances were set with contraction to FMA on.

On CPU tensors (unless TRITON_INTERPRET=1) every launcher runs the pure-PyTorch twin of its kernel, which is
also the readable specification of what the kernel computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from tl_fast._dispatch import use_triton

MAX_BLOCK_V = 4096
FP_FUSION = True  # passed to every launch; see the module docstring
N_STATE = 5  # running row state between slabs: (m, s, t, sum_z, z_y), fp32


@dataclass(frozen=True)
class CEOptions:
    """Per-row softmax options shared by cross-entropy and log-prob ops (see the module notation)."""

    ignore_index: int = -100  # rows with this label: loss 0, gradient 0
    label_smoothing: float = 0.0  # eps in [0, 1]
    z_loss: float = 0.0  # zl: adds zl * lse^2 to each row's loss
    softcap: float | None = None  # c > 0: logits -> c * tanh(logits / c) (Gemma-2)
    temperature: float = 1.0  # T > 0: logits -> logits / T before the softcap

    def __post_init__(self):
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {self.label_smoothing}")
        if self.softcap is not None and not self.softcap > 0:
            raise ValueError(f"softcap must be None or > 0, got {self.softcap}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


class RowOut(NamedTuple):
    loss: Tensor  # (N,) fp32, 0 on ignored rows
    stats: Tensor  # (N, 2) fp32: (max z, log sum exp(z - max)); lse = their sum
    entropy: Tensor | None  # (N,) fp32 when asked


def _empty(shape, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Every output and work buffer of the cross-entropy kernels comes from here (kernels/linear_cross_entropy
    too); tests swap in NaN-filled buffers (poisoning) or count the calls."""
    return torch.empty(shape, dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------------------------
# Triton kernels
# ------------------------------------------------------------------------------------------------------------


@triton.jit
def _transform(x, inv_temperature, softcap, HAS_SOFTCAP: tl.constexpr):
    """z = c * tanh(x / (T c)), or x / T. tanh through exp(-2|u|) so it never overflows."""
    z = x * inv_temperature
    if HAS_SOFTCAP:
        u = z / softcap
        e = tl.exp(-2.0 * tl.abs(u))
        t = (1.0 - e) / (1.0 + e)
        z = softcap * tl.where(u < 0, -t, t)
    return z


@triton.jit
def _local_label(labels_ptr, row, ignore_index, col0, n_cols):
    """(valid, label column inside this slab as int32, -1 when the label is ignored or in another slab).
    The inner loops compare int32 column offsets with it instead of widening every offset to int64."""
    label = tl.load(labels_ptr + row).to(tl.int64)
    valid = label != ignore_index
    local = label - col0
    in_slab = valid & (local >= 0) & (local < n_cols)
    return valid, tl.where(in_slab, local, -1).to(tl.int32)


@triton.jit
def _dlogits_block(
    x, offs, lab, m, log_s, entropy, coef, dent, V, inv_temperature, softcap, smoothing, z_loss,
    HAS_SOFTCAP: tl.constexpr, HAS_SMOOTHING: tl.constexpr, HAS_ZLOSS: tl.constexpr, HAS_DENT: tl.constexpr,
):  # fmt: skip
    """d(coef * loss + dent * entropy)/dx for one block of a row (see the module notation)."""
    z = _transform(x, inv_temperature, softcap, HAS_SOFTCAP)
    # log p = (z - m) - log s; z - m is exact. log p <= 0 in exact arithmetic; the clamp also keeps masked
    # lanes (x = 0) from overflowing exp.
    logp = (z - m) - log_s
    p = tl.exp(tl.minimum(logp, 0.0))
    scale = 1.0
    if HAS_ZLOSS:
        scale += 2.0 * z_loss * (m + log_s)
    dz = p * scale
    if HAS_SMOOTHING:
        dz -= smoothing / V
        dz = tl.where(offs == lab, dz - (1.0 - smoothing), dz)
    else:
        dz = tl.where(offs == lab, dz - 1.0, dz)
    dz *= coef
    if HAS_DENT:
        dz -= dent * p * (logp + entropy)
    dx = dz * inv_temperature
    if HAS_SOFTCAP:
        zc = z / softcap
        dx *= 1.0 - zc * zc
    return dx


# n_rows, V and col0 enter no mask, so specializing on their divisibility would only multiply JIT variants
@triton.jit(do_not_specialize=["n_rows", "V", "col0"])
def cross_entropy_fwd_kernel(
    # data pointers
    logits_ptr, labels_ptr, coef_ptr, loss_ptr, stats_ptr, entropy_ptr, state_ptr, dlogits_ptr,
    # shapes: rows, columns in this slab, whole vocabulary, first column of the slab
    n_rows, n_cols, V, col0,
    # strides
    stride_logits, stride_dlogits,
    # constants
    ignore_index, inv_temperature, softcap, smoothing, z_loss,
    HAS_SOFTCAP: tl.constexpr, HAS_SMOOTHING: tl.constexpr, HAS_ZLOSS: tl.constexpr,
    HAS_ENTROPY: tl.constexpr, HAS_GRAD: tl.constexpr, STATE_IN: tl.constexpr, STATE_OUT: tl.constexpr,
    BLOCK_V: tl.constexpr,
):  # fmt: skip
    # Rows are strided over the programs: with a grid of a few programs per SM (the launcher's choice when
    # HAS_GRAD) the rows in flight fit in L2, so the gradient pass re-reads its row from L2, not HBM.
    pid = tl.program_id(0)
    n_prog = tl.num_programs(0)
    cols = tl.arange(0, BLOCK_V)
    for i in range(0, tl.cdiv(n_rows - pid, n_prog)):
        # Row offsets are int64: row * stride passes 2**31 once N * V does (N=16k, V=128k).
        row = pid.to(tl.int64) + i * n_prog
        logits_row = logits_ptr + row * stride_logits
        valid, lab = _local_label(labels_ptr, row, ignore_index, col0, n_cols)

        # Pass 1: online max m, s = sum exp(z - m), sum z (smoothing), t = sum exp(z - m) (z - m) (entropy),
        # continuing the running state of the earlier slabs when STATE_IN. m starts finite so that
        # (m_old - m_new) * s_old is 0, not NaN, on the first block.
        if STATE_IN:
            m = tl.load(state_ptr + 5 * row)
            s = tl.load(state_ptr + 5 * row + 1)
            t = tl.load(state_ptr + 5 * row + 2)
            sum_z = tl.load(state_ptr + 5 * row + 3)
            z_y = tl.load(state_ptr + 5 * row + 4)
        else:
            m = tl.zeros([], dtype=tl.float32) - 1e30
            s = tl.zeros([], dtype=tl.float32)
            t = tl.zeros([], dtype=tl.float32)
            sum_z = tl.zeros([], dtype=tl.float32)
            z_y = tl.zeros([], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK_V):
            offs = start + cols
            mask = offs < n_cols
            x = tl.load(logits_row + offs, mask=mask, other=0.0).to(tl.float32)
            z = _transform(x, inv_temperature, softcap, HAS_SOFTCAP)
            z = tl.where(mask, z, float("-inf"))
            m_new = tl.maximum(m, tl.max(z, axis=0))
            alpha = tl.exp(m - m_new)
            e = tl.exp(z - m_new)  # 0 on masked lanes
            if HAS_ENTROPY:
                t = alpha * (t + (m - m_new) * s) + tl.sum(e * tl.where(mask, z - m_new, 0.0), axis=0)
            if HAS_SMOOTHING:
                sum_z += tl.sum(tl.where(mask, z, 0.0), axis=0)
            s = s * alpha + tl.sum(e, axis=0)
            m = m_new
        x_y = tl.load(logits_row + lab, mask=lab >= 0, other=0.0).to(tl.float32)
        z_y = tl.where(lab >= 0, _transform(x_y, inv_temperature, softcap, HAS_SOFTCAP), z_y)

        if STATE_OUT:
            tl.store(state_ptr + 5 * row, m)
            tl.store(state_ptr + 5 * row + 1, s)
            tl.store(state_ptr + 5 * row + 2, t)
            tl.store(state_ptr + 5 * row + 3, sum_z)
            tl.store(state_ptr + 5 * row + 4, z_y)
        else:
            log_s = tl.log(s)
            lse = m + log_s
            nll = (m - z_y) + log_s
            if HAS_SMOOTHING:
                loss = (1.0 - smoothing) * nll + smoothing * (lse - sum_z / V)
            else:
                loss = nll
            if HAS_ZLOSS:
                loss += z_loss * lse * lse
            tl.store(loss_ptr + row, tl.where(valid, loss, 0.0))
            tl.store(stats_ptr + 2 * row, m)
            tl.store(stats_ptr + 2 * row + 1, log_s)
            entropy = 0.0
            if HAS_ENTROPY:
                entropy = log_s - t / s
                tl.store(entropy_ptr + row, entropy)

            # Pass 2 (whole rows only): gradient of coef * loss, written over the row (the fused engine
            # passes dlogits_ptr == logits_ptr; each block is read before it is written, by this program).
            if HAS_GRAD:
                coef = tl.where(valid, tl.load(coef_ptr + row), 0.0)
                dlogits_row = dlogits_ptr + row * stride_dlogits
                for start in range(0, n_cols, BLOCK_V):
                    offs = start + cols
                    mask = offs < n_cols
                    x = tl.load(logits_row + offs, mask=mask, other=0.0).to(tl.float32)
                    dx = _dlogits_block(
                        x, offs, lab, m, log_s, entropy, coef, 0.0, V, inv_temperature, softcap, smoothing,
                        z_loss, HAS_SOFTCAP, HAS_SMOOTHING, HAS_ZLOSS, False,
                    )  # fmt: skip
                    tl.store(dlogits_row + offs, dx.to(dlogits_ptr.dtype.element_ty), mask=mask)


@triton.jit(do_not_specialize=["V", "col0"])
def cross_entropy_bwd_kernel(
    # data pointers
    logits_ptr, labels_ptr, stats_ptr, entropy_ptr, dloss_ptr, dentropy_ptr, dlogits_ptr,
    # shapes: columns in this slab, whole vocabulary, first column of the slab
    n_cols, V, col0,
    # strides
    stride_logits, stride_dlogits,
    # constants
    ignore_index, inv_temperature, softcap, smoothing, z_loss,
    HAS_SOFTCAP: tl.constexpr, HAS_SMOOTHING: tl.constexpr, HAS_ZLOSS: tl.constexpr,
    HAS_DENT: tl.constexpr, BLOCK_V: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)  # int64 offsets, as in the forward
    logits_row = logits_ptr + row * stride_logits
    dlogits_row = dlogits_ptr + row * stride_dlogits
    valid, lab = _local_label(labels_ptr, row, ignore_index, col0, n_cols)
    m = tl.load(stats_ptr + 2 * row)
    log_s = tl.load(stats_ptr + 2 * row + 1)
    coef = tl.where(valid, tl.load(dloss_ptr + row), 0.0)
    entropy = 0.0
    dent = 0.0
    if HAS_DENT:
        entropy = tl.load(entropy_ptr + row)
        dent = tl.where(valid, tl.load(dentropy_ptr + row), 0.0)
    cols = tl.arange(0, BLOCK_V)
    for start in range(0, n_cols, BLOCK_V):
        offs = start + cols
        mask = offs < n_cols
        x = tl.load(logits_row + offs, mask=mask, other=0.0).to(tl.float32)
        dx = _dlogits_block(
            x, offs, lab, m, log_s, entropy, coef, dent, V, inv_temperature, softcap, smoothing, z_loss,
            HAS_SOFTCAP, HAS_SMOOTHING, HAS_ZLOSS, HAS_DENT,
        )  # fmt: skip
        tl.store(dlogits_row + offs, dx.to(dlogits_ptr.dtype.element_ty), mask=mask)


# ------------------------------------------------------------------------------------------------------------
# Pure-PyTorch twins (CPU path and specification)
# ------------------------------------------------------------------------------------------------------------


def _transform_torch(x: Tensor, opts: CEOptions) -> Tensor:
    z = x.float() / opts.temperature
    if opts.softcap is not None:
        z = opts.softcap * torch.tanh(z / opts.softcap)
    return z


def _local_label_torch(labels: Tensor, opts: CEOptions, col0: int, n_cols: int) -> tuple[Tensor, Tensor]:
    valid = labels != opts.ignore_index
    local = labels - col0
    return valid, torch.where(valid & (local >= 0) & (local < n_cols), local, -1)


def _fwd_torch(logits, labels, opts, coef, dlogits, with_entropy, out, col0, V, state, state_in, state_out):
    """Twin of cross_entropy_fwd_kernel: merges this slab into the running state, or finishes the rows."""
    z = _transform_torch(logits, opts)
    valid, lab = _local_label_torch(labels, opts, col0, z.shape[1])
    m = z.max(dim=1).values
    e = torch.exp(z - m[:, None])
    s = e.sum(1)
    t = (e * (z - m[:, None])).sum(1) if with_entropy else torch.zeros_like(s)
    sum_z = z.sum(1) if opts.label_smoothing else torch.zeros_like(s)
    z_y = z.gather(1, lab.clamp(min=0)[:, None])[:, 0]
    if state_in:  # combine (m', s', t') of the earlier slabs with this one's at the common max
        m0, s0, t0, sz0, zy0 = state.unbind(1)
        m_new = torch.maximum(m0, m)
        a0, a1 = torch.exp(m0 - m_new), torch.exp(m - m_new)
        t = a0 * (t0 + (m0 - m_new) * s0) + a1 * (t + (m - m_new) * s)
        s = a0 * s0 + a1 * s
        m, sum_z = m_new, sz0 + sum_z
        z_y = torch.where(lab >= 0, z_y, zy0)
    if state_out:
        state.copy_(torch.stack((m, s, t, sum_z, z_y), dim=1))
        return
    log_s = s.log()
    lse = m + log_s
    loss = (1.0 - opts.label_smoothing) * ((m - z_y) + log_s)
    if opts.label_smoothing:
        loss = loss + opts.label_smoothing * (lse - sum_z / V)
    if opts.z_loss:
        loss = loss + opts.z_loss * lse * lse
    out.loss.copy_(torch.where(valid, loss, 0.0))
    out.stats.copy_(torch.stack((m, log_s), dim=1))
    if with_entropy:
        out.entropy.copy_(log_s - t / s)
    if coef is not None:
        dlogits.copy_(_dlogits_torch(z, labels, out.stats, out.entropy, coef, None, opts, col0, V))


def _dlogits_torch(z, labels, stats, entropy, dloss, dentropy, opts, col0=0, V=None):
    """Twin of _dlogits_block over a (rows, n_cols) slab whose first column is col0 of V."""
    V = V or z.shape[1]
    valid, lab = _local_label_torch(labels, opts, col0, z.shape[1])
    m, log_s = stats[:, :1], stats[:, 1:]
    logp = (z - m) - log_s
    p = torch.exp(logp.clamp(max=0.0))
    dz = p * (1.0 + 2.0 * opts.z_loss * (m + log_s))
    if opts.label_smoothing:
        dz -= opts.label_smoothing / V
    hit = torch.where(lab >= 0, opts.label_smoothing - 1.0, 0.0)[:, None]
    dz.scatter_add_(1, lab.clamp(min=0)[:, None], hit.to(dz.dtype))
    dz *= torch.where(valid, dloss, 0.0)[:, None]
    if dentropy is not None:
        dz -= torch.where(valid, dentropy, 0.0)[:, None] * p * (logp + entropy[:, None])
    if opts.temperature != 1.0:
        dz /= opts.temperature
    if opts.softcap is not None:
        dz *= 1.0 - (z / opts.softcap) ** 2
    return dz


# ------------------------------------------------------------------------------------------------------------
# Row launchers
# ------------------------------------------------------------------------------------------------------------


def _check_rows(logits: Tensor, labels: Tensor, name: str = "logits") -> None:
    if logits.dim() != 2:
        raise ValueError(f"{name} must be (N, V), got shape {tuple(logits.shape)}")
    if logits.stride(1) != 1:
        raise ValueError(f"{name} must be contiguous along V, got strides {logits.stride()}")
    if labels.shape != (logits.shape[0],) or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"labels must be ({logits.shape[0]},) int64/int32, got {tuple(labels.shape)} {labels.dtype}"
        )
    if not labels.is_contiguous():
        raise ValueError("labels must be contiguous")


def _check_row_vector(t: Tensor | None, n: int, name: str) -> None:
    if t is not None and (t.shape != (n,) or t.dtype != torch.float32 or not t.is_contiguous()):
        raise ValueError(f"{name} must be a contiguous ({n},) fp32 tensor, got {tuple(t.shape)} {t.dtype}")


def launch_config(n_cols: int, block_v: int | None = None, softcap: bool = False) -> tuple[int, int]:
    """(BLOCK_V, num_warps) of both row kernels for a row (or slab) of n_cols columns. With a softcap, blocks
    of at most 2048: the gradient pass with every option on spilled 16 bytes on sm_80 under Triton 3.6 at
    4096 (64 registers), none at 2048 (47)."""
    block = block_v or min(triton.next_power_of_2(n_cols), MAX_BLOCK_V // 2 if softcap else MAX_BLOCK_V)
    return block, 8 if block >= 2048 else 4


def _constants(opts: CEOptions) -> tuple:
    return (
        opts.ignore_index,
        1.0 / opts.temperature,
        opts.softcap if opts.softcap is not None else 1.0,
        opts.label_smoothing,
        opts.z_loss,
    )


def _switches(opts: CEOptions) -> dict:
    return {
        "HAS_SOFTCAP": opts.softcap is not None,
        "HAS_SMOOTHING": opts.label_smoothing > 0,
        "HAS_ZLOSS": opts.z_loss != 0,
    }


def new_row_out(n: int, with_entropy: bool, device: torch.device) -> RowOut:
    return RowOut(
        _empty((n,), torch.float32, device),
        _empty((n, 2), torch.float32, device),
        _empty((n,), torch.float32, device) if with_entropy else None,
    )


def row_fwd(
    logits: Tensor,
    labels: Tensor,
    opts: CEOptions,
    out: RowOut | None,
    *,
    with_entropy: bool = False,
    coef: Tensor | None = None,
    dlogits: Tensor | None = None,
    col0: int = 0,
    vocab: int | None = None,
    state: Tensor | None = None,
    state_in: bool = False,
    state_out: bool = False,
    programs: int | None = None,
    block_v: int | None = None,
) -> None:
    """Engine-level launch of cross_entropy_fwd_kernel on a (rows, n_cols) slab, columns
    [col0, col0 + n_cols) of a vocabulary of `vocab`. Writes `out` (when finishing) or `state` (rows, N_STATE)
    fp32 (when state_out); with_entropy must be the same for every slab of a row. programs: grid size (rows
    are strided over the programs); default one program per row."""
    n, n_cols = logits.shape
    V = vocab or n_cols
    if coef is not None and (state_in or state_out or n_cols != V):
        raise ValueError("gradients in the forward need whole rows: no slabs, no running state")
    if not use_triton(logits):
        _fwd_torch(
            logits, labels, opts, coef, dlogits, with_entropy, out, col0, V, state, state_in, state_out
        )
        return
    if n == 0:
        return
    block, warps = launch_config(n_cols, block_v, opts.softcap is not None)
    loss = out.loss if out is not None else state  # a stand-in for pointers the variant never touches
    cross_entropy_fwd_kernel[(min(n, programs or n),)](
        logits, labels, coef if coef is not None else loss, loss, out.stats if out is not None else state,
        out.entropy if with_entropy and out is not None else loss,
        state if state is not None else loss, dlogits if dlogits is not None else logits,
        n, n_cols, V, col0,
        logits.stride(0), dlogits.stride(0) if dlogits is not None else 0,
        *_constants(opts),
        **_switches(opts), HAS_ENTROPY=with_entropy, HAS_GRAD=coef is not None, STATE_IN=state_in,
        STATE_OUT=state_out, BLOCK_V=block, num_warps=warps, enable_fp_fusion=FP_FUSION,
    )  # fmt: skip


def row_bwd(
    logits: Tensor,
    labels: Tensor,
    stats: Tensor,
    dloss: Tensor,
    opts: CEOptions,
    dlogits: Tensor,
    *,
    entropy: Tensor | None = None,
    dentropy: Tensor | None = None,
    col0: int = 0,
    vocab: int | None = None,
    block_v: int | None = None,
) -> None:
    """Engine-level launch of cross_entropy_bwd_kernel on a slab (see row_fwd); writes dlogits."""
    n, n_cols = logits.shape
    V = vocab or n_cols
    if not use_triton(logits):
        z = _transform_torch(logits, opts)
        dlogits.copy_(_dlogits_torch(z, labels, stats, entropy, dloss, dentropy, opts, col0, V))
        return
    if n == 0:
        return
    block, warps = launch_config(n_cols, block_v, opts.softcap is not None)
    has_dent = dentropy is not None
    cross_entropy_bwd_kernel[(n,)](
        logits, labels, stats, entropy if has_dent else dloss, dloss, dentropy if has_dent else dloss,
        dlogits,
        n_cols, V, col0,
        logits.stride(0), dlogits.stride(0),
        *_constants(opts),
        **_switches(opts), HAS_DENT=has_dent, BLOCK_V=block, num_warps=warps, enable_fp_fusion=FP_FUSION,
    )  # fmt: skip


def cross_entropy_fwd(
    logits: Tensor,
    labels: Tensor,
    opts: CEOptions,
    *,
    coef: Tensor | None = None,
    dlogits: Tensor | None = None,
    with_entropy: bool = False,
    block_v: int | None = None,
) -> RowOut:
    """Per-row loss, softmax statistics (and entropy), optionally writing d(coef * loss)/d(logits).

    logits: (N, V) fp32/bf16/fp16, contiguous along V; labels: (N,) int64/int32;
    coef: (N,) fp32 per-row coefficients, given together with dlogits: (N, V) any float dtype (may be `logits`
    itself, overwritten in place). Returns loss (N,) fp32, stats (N, 2) fp32 = (max z, log sum exp(z - max)),
    entropy (N,) fp32 or None.
    """
    _check_rows(logits, labels)
    N = logits.shape[0]
    if (coef is None) != (dlogits is None):
        raise ValueError("coef and dlogits go together: pass both to get gradients, or neither")
    _check_row_vector(coef, N, "coef")
    if dlogits is not None and (dlogits.shape != logits.shape or dlogits.stride(1) != 1):
        raise ValueError(
            f"dlogits must be {tuple(logits.shape)} contiguous along V, got {tuple(dlogits.shape)}"
        )
    out = new_row_out(N, with_entropy, logits.device)
    row_fwd(logits, labels, opts, out, with_entropy=with_entropy, coef=coef, dlogits=dlogits, block_v=block_v)
    return out


def cross_entropy_bwd(
    logits: Tensor,
    labels: Tensor,
    stats: Tensor,
    dloss: Tensor,
    opts: CEOptions,
    *,
    entropy: Tensor | None = None,
    dentropy: Tensor | None = None,
    dlogits: Tensor | None = None,
    block_v: int | None = None,
) -> Tensor:
    """d(sum_i dloss_i * loss_i + dentropy_i * entropy_i)/d(logits) from the forward's statistics.

    logits: (N, V); labels: (N,); stats: (N, 2) fp32 from the forward; dloss, entropy, dentropy: (N,) fp32.
    dlogits: (N, V) output buffer (may be `logits` to overwrite it), allocated in the logits dtype when None.
    Returns dlogits.
    """
    _check_rows(logits, labels)
    N, V = logits.shape
    if stats.shape != (N, 2) or stats.dtype != torch.float32 or not stats.is_contiguous():
        raise ValueError(f"stats must be a contiguous ({N}, 2) fp32 tensor, got {tuple(stats.shape)}")
    for t, name in ((dloss, "dloss"), (entropy, "entropy"), (dentropy, "dentropy")):
        _check_row_vector(t, N, name)
    if (entropy is None) != (dentropy is None):
        raise ValueError("entropy and dentropy go together")
    if dlogits is None:
        dlogits = _empty((N, V), logits.dtype, logits.device)
    elif dlogits.shape != logits.shape or dlogits.stride(1) != 1:
        raise ValueError(
            f"dlogits must be {tuple(logits.shape)} contiguous along V, got {tuple(dlogits.shape)}"
        )
    row_bwd(logits, labels, stats, dloss, opts, dlogits, entropy=entropy, dentropy=dentropy, block_v=block_v)
    return dlogits
