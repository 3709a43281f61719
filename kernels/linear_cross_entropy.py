"""Cross-entropy fused with the lm_head GEMM: cuBLAS makes blocks of logits, the row kernels consume them.

    python -m tl_fast.kernels.linear_cross_entropy            # the cost model's table below, recomputed
    out = linear_cross_entropy_fwd(hidden, weight, None, labels, CEOptions(), coef=coef, need_grad=(1, 1, 0))
    plan, cost = plan_forward(Problem(16384, 4096, 128256, torch.bfloat16), H100, max_workspace_bytes=2**30)

The (N, V) logits never exist. N rows, H hidden, V vocabulary; outputs grad_hidden gh (N, H) and grad_weight
gw (V, H); a "rounding" is one store of a partial sum into a bf16/fp16 output.

Two ways to walk the logits (a Plan; the planner picks one, see below):
* fused: blocks of R whole rows. Per block one GEMM makes (R, V) logits, cross_entropy_fwd_kernel turns them
  into loss/stats and, in place, into dlogits, and two GEMMs give gh (those rows, final) and gw (+= over
  blocks). 6NHV FLOPs. gw is rounded once per block, ceil(N / R) times, unless it is accumulated in an fp32
  (V, H) buffer or the weight (hence gw) is fp32 itself.
* two-phase: a statistics pass (R1 x C1 blocks, the online max/sum carried between vocabulary slabs) and a
  gradient pass (R2 x C2 blocks: logits again, dlogits from the known statistics, gh accumulated over the
  slabs in an fp32 (R2, H) buffer, gw slabs += over row blocks). 8NHV FLOPs, gw rounded ceil(N / R2) times.
  The backward of reduction="none", of fp16 and of the log-probs is this gradient pass alone.
Accuracy contract: no element of a bf16/fp16 gh or gw is rounded more than MAX_ROUNDINGS = 4 times. On the
CPU path (N=16384, H=64, V=2048, bf16) gw's error vs fp64 over torch's grows with the roundings K as 1.00,
1.13, 1.35, 1.72, 2.09, 3.07x for K = 1, 2, 4, 8, 13, 43 (the old engine: 43 chunks of 384 rows). So an
accurate fused plan needs R >= N/4 or a 2.1 GB fp32 gw; the two-phase plan needs R2 >= N/4 and an
(N/4, H) fp32 accumulator (67 MB at the target shape).

fp32 master weight with bf16 hidden states: no whole bf16 copy of the weight (1 GB) is made and gw is
written in fp32 directly (no 2.1 GB cast by autograd): weight slabs are cast into the workspace; a fused plan
casts the whole weight once, which counts as workspace.

The planner. max_workspace_bytes (default DEFAULT_WORKSPACE_BYTES = 150 MiB) bounds the engine's buffers
besides its outputs. Among the accurate plans that fit, the planner takes the one with the least modeled time
on the device: a roofline per GEMM (FLOPs / peak vs bytes / bandwidth, 128x128 tiles in waves over the SMs,
split-K when they are fewer than the SMs), streaming kernels and casts at HBM bandwidth. If none fits, it
warns and takes the fastest accurate plan within twice the least workspace one needs. Datasheet peaks: dense
bf16 989 TFLOP/s (H100, H200), 312 (A100); HBM 3.35, 4.8, 2.04 TB/s. These are the model's numbers: no GPU
timing of this engine exists yet (benchmarks/gpu_check.py measures it, and its rivals, when a GPU is
available).

Target shape N=16384, H=4096, V=128256 in bf16. Outputs: gw 1.051 GB + gh 0.134 GB = 1.185 GB. 6NHV = 51.6
TFLOP, 8NHV = 68.9 TFLOP; the three-GEMM floor (6NHV at peak) is 52.2 ms on H100 and H200, 165.5 ms on A100.
Extra = workspace + outputs; FLOP/B = FLOPs / modeled HBM bytes.
  plan (H100's choice)                       rnd  workspace  extra    HBM     FLOP/B  model ms / x floor
                                                  GB         GB       GB              H100  H200  A100
  fused 384 rows, bf16 gw (old engine)       43   0.099      1.283    206     250     1.42  1.23  1.09
  fused 512 rows + fp32 gw accumulator        1   2.233      3.418    231     224     1.58  1.31  1.36
  fused 4096 rows (planner at 1.25 GiB)       4   1.051      2.236     42    1217     1.08  1.06  1.06
  two-phase 4096 x 10752 (default 150 MiB)    4   0.155      1.340     69     993     1.46  1.44  1.40
  two-phase 4096 x 8064 (budget 1 B: 2x least) 4  0.133      1.318     73     949     1.48  1.45  1.41
(76.2 ms on H100 at the default, 56.6 ms at 1.25 GiB.) So: within 1.05-1.1x of the floor needs the 1.05 GB
fused workspace (2.24 GB extra); within the 1.35 GB budget the accurate plan is two-phase, ~1.45x; 1.2 GB
extra is out of reach with gw rounded at most 4 times (1.185 GB of outputs + a 67 MB fp32 accumulator). A
blockwise kernel (logit tiles kept on chip, Cut Cross-Entropy's design) needs only the outputs, but it too
recomputes the logits (8NHV, >= 1.33x the floor) and, adding bf16 tiles into gw under locks, rounds gw once
per row tile of 64-256 rows (64-256 times here).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

import torch
from torch import Tensor

from . import cross_entropy as rows_
from .cross_entropy import N_STATE, CEOptions, RowOut, row_bwd, row_fwd

DEFAULT_WORKSPACE_BYTES = 150 * 2**20
MAX_ROUNDINGS = 4
_HAS_OUT_DTYPE = "out_dtype" in str(torch._C._jit_get_schemas_for_operator("aten::addmm"))  # torch >= 2.8
_ADDMM_FP32_SELF: list[bool] = []  # learned on first use: torch < 2.10 rejects an fp32 C with bf16 A, B


# ------------------------------------------------------------------------------------------------------------
# Devices and plans
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    sms: int
    hbm_bytes_per_s: float
    bf16_flops: float  # dense tensor-core peak, also fp16
    fp32_flops: float  # without TF32
    l2_bytes: int
    launch_s: float = 4e-6


H100 = DeviceSpec("H100 SXM", 132, 3.35e12, 989e12, 67e12, 50 * 2**20)
H200 = DeviceSpec("H200", 132, 4.8e12, 989e12, 67e12, 50 * 2**20)
A100 = DeviceSpec("A100 SXM 80GB", 108, 2.039e12, 312e12, 19.5e12, 40 * 2**20)
CPU = DeviceSpec("cpu", 2, 2e10, 2e11, 1e11, 2**20, launch_s=2e-5)


@cache
def _cuda_spec(index: int) -> DeviceSpec:
    props = torch.cuda.get_device_properties(index)
    name = props.name
    base = H200 if "H200" in name else H100 if ("H100" in name or "H800" in name) else A100
    scale = props.multi_processor_count / base.sms  # other parts: scaled from the nearest datasheet
    return DeviceSpec(
        name, props.multi_processor_count, base.hbm_bytes_per_s * (1 if base is not A100 else scale),
        base.bf16_flops * scale, base.fp32_flops * scale, getattr(props, "L2_cache_size", base.l2_bytes),
    )  # fmt: skip


def device_spec(device: torch.device) -> DeviceSpec:
    if device.type == "cuda":
        return _cuda_spec(device.index if device.index is not None else torch.cuda.current_device())
    return CPU


class Problem(NamedTuple):
    N: int
    H: int
    V: int
    dtype: torch.dtype  # compute dtype: the hidden states'
    w_dtype: torch.dtype | None = None  # weight (and grad_weight) dtype; None: as dtype
    need_gh: bool = True
    need_gw: bool = True

    @property
    def wdt(self) -> torch.dtype:
        return self.w_dtype or self.dtype


class Plan(NamedTuple):
    fused: bool  # one pass of whole rows gives loss and gradients (6NHV); else statistics, then gradients
    rows: int  # rows per block of the gradient (or fused) pass
    cols: int  # vocabulary columns per slab of the gradient pass (fused: V)
    stats_rows: int  # rows per block of the statistics pass (unused when fused)
    stats_cols: int
    gw_fp32: bool  # grad_weight accumulated in an fp32 (V, H) buffer, rounded once at the end


class PlanCost(NamedTuple):
    workspace: int  # bytes, besides the outputs
    seconds: float  # modeled
    hbm_bytes: float
    flops: float
    gw_roundings: int


def _es(dtype: torch.dtype) -> int:
    return torch.finfo(dtype).bits // 8


def _peak(spec: DeviceSpec, dtype: torch.dtype) -> float:
    if dtype != torch.float32:
        return spec.bf16_flops
    tf32 = torch.backends.cuda.matmul.allow_tf32 and spec is not CPU
    return spec.bf16_flops / 2 if tf32 else spec.fp32_flops


def _gemm(spec: DeviceSpec, M: int, Nn: int, K: int, s: int, out_s: int, acc: bool, peak: float):
    """(seconds, bytes, FLOPs) of an (M, K) x (K, Nn) GEMM: 128x128 tiles, split-K if fewer tiles than SMs."""
    tiles = math.ceil(M / 128) * math.ceil(Nn / 128)
    if tiles >= spec.sms:
        eff = tiles / (math.ceil(tiles / spec.sms) * spec.sms)
    else:
        eff = min(1.0, tiles * max(1, min(spec.sms // tiles, K // 1024)) / spec.sms)
    nbytes = (M * K + Nn * K) * s + M * Nn * out_s * (2 if acc else 1)
    flops = 2.0 * M * Nn * K
    return max(flops / (peak * eff), nbytes / spec.hbm_bytes_per_s) + spec.launch_s, nbytes, flops


class _Tally:
    def __init__(self, spec):
        self.spec, self.t, self.b, self.f = spec, 0.0, 0.0, 0.0

    def gemm(self, *args, times: int = 1):
        t, b, f = _gemm(self.spec, *args)
        self.t, self.b, self.f = self.t + times * t, self.b + times * b, self.f + times * f

    def stream(self, nbytes: float, times: int = 1):
        self.t += times * (nbytes / self.spec.hbm_bytes_per_s + self.spec.launch_s)
        self.b += times * nbytes


def fused_programs(n_rows: int, row_bytes: int, spec: DeviceSpec) -> int:
    """Grid of the fused row kernel: few enough programs that their rows stay in L2 between its two passes,
    but at least one per SM (else HBM bandwidth suffers more than the re-read costs); else one per row."""
    budget = spec.l2_bytes // 2 // max(1, row_bytes)
    return min(n_rows, budget) if spec is not CPU and spec.sms <= budget < n_rows else n_rows


def _workspace(p: Problem, plan: Plan, grads: bool, stats_pass: bool = True) -> int:
    s, cast = _es(p.dtype), p.wdt != p.dtype
    R1, C1, R2, C2 = min(plan.stats_rows, p.N), plan.stats_cols, min(plan.rows, p.N), plan.cols
    gw32 = p.V * p.H * 4 if plan.gw_fp32 and grads and p.need_gw else 0
    if plan.fused:
        return R2 * p.V * s + (gw32 if grads else 0) + (p.V * p.H * s if cast else 0)
    stats = R1 * C1 * s + (R1 * N_STATE * 4 if C1 < p.V else 0) + (C1 * p.H * s if cast else 0)
    stats = stats if stats_pass else 0
    if not grads:
        return stats
    gh_acc = R2 * p.H * 4 if (C2 < p.V and p.need_gh) else 0
    return max(stats, R2 * C2 * s + gh_acc + gw32 + (C2 * p.H * s if cast else 0))


def gw_roundings(p: Problem, plan: Plan, grads: bool = True) -> int:
    if not grads or not p.need_gw or plan.gw_fp32 or p.wdt == torch.float32:
        return 1
    return math.ceil(p.N / plan.rows)


def _splits(total: int, size: int) -> list[tuple[int, int]]:
    """[(block size, count)] of `total` cut into blocks of `size`, the last one partial."""
    size = min(size, total)
    out = [(size, total // size)]
    return out + [(total % size, 1)] if total % size else out


def plan_cost(p: Problem, plan: Plan, spec: DeviceSpec, grads: bool, stats_pass: bool = True) -> PlanCost:
    """The model of the module docstring. grads=False: the statistics pass alone (a forward without
    gradients); non-fused with grads: both passes, or only the gradient pass (a backward) without
    stats_pass."""
    N, H, V = p.N, p.H, p.V
    s, ws, peak = _es(p.dtype), _es(p.wdt), _peak(spec, p.dtype)
    cast = p.wdt != p.dtype
    gw_s = 4 if (plan.gw_fp32 or p.wdt == torch.float32) else ws
    tl_ = _Tally(spec)
    if plan.fused:
        nb = math.ceil(N / min(plan.rows, N))
        if cast:
            tl_.stream(V * H * (ws + s))
        reread_l2 = fused_programs(min(plan.rows, N), V * s, spec) < min(plan.rows, N)
        for R, n in _splits(N, plan.rows):
            tl_.gemm(R, V, H, s, s, False, peak, times=n)
            if not grads:
                tl_.stream(R * V * s, times=n)
                continue
            tl_.stream(R * V * s * (2 if reread_l2 else 3), times=n)
            if p.need_gh:
                tl_.gemm(R, H, V, s, s, False, peak, times=n)
            if p.need_gw:
                tl_.gemm(V, H, R, s, gw_s, nb > 1, peak, times=n)
        if grads and p.need_gw and plan.gw_fp32:
            tl_.stream(V * H * (4 + ws))
    else:
        if stats_pass:
            ns = math.ceil(V / min(plan.stats_cols, V))
            for (R, n), (C, m) in (
                (a, b) for a in _splits(N, plan.stats_rows) for b in _splits(V, plan.stats_cols)
            ):
                if cast and ns > 1:
                    tl_.stream(C * H * (ws + s), times=n * m)
                tl_.gemm(R, C, H, s, s, False, peak, times=n * m)
                tl_.stream(R * C * s + (R * N_STATE * 8 if ns > 1 else 0), times=n * m)
            if cast and ns == 1:
                tl_.stream(V * H * (ws + s))
        if grads:
            nb, ns = math.ceil(N / min(plan.rows, N)), math.ceil(V / min(plan.cols, V))
            for (R, n), (C, m) in ((a, b) for a in _splits(N, plan.rows) for b in _splits(V, plan.cols)):
                if cast and ns > 1:
                    tl_.stream(C * H * (ws + s), times=n * m)
                tl_.gemm(R, C, H, s, s, False, peak, times=n * m)
                tl_.stream(2 * R * C * s, times=n * m)
                if p.need_gh:
                    tl_.gemm(R, H, C, s, 4 if ns > 1 else s, ns > 1, peak, times=n * m)
                if p.need_gw:
                    tl_.gemm(C, H, R, s, gw_s, nb > 1, peak, times=n * m)
            if cast and ns == 1:
                tl_.stream(V * H * (ws + s))
            if p.need_gh and ns > 1:
                tl_.stream(N * H * (4 + s))
            if p.need_gw and plan.gw_fp32:
                tl_.stream(V * H * (4 + ws))
    ws_ = _workspace(p, plan, grads, stats_pass)
    return PlanCost(ws_, tl_.t, tl_.b, tl_.f, gw_roundings(p, plan, grads))


def _row_candidates(N: int) -> list[int]:
    align = 128 if N >= 2048 else 16 if N >= 128 else 1
    out = {N}
    for k in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256):
        out.add(min(N, -(-math.ceil(N / k) // align) * align))
    return sorted(out)


def _col_candidates(V: int) -> list[int]:
    align = 128 if V >= 4096 else 1
    out = {V}
    for k in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024):
        c = -(-math.ceil(V / k) // align) * align
        if c < V:
            out.add(max(1, c))
    return sorted(out)


def _pick(options):
    """options: (cost, plan) pairs; the fastest, ties broken by the smaller workspace."""
    return min(options, key=lambda o: (o[0].seconds, o[0].workspace), default=None)


@lru_cache(maxsize=512)
def _plan(p: Problem, spec: DeviceSpec, budget: int, grads: bool, backward: bool) -> tuple[Plan, PlanCost]:
    if p.N == 0 or p.V == 0:  # nothing to walk
        return Plan(False, 1, max(1, p.V), 1, max(1, p.V), False), PlanCost(0, 0.0, 0.0, 0.0, 1)
    rows, cols = _row_candidates(p.N), _col_candidates(p.V)
    gw32s = (False, True) if (grads and p.need_gw and p.wdt != torch.float32) else (False,)
    fits, accurate = [], []
    r1 = c1 = 0
    if (
        not backward
    ):  # the statistics pass: its own best choice (it runs alone in a forward without gradients)
        stats = [
            (plan_cost(p, Plan(False, 0, 0, r, c, False), spec, False), (r, c)) for r in rows for c in cols
        ]
        fit = _pick([o for o in stats if o[0].workspace <= budget])
        r1, c1 = (fit or min(stats, key=lambda o: o[0].workspace))[1]
    if not grads:
        plan = Plan(False, r1, c1, r1, c1, False)
        return plan, plan_cost(p, plan, spec, False)
    cands = [Plan(False, r, c, r1, c1, g) for r in rows for c in cols for g in gw32s]
    if not backward:
        cands += [Plan(True, r, p.V, r, p.V, g) for r in rows for g in gw32s]
    for plan in cands:
        cost = plan_cost(p, plan, spec, True, stats_pass=not backward)
        if cost.gw_roundings <= MAX_ROUNDINGS:
            accurate.append((cost, plan))
            if cost.workspace <= budget:
                fits.append((cost, plan))
    best = _pick(fits)
    if best is None:  # the fastest accurate plan within twice the least workspace any accurate plan needs
        least = min(o[0].workspace for o in accurate)
        warnings.warn(
            f"fused lm_head cross-entropy at N={p.N}, H={p.H}, V={p.V}: max_workspace_bytes={budget} is "
            f"below the {least} bytes its least-memory accurate plan needs; using up to {2 * least}",
            stacklevel=4,
        )
        return _plan(p, spec, 2 * least, grads, backward)
    return best[1], best[0]


def _bucket(n: int) -> int:
    """n rounded up to one of 8 steps per octave: packed batches vary N every step, and a plan made for a
    few more rows stays valid (no more roundings, no more workspace) while the cache hits (a plan costs
    ~10 ms)."""
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


def plan_forward(
    p: Problem, spec: DeviceSpec, max_workspace_bytes: int | None = None, grads: bool = True
) -> tuple[Plan, PlanCost]:
    """The plan of a forward: with grads, the loss and gradients at once (fused or two-phase); without, the
    statistics pass alone. Planned for N rounded up to _bucket(N); cached."""
    p = p._replace(N=_bucket(p.N))
    return _plan(p, spec, max_workspace_bytes or DEFAULT_WORKSPACE_BYTES, grads, False)


def plan_backward(
    p: Problem, spec: DeviceSpec, max_workspace_bytes: int | None = None
) -> tuple[Plan, PlanCost]:
    """The plan of a gradient pass from saved statistics (its statistics-pass fields are unused)."""
    p = p._replace(N=_bucket(p.N))
    return _plan(p, spec, max_workspace_bytes or DEFAULT_WORKSPACE_BYTES, True, True)


# ------------------------------------------------------------------------------------------------------------
# GEMM helpers
# ------------------------------------------------------------------------------------------------------------


def _mm(a: Tensor, b: Tensor, out: Tensor, accumulate: bool) -> None:
    """out (+)= a @ b with fp32 accumulation inside the GEMM and one rounding into out's dtype."""
    if out.dtype == a.dtype:
        if accumulate:
            out.addmm_(a, b)  # cuBLAS: beta * C + A B in fp32, rounded once
        else:
            torch.mm(a, b, out=out)
    elif out.dtype == torch.float32 and a.is_cuda and _HAS_OUT_DTYPE:
        if not accumulate:
            torch.mm(a, b, out_dtype=torch.float32, out=out)
            return
        if not _ADDMM_FP32_SELF or _ADDMM_FP32_SELF[0]:
            try:
                torch.addmm(out, a, b, out_dtype=torch.float32, out=out)
                _ADDMM_FP32_SELF[:] = [True]
                return
            except RuntimeError:  # pytorch#167931 (2.10) allowed it; before: an fp32 temporary
                _ADDMM_FP32_SELF[:] = [False]
        out.add_(torch.mm(a, b, out_dtype=torch.float32))
    elif out.dtype == torch.float32:  # CPU, meta, old torch: the same sums (products of bf16/fp16 are exact)
        if accumulate:
            out.addmm_(a.float(), b.float())
        else:
            torch.mm(a.float(), b.float(), out=out)
    else:  # fp32 compute into a low-precision output
        prod = torch.mm(a, b)
        out.add_(prod) if accumulate else out.copy_(prod)


