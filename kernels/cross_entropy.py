"""Cross-entropy over a vocabulary, on given logits or fused with the lm_head GEMM, in Triton plus cuBLAS.

    from tl_fast.kernels.cross_entropy import CEOptions, cross_entropy_fwd, linear_cross_entropy_fwd
    loss, stats, _ = cross_entropy_fwd(logits, labels, CEOptions())     # (N,) and (N, 2) fp32
    out = linear_cross_entropy_fwd(hidden, weight, None, labels, CEOptions(), coef=coef, need_grad=(1, 1, 0))

Two layers live here, both on raw tensors (the autograd Functions are in tl_fast/losses.py and
tl_fast/logprobs.py):

* Row kernels. `cross_entropy_fwd_kernel` streams one row of logits in BLOCK_V pieces (online max and sum, so
  any V works) and returns per-row fp32 loss, softmax statistics and, when asked, entropy; with HAS_GRAD it
  streams the row a second time and writes d(coef * loss)/d(logits), which may overwrite the logits (the fused
  path does that to its own chunk buffer). `cross_entropy_bwd_kernel` writes the gradient from the saved
  statistics and arbitrary per-row upstream gradients of the loss and of the entropy. The statistics are kept
  as (m, log s), m the row max of z and s = sum_j exp(z_j - m), not as lse = m + log s: a rounded lse near
  |z| ~ 1e3 is off by ~1e-4, and z - lse + entropy (the entropy gradient) or a log-prob near 0 would inherit
  that as a large relative error.
* The fused-linear engine. Rows are cut into chunks; per chunk one cuBLAS GEMM makes the (chunk, V) logits in
  the input dtype, a row kernel turns them into per-row stats and, in place, into dlogits, and two more GEMMs
  give grad_hidden (chunk rows) and grad_weight (accumulated in the weight dtype). The (N, V) logits never
  exist. With per-row loss coefficients known in the forward (any reduction to a scalar) the gradients are
  finished inside the forward: 6*N*H*V FLOPs in all. With an arbitrary upstream gradient only the (N, 2)
  statistics are kept and the backward recomputes each chunk's logits: 8*N*H*V FLOPs.

Notation, per row: x = logits (V,), u = x / T, z = c * tanh(u / c) with softcap c (else z = u),
lse = log sum_j exp(z_j), p = softmax(z), y = label, eps = label smoothing, zl = z-loss scale.
    loss    = lse - (1 - eps) z_y - (eps / V) sum_j z_j + zl * lse^2        (torch's label smoothing)
    entropy = lse - sum_j p_j z_j
    dloss/dz_k    = p_k (1 + 2 zl lse) - (1 - eps) [k = y] - eps / V
    dentropy/dz_k = -p_k (z_k - lse + entropy)
    dz_k/dx_k     = (1 / T) (1 - (z_k / c)^2)          (1 / T without softcap)
Rows whose label equals ignore_index get loss 0 and gradient 0. Labels must otherwise lie in [0, V); the
kernels mask the label load, so an out-of-range label reads no memory; tl_fast.losses rejects one.

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

# Bytes of logits one chunk may hold in the fused-linear engine. At V=128256 in bf16 this gives 384 rows
# (94 MiB): meant to keep the grad_weight GEMM (inner dim = chunk rows) near compute-bound while grad_weight
# (1 GB) + grad_hidden + the chunk stay under 1.2 GiB at N=16k, H=4096. Not yet tuned on a GPU: see the
# benchmark's --chunk-size.
CHUNK_BYTES = 96 * 2**20
MAX_BLOCK_V = 4096


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


def _empty(shape, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Every output buffer of this module comes from here; tests swap in NaN-filled buffers (poisoning)."""
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
def _dlogits_block(
    x, offs, label, m, log_s, entropy, coef, dent, V, inv_temperature, softcap, smoothing, z_loss,
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
        dz = tl.where(offs == label, dz - (1.0 - smoothing), dz)
    else:
        dz = tl.where(offs == label, dz - 1.0, dz)
    dz *= coef
    if HAS_DENT:
        dz -= dent * p * (logp + entropy)
    dx = dz * inv_temperature
    if HAS_SOFTCAP:
        zc = z / softcap
        dx *= 1.0 - zc * zc
    return dx


@triton.jit
def cross_entropy_fwd_kernel(
    # data pointers
    logits_ptr, labels_ptr, coef_ptr, loss_ptr, stats_ptr, entropy_ptr, dlogits_ptr,
    # shapes
    V,
    # strides
    stride_logits, stride_dlogits,
    # constants
    ignore_index, inv_temperature, softcap, smoothing, z_loss,
    HAS_SOFTCAP: tl.constexpr, HAS_SMOOTHING: tl.constexpr, HAS_ZLOSS: tl.constexpr,
    HAS_ENTROPY: tl.constexpr, HAS_GRAD: tl.constexpr, BLOCK_V: tl.constexpr,
):  # fmt: skip
    # One program per row. Row offsets are int64: row * stride passes 2**31 once N * V does (N=16k, V=128k).
    row = tl.program_id(0).to(tl.int64)
    logits_row = logits_ptr + row * stride_logits
    label = tl.load(labels_ptr + row).to(tl.int64)
    valid = label != ignore_index
    cols = tl.arange(0, BLOCK_V)

    # Pass 1: online max m, s = sum exp(z - m), sum z (smoothing), t = sum exp(z - m) (z - m) (entropy).
    # m starts finite so that (m_old - m_new) * s_old is 0, not NaN, on the first block.
    m = tl.zeros([], dtype=tl.float32) - 1e30
    s = tl.zeros([], dtype=tl.float32)
    sum_z = tl.zeros([], dtype=tl.float32)
    t = tl.zeros([], dtype=tl.float32)
    for start in range(0, V, BLOCK_V):
        offs = start + cols
        mask = offs < V
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
    log_s = tl.log(s)
    lse = m + log_s

    in_range = valid & (label >= 0) & (label < V)
    x_y = tl.load(logits_row + label, mask=in_range, other=0.0).to(tl.float32)
    z_y = _transform(x_y, inv_temperature, softcap, HAS_SOFTCAP)
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

    # Pass 2: gradient of coef * loss, written over the row (the fused path passes dlogits_ptr == logits_ptr;
    # each block is read before it is written, by this program only). The row is still in L2 from pass 1.
    if HAS_GRAD:
        coef = tl.where(valid, tl.load(coef_ptr + row), 0.0)
        dlogits_row = dlogits_ptr + row * stride_dlogits
        for start in range(0, V, BLOCK_V):
            offs = start + cols
            mask = offs < V
            x = tl.load(logits_row + offs, mask=mask, other=0.0).to(tl.float32)
            dx = _dlogits_block(
                x, offs, label, m, log_s, entropy, coef, 0.0, V, inv_temperature, softcap, smoothing, z_loss,
                HAS_SOFTCAP, HAS_SMOOTHING, HAS_ZLOSS, False,
            )  # fmt: skip
            tl.store(dlogits_row + offs, dx.to(dlogits_ptr.dtype.element_ty), mask=mask)


@triton.jit
def cross_entropy_bwd_kernel(
    # data pointers
    logits_ptr, labels_ptr, stats_ptr, entropy_ptr, dloss_ptr, dentropy_ptr, dlogits_ptr,
    # shapes
    V,
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
    label = tl.load(labels_ptr + row).to(tl.int64)
    valid = label != ignore_index
    m = tl.load(stats_ptr + 2 * row)
    log_s = tl.load(stats_ptr + 2 * row + 1)
    coef = tl.where(valid, tl.load(dloss_ptr + row), 0.0)
    entropy = 0.0
    dent = 0.0
    if HAS_DENT:
        entropy = tl.load(entropy_ptr + row)
        dent = tl.where(valid, tl.load(dentropy_ptr + row), 0.0)
    cols = tl.arange(0, BLOCK_V)
    for start in range(0, V, BLOCK_V):
        offs = start + cols
        mask = offs < V
        x = tl.load(logits_row + offs, mask=mask, other=0.0).to(tl.float32)
        dx = _dlogits_block(
            x, offs, label, m, log_s, entropy, coef, dent, V, inv_temperature, softcap, smoothing, z_loss,
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


def _fwd_torch(logits, labels, opts, coef, dlogits, with_entropy):
    z = _transform_torch(logits, opts)
    V = z.shape[1]
    valid = labels != opts.ignore_index
    m = z.max(dim=1).values
    log_s = torch.exp(z - m[:, None]).sum(1).log()
    stats = torch.stack((m, log_s), dim=1)
    lse = m + log_s
    z_y = z.gather(1, torch.where(valid, labels, 0).clamp(0, V - 1)[:, None])[:, 0]
    loss = (1.0 - opts.label_smoothing) * ((m - z_y) + log_s)
    if opts.label_smoothing:
        loss = loss + opts.label_smoothing * (lse - z.sum(1) / V)
    if opts.z_loss:
        loss = loss + opts.z_loss * lse * lse
    loss = torch.where(valid, loss, 0.0)
    entropy = None
    if with_entropy:
        logp = (z - m[:, None]) - log_s[:, None]
        entropy = -(logp.exp() * logp).sum(1)
    if coef is not None:
        dlogits.copy_(_dlogits_torch(z, labels, stats, entropy, coef, None, opts))
    return loss, stats, entropy


def _dlogits_torch(z, labels, stats, entropy, dloss, dentropy, opts):
    V = z.shape[1]
    valid = labels != opts.ignore_index
    m, log_s = stats[:, :1], stats[:, 1:]
    logp = (z - m) - log_s
    p = torch.exp(logp)
    dz = p * (1.0 + 2.0 * opts.z_loss * (m + log_s))
    if opts.label_smoothing:
        dz -= opts.label_smoothing / V
    label_col = torch.where(valid, labels, 0).clamp(0, V - 1)[:, None]
    dz.scatter_add_(1, label_col, torch.full_like(label_col, opts.label_smoothing - 1.0, dtype=dz.dtype))
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


def _launch_config(V: int, block_v: int | None) -> tuple[int, int]:
    block = block_v or min(triton.next_power_of_2(V), MAX_BLOCK_V)
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


def cross_entropy_fwd(
    logits: Tensor,
    labels: Tensor,
    opts: CEOptions,
    *,
    coef: Tensor | None = None,
    dlogits: Tensor | None = None,
    with_entropy: bool = False,
    block_v: int | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Per-row loss, LSE (and entropy), optionally writing d(coef * loss)/d(logits).

    logits: (N, V) fp32/bf16/fp16, contiguous along V; labels: (N,) int64/int32;
    coef: (N,) fp32 per-row coefficients, given together with dlogits: (N, V) any float dtype (may be `logits`
    itself, overwritten in place). Returns loss (N,) fp32, stats (N, 2) fp32 = (max z, log sum exp(z - max)),
    entropy (N,) fp32 or None.
    """
    _check_rows(logits, labels)
    N, V = logits.shape
    if (coef is None) != (dlogits is None):
        raise ValueError("coef and dlogits go together: pass both to get gradients, or neither")
    _check_row_vector(coef, N, "coef")
    if dlogits is not None and (dlogits.shape != logits.shape or dlogits.stride(1) != 1):
        raise ValueError(
            f"dlogits must be {tuple(logits.shape)} contiguous along V, got {tuple(dlogits.shape)}"
        )
    if not use_triton(logits):
        return _fwd_torch(logits, labels, opts, coef, dlogits, with_entropy)
    loss = _empty((N,), torch.float32, logits.device)
    stats = _empty((N, 2), torch.float32, logits.device)
    entropy = _empty((N,), torch.float32, logits.device) if with_entropy else None
    if N == 0:
        return loss, stats, entropy
    block, warps = _launch_config(V, block_v)
    cross_entropy_fwd_kernel[(N,)](
        logits, labels, coef if coef is not None else loss, loss, stats,
        entropy if entropy is not None else loss, dlogits if dlogits is not None else logits,
        V,
        logits.stride(0), dlogits.stride(0) if dlogits is not None else 0,
        *_constants(opts),
        **_switches(opts), HAS_ENTROPY=with_entropy, HAS_GRAD=coef is not None, BLOCK_V=block,
        num_warps=warps,
    )  # fmt: skip
    return loss, stats, entropy


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
    dlogits: (N, V) output buffer
    (may be `logits` to overwrite it), allocated in the logits dtype when None. Returns dlogits.
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
    if not use_triton(logits):
        z = _transform_torch(logits, opts)
        dlogits.copy_(_dlogits_torch(z, labels, stats, entropy, dloss, dentropy, opts))
        return dlogits
    if N == 0:
        return dlogits
    block, warps = _launch_config(V, block_v)
    has_dent = dentropy is not None
    cross_entropy_bwd_kernel[(N,)](
        logits, labels, stats, entropy if has_dent else dloss, dloss, dentropy if has_dent else dloss,
        dlogits,
        V,
        logits.stride(0), dlogits.stride(0),
        *_constants(opts),
        **_switches(opts), HAS_DENT=has_dent, BLOCK_V=block,
        num_warps=warps,
    )  # fmt: skip
    return dlogits


# ------------------------------------------------------------------------------------------------------------
# Fused-linear engine: chunked lm_head GEMM + row kernel + gradient GEMMs
# ------------------------------------------------------------------------------------------------------------


class LinearCEForward(NamedTuple):
    loss: Tensor  # (N,) fp32, per row, 0 on ignored rows
    stats: Tensor  # (N, 2) fp32: (max z, log sum exp(z - max)); lse = their sum
    entropy: Tensor | None  # (N,) fp32 when asked
    grad_hidden: Tensor | None  # (N, H) hidden dtype, d(sum coef * loss)/d(hidden), when coef was given
    grad_weight: Tensor | None  # (V, H) weight dtype
    grad_bias: Tensor | None  # (V,) fp32


def default_chunk_size(N: int, V: int, dtype: torch.dtype) -> int:
    """Rows per chunk: CHUNK_BYTES of logits, a multiple of 128 rows (GEMM tiles), at least 128, at most N."""
    rows = CHUNK_BYTES // (V * torch.finfo(dtype).bits // 8)
    return max(1, min(N, max(128, rows // 128 * 128)))


def _check_linear(hidden: Tensor, weight: Tensor, bias: Tensor | None, labels: Tensor) -> None:
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(
            f"hidden must be (N, H) and weight (V, H), got {tuple(hidden.shape)} and {tuple(weight.shape)}"
        )
    if hidden.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise ValueError(
            f"hidden, weight and bias must share a dtype, got {hidden.dtype}, {weight.dtype}, "
            f"{None if bias is None else bias.dtype}"
        )
    if not hidden.is_contiguous() or not weight.is_contiguous():
        raise ValueError("hidden and weight must be contiguous")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be ({weight.shape[0]},), got {tuple(bias.shape)}")
    if labels.shape != (hidden.shape[0],):
        raise ValueError(f"labels must be ({hidden.shape[0]},), got {tuple(labels.shape)}")


def _chunk_logits(hidden_c: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    if bias is None:
        return torch.mm(hidden_c, weight.t(), out=out)
    return torch.addmm(bias, hidden_c, weight.t(), out=out)


def _accumulate_grads(dl, hidden_c, weight, gh_c, gw, gb, first: bool) -> None:
    """grad_hidden rows = dl @ W; grad_weight (+)= dl^T @ hidden; grad_bias += column sums (fp32)."""
    if gh_c is not None:
        torch.mm(dl, weight, out=gh_c)
    if gw is not None:
        if first:
            torch.mm(dl.t(), hidden_c, out=gw)
        else:
            gw.addmm_(dl.t(), hidden_c)  # cuBLAS accumulates in fp32, then rounds once per chunk
    if gb is not None:
        gb += torch.sum(dl, dim=0, dtype=torch.float32)


def linear_cross_entropy_fwd(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    labels: Tensor,
    opts: CEOptions,
    *,
    coef: Tensor | None = None,
    need_grad: tuple[bool, bool, bool] = (False, False, False),
    with_entropy: bool = False,
    chunk_size: int | None = None,
    block_v: int | None = None,
) -> LinearCEForward:
    """Per-row loss/stats/entropy of logits = hidden @ weight^T + bias, holding one chunk of logits at a time.

    hidden: (N, H), weight: (V, H), bias: (V,) or None, all one float dtype; labels: (N,) int64.
    coef: (N,) fp32 coefficients of each row's loss in the objective sum_i coef_i * loss_i. With coef, the
    gradients named by need_grad = (hidden, weight, bias) are computed here, chunk by chunk (6*N*H*V FLOPs).
    """
    _check_linear(hidden, weight, bias, labels)
    _check_row_vector(coef, hidden.shape[0], "coef")
    (N, H), V = hidden.shape, weight.shape[0]
    dev, dtype = hidden.device, hidden.dtype
    grads = coef is not None
    C = chunk_size or default_chunk_size(N, V, dtype)
    loss = _empty((N,), torch.float32, dev)
    stats = _empty((N, 2), torch.float32, dev)
    entropy = _empty((N,), torch.float32, dev) if with_entropy else None
    gh = _empty((N, H), dtype, dev) if grads and need_grad[0] else None
    gw = _empty((V, H), dtype, dev) if grads and need_grad[1] else None
    gb = (
        torch.zeros(V, dtype=torch.float32, device=dev)
        if grads and need_grad[2] and bias is not None
        else None
    )
    if N == 0:
        if gw is not None:
            gw.zero_()
        return LinearCEForward(loss, stats, entropy, gh, gw, gb)
    buf = _empty((min(C, N), V), dtype, dev)
    for start in range(0, N, C):
        end = min(start + C, N)
        h_c, buf_c = hidden[start:end], buf[: end - start]
        _chunk_logits(h_c, weight, bias, buf_c)
        l_c, s_c, e_c = cross_entropy_fwd(
            buf_c,
            labels[start:end],
            opts,
            coef=coef[start:end] if grads else None,
            dlogits=buf_c if grads else None,  # in place: the chunk's logits become its dlogits
            with_entropy=with_entropy,
            block_v=block_v,
        )
        loss[start:end] = l_c
        stats[start:end] = s_c
        if with_entropy:
            entropy[start:end] = e_c
        if grads:
            _accumulate_grads(
                buf_c, h_c, weight, gh[start:end] if gh is not None else None, gw, gb, start == 0
            )
    return LinearCEForward(loss, stats, entropy, gh, gw, gb)


def linear_cross_entropy_bwd(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    labels: Tensor,
    stats: Tensor,
    dloss: Tensor,
    opts: CEOptions,
    *,
    entropy: Tensor | None = None,
    dentropy: Tensor | None = None,
    need_grad: tuple[bool, bool, bool] = (True, True, True),
    chunk_size: int | None = None,
    block_v: int | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of sum_i dloss_i * loss_i + dentropy_i * entropy_i, recomputing each chunk's logits.

    Shapes as in `linear_cross_entropy_fwd`; stats: (N, 2) fp32 from it; dloss, entropy, dentropy: (N,) fp32.
    Returns grad_hidden (N, H) hidden dtype | None, grad_weight (V, H) weight dtype | None,
    grad_bias (V,) fp32 | None.
    """
    _check_linear(hidden, weight, bias, labels)
    (N, H), V = hidden.shape, weight.shape[0]
    dev, dtype = hidden.device, hidden.dtype
    C = chunk_size or default_chunk_size(N, V, dtype)
    gh = _empty((N, H), dtype, dev) if need_grad[0] else None
    gw = _empty((V, H), dtype, dev) if need_grad[1] else None
    gb = torch.zeros(V, dtype=torch.float32, device=dev) if need_grad[2] and bias is not None else None
    if N == 0:
        if gw is not None:
            gw.zero_()
        return gh, gw, gb
    buf = _empty((min(C, N), V), dtype, dev)
    for start in range(0, N, C):
        end = min(start + C, N)
        h_c, buf_c = hidden[start:end], buf[: end - start]
        _chunk_logits(h_c, weight, bias, buf_c)
        cross_entropy_bwd(
            buf_c,
            labels[start:end],
            stats[start:end],
            dloss[start:end],
            opts,
            entropy=entropy[start:end] if entropy is not None else None,
            dentropy=dentropy[start:end] if dentropy is not None else None,
            dlogits=buf_c,
            block_v=block_v,
        )
        _accumulate_grads(buf_c, h_c, weight, gh[start:end] if gh is not None else None, gw, gb, start == 0)
    return gh, gw, gb