class _Weight:
    """The weight (and bias) in the compute dtype, a slab at a time: views when the dtypes agree, else casts
    into one reused buffer (never a whole copy unless the plan holds the whole weight)."""

    def __init__(self, weight: Tensor, bias: Tensor | None, dtype: torch.dtype, cols: int):
        self.weight, self.bias, self.dtype = weight, bias, dtype
        V, H = weight.shape
        self.buf = None
        if weight.dtype != dtype:
            self.buf = rows_._empty((min(cols, V), H), dtype, weight.device)
            if cols >= V:  # whole weight: cast once
                self.buf.copy_(weight)

    def slab(self, c0: int, c1: int) -> tuple[Tensor, Tensor | None]:
        b = None if self.bias is None else self.bias[c0:c1].to(self.dtype)
        if self.buf is None:
            return self.weight[c0:c1], b
        if self.buf.shape[0] >= self.weight.shape[0]:
            return self.buf[c0:c1], b
        w = self.buf[: c1 - c0]
        w.copy_(self.weight[c0:c1])
        return w, b


def _logits(h: Tensor, w: Tensor, b: Tensor | None, out: Tensor) -> Tensor:
    if b is None:
        return torch.mm(h, w.t(), out=out)
    return torch.addmm(b, h, w.t(), out=out)


# ------------------------------------------------------------------------------------------------------------
# The engine
# ------------------------------------------------------------------------------------------------------------


class LinearCEForward(NamedTuple):
    loss: Tensor  # (N,) fp32, per row, 0 on ignored rows
    stats: Tensor  # (N, 2) fp32: (max z, log sum exp(z - max)); lse = their sum
    entropy: Tensor | None  # (N,) fp32 when asked
    grad_hidden: Tensor | None  # (N, H) hidden dtype, d(sum coef * loss)/d(hidden), when coef was given
    grad_weight: Tensor | None  # (V, H) weight dtype
    grad_bias: Tensor | None  # (V,) fp32
    plan: Plan  # what ran


_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _check_linear(hidden: Tensor, weight: Tensor, bias: Tensor | None, labels: Tensor) -> None:
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(
            f"hidden must be (N, H) and weight (V, H), got {tuple(hidden.shape)} and {tuple(weight.shape)}"
        )
    for t, name in ((hidden, "hidden"), (weight, "weight"), (bias, "bias")):
        # fp64 (reference runs, CPU only): the torch path computes it in fp64 like any fp32 input
        if t is not None and t.dtype not in _DTYPES and not (t.dtype == torch.float64 and not t.is_cuda):
            raise ValueError(f"{name} must be fp32, bf16 or fp16 (fp64 on CPU), got {t.dtype}")
    if not hidden.is_contiguous() or not weight.is_contiguous():
        raise ValueError("hidden and weight must be contiguous")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be ({weight.shape[0]},), got {tuple(bias.shape)}")
    if labels.shape != (hidden.shape[0],):
        raise ValueError(f"labels must be ({hidden.shape[0]},), got {tuple(labels.shape)}")


def _outputs(hidden, weight, bias, need, grads):
    (N, H), V, dev = hidden.shape, weight.shape[0], hidden.device
    gh = rows_._empty((N, H), hidden.dtype, dev) if grads and need[0] else None
    gw = rows_._empty((V, H), weight.dtype, dev) if grads and need[1] else None
    gb = torch.zeros(V, dtype=torch.float32, device=dev) if grads and need[2] and bias is not None else None
    return gh, gw, gb


def _stats_pass(hidden, weight, bias, labels, opts, out: RowOut, R: int, C: int) -> None:
    N, V = hidden.shape[0], weight.shape[0]
    R, C = min(R, N), min(C, V)
    buf = rows_._empty((R, C), hidden.dtype, hidden.device)
    state = rows_._empty((R, N_STATE), torch.float32, hidden.device) if C < V else None
    w = _Weight(weight, bias, hidden.dtype, C)
    for r0 in range(0, N, R):
        r1 = min(r0 + R, N)
        h, y = hidden[r0:r1], labels[r0:r1]
        o = RowOut(*(t[r0:r1] if t is not None else None for t in out))  # written in place: no copies
        st = state[: r1 - r0] if state is not None else None
        for c0 in range(0, V, C):
            c1 = min(c0 + C, V)
            z = _logits(h, *w.slab(c0, c1), buf[: r1 - r0, : c1 - c0])
            row_fwd(z, y, opts, o, with_entropy=out.entropy is not None, col0=c0, vocab=V, state=st,
                    state_in=c0 > 0, state_out=c1 < V)  # fmt: skip


def _grad_pass(hidden, weight, bias, labels, stats, dloss, opts, grads, R, C, gw_fp32, entropy=None,
               dentropy=None) -> None:  # fmt: skip
    """grads (gh, gw, gb) of sum_i dloss_i loss_i + dentropy_i entropy_i from the saved statistics."""
    (N, H), V, dev = hidden.shape, weight.shape[0], hidden.device
    R, C = min(R, N), min(C, V)
    gh, gw, gb = grads
    buf = rows_._empty((R, C), hidden.dtype, dev)
    gh_acc = rows_._empty((R, H), torch.float32, dev) if gh is not None and C < V else None
    gw_acc = rows_._empty((V, H), torch.float32, dev) if gw is not None and gw_fp32 else None
    gw_to = gw_acc if gw_acc is not None else gw
    w = _Weight(weight, bias, hidden.dtype, C)
    for r0 in range(0, N, R):
        r1 = min(r0 + R, N)
        h = hidden[r0:r1]
        for c0 in range(0, V, C):
            c1 = min(c0 + C, V)
            w_s, b_s = w.slab(c0, c1)
            z = _logits(h, w_s, b_s, buf[: r1 - r0, : c1 - c0])
            row_bwd(z, labels[r0:r1], stats[r0:r1], dloss[r0:r1], opts, z,
                    entropy=None if dentropy is None else entropy[r0:r1],
                    dentropy=None if dentropy is None else dentropy[r0:r1], col0=c0, vocab=V)  # fmt: skip
            if gh is not None:
                _mm(z, w_s, gh_acc[: r1 - r0] if gh_acc is not None else gh[r0:r1], accumulate=c0 > 0)
            if gw_to is not None:
                _mm(z.t(), h, gw_to[c0:c1], accumulate=r0 > 0)
            if gb is not None:
                gb[c0:c1] += z.sum(0, dtype=torch.float32)
        if gh_acc is not None:
            gh[r0:r1].copy_(gh_acc[: r1 - r0])
    if gw_acc is not None:
        gw.copy_(gw_acc)


def _fused_pass(hidden, weight, bias, labels, opts, out: RowOut, coef, grads, R, gw_fp32, spec) -> None:
    (N, H), V, dev = hidden.shape, weight.shape[0], hidden.device
    R = min(R, N)
    gh, gw, gb = grads
    buf = rows_._empty((R, V), hidden.dtype, dev)
    gw_acc = rows_._empty((V, H), torch.float32, dev) if gw is not None and gw_fp32 else None
    gw_to = gw_acc if gw_acc is not None else gw
    w_all, b_all = _Weight(weight, bias, hidden.dtype, V).slab(0, V)
    programs = fused_programs(R, V * buf.element_size(), spec)
    for r0 in range(0, N, R):
        r1 = min(r0 + R, N)
        h = hidden[r0:r1]
        z = _logits(h, w_all, b_all, buf[: r1 - r0])
        o = RowOut(*(t[r0:r1] if t is not None else None for t in out))
        # in place: the block's logits become its dlogits
        row_fwd(z, labels[r0:r1], opts, o, with_entropy=out.entropy is not None, coef=coef[r0:r1], dlogits=z,
                programs=min(programs, r1 - r0))  # fmt: skip
        if gh is not None:
            _mm(z, w_all, gh[r0:r1], accumulate=False)
        if gw_to is not None:
            _mm(z.t(), h, gw_to, accumulate=r0 > 0)
        if gb is not None:
            gb += z.sum(0, dtype=torch.float32)
    if gw_acc is not None:
        gw.copy_(gw_acc)


def _problem(hidden, weight, need) -> Problem:
    return Problem(hidden.shape[0], hidden.shape[1], weight.shape[0], hidden.dtype, weight.dtype,
                   bool(need[0]), bool(need[1]))  # fmt: skip


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
    max_workspace_bytes: int | None = None,
    plan: Plan | None = None,
) -> LinearCEForward:
    """Per-row loss/stats/entropy of logits = hidden @ weight^T + bias, a block of logits at a time.

    hidden: (N, H); weight: (V, H); bias: (V,) or None; float dtypes, the compute dtype is hidden's (weight
    and bias are cast a slab at a time); labels: (N,) int64/int32. coef: (N,) fp32 coefficients of each row's
    loss in the objective sum_i coef_i * loss_i; with coef, the gradients named by need_grad = (hidden,
    weight, bias) are computed here (grad_hidden in hidden's dtype, grad_weight in weight's, grad_bias fp32).
    max_workspace_bytes: bound on the engine's buffers besides its outputs (default DEFAULT_WORKSPACE_BYTES);
    plan: a fixed Plan instead of the planner's choice.
    """
    _check_linear(hidden, weight, bias, labels)
    rows_._check_row_vector(coef, hidden.shape[0], "coef")
    grads = coef is not None and any(need_grad)
    need = (need_grad[0], need_grad[1], need_grad[2] and bias is not None)
    spec = device_spec(hidden.device)
    if plan is None:
        plan, _ = plan_forward(_problem(hidden, weight, need), spec, max_workspace_bytes, grads)
    N = hidden.shape[0]
    out = rows_.new_row_out(N, with_entropy, hidden.device)
    g = _outputs(hidden, weight, bias, need, grads)
    if N == 0:
        if g[1] is not None:
            g[1].zero_()
    elif grads and plan.fused:
        _fused_pass(hidden, weight, bias, labels, opts, out, coef, g, plan.rows, plan.gw_fp32, spec)
    else:
        R1, C1 = (plan.rows, weight.shape[0]) if plan.fused else (plan.stats_rows, plan.stats_cols)
        _stats_pass(hidden, weight, bias, labels, opts, out, R1, C1)
        if grads:
            _grad_pass(
                hidden, weight, bias, labels, out.stats, coef, opts, g, plan.rows, plan.cols, plan.gw_fp32
            )
    return LinearCEForward(*out, *g, plan)


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
    max_workspace_bytes: int | None = None,
    plan: Plan | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of sum_i dloss_i * loss_i + dentropy_i * entropy_i, recomputing the logits a block at a time.

    Shapes as in `linear_cross_entropy_fwd`; stats: (N, 2) fp32 from it; dloss, entropy, dentropy: (N,) fp32.
    Returns grad_hidden (N, H) hidden dtype | None, grad_weight (V, H) weight dtype | None,
    grad_bias (V,) fp32 | None. plan: only its rows, cols and gw_fp32 are used.
    """
    _check_linear(hidden, weight, bias, labels)
    need = (need_grad[0], need_grad[1], need_grad[2] and bias is not None)
    if plan is None:
        plan, _ = plan_backward(
            _problem(hidden, weight, need), device_spec(hidden.device), max_workspace_bytes
        )
    g = _outputs(hidden, weight, bias, need, True)
    if hidden.shape[0] == 0:
        if g[1] is not None:
            g[1].zero_()
        return g
    _grad_pass(hidden, weight, bias, labels, stats, dloss, opts, g, plan.rows, plan.cols, plan.gw_fp32,
               entropy, dentropy)  # fmt: skip
    return g


# ------------------------------------------------------------------------------------------------------------
# The cost model's table (the module docstring quotes it)
# ------------------------------------------------------------------------------------------------------------


def regimes(p: Problem, spec: DeviceSpec) -> list[tuple[str, Plan, PlanCost]]:
    """The plans the module docstring compares, with their modeled cost on `spec`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        least = plan_forward(p, spec, 1)
    rows = [
        ("fused, 384 rows, gw rounded 43x (old)", Plan(True, 384, p.V, 384, p.V, False)),
        ("fused, 512 rows + fp32 gw accumulator", Plan(True, 512, p.V, 512, p.V, True)),
        ("fused, planner at 1.25 GiB", plan_forward(p, spec, 1_342_177_280)[0]),
        ("two-phase, planner at 150 MiB (default)", plan_forward(p, spec)[0]),
        ("two-phase, planner at least workspace", least[0]),
    ]
    return [(name, plan, plan_cost(p, plan, spec, True)) for name, plan in rows]


def table(p: Problem | None = None) -> str:
    p = p or Problem(16384, 4096, 128256, torch.bfloat16)
    s = _es(p.dtype)
    outputs = (p.V * p.H * _es(p.wdt) if p.need_gw else 0) + (p.N * p.H * s if p.need_gh else 0)
    flops = 6 * p.N * p.H * p.V
    lines = [
        f"N={p.N} H={p.H} V={p.V} {p.dtype}: outputs {outputs / 1e9:.3f} GB, 6NHV = {flops / 1e12:.1f} "
        f"TFLOP, 8NHV = {flops * 4 / 3e12:.1f} TFLOP"
    ]
    for spec in (H100, H200, A100):
        floor = flops / spec.bf16_flops
        lines.append(f"{spec.name}: floor {floor * 1e3:.1f} ms")
        lines.append(
            f"  {'plan':<42}{'rows x cols (stats)':<28}rnd  ws GB  extra GB  HBM GB  FLOP/B  model ms"
            "  x floor"
        )
        for name, plan, c in regimes(p, spec):
            shape = f"{plan.rows} x {plan.cols}"
            shape += "" if plan.fused else f" ({plan.stats_rows} x {plan.stats_cols})"
            extra = (c.workspace + outputs) / 1e9
            lines.append(
                f"  {name:<42}{shape:<28}{c.gw_roundings:>3}  {c.workspace / 1e9:5.3f}  {extra:8.3f}  "
                f"{c.hbm_bytes / 1e9:6.0f}  {c.flops / c.hbm_bytes:6.0f}  {c.seconds * 1e3:8.1f}  "
                f"{c.seconds / floor:7.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
