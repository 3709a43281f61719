"""No host syncs inside the ops (claimed by the README, tl_fast/losses.py, tl_fast/rl.py), checked on the CPU.

    .venv/bin/python -m pytest -q tests/test_no_host_sync.py

On a GPU, `torch.cuda.set_sync_debug_mode("error")` catches a sync (the gpu-marked tests do that). On the
CPU nothing syncs, so this test catches the Python calls that would: every Tensor method or torch function
that moves values to the host (.item(), .tolist(), bool/int/float(tensor), .cpu(), .to("cpu"), .numpy()) or
needs them for an output shape (nonzero, masked_select, unique, boolean-mask indexing) raises while an op
runs. Both paths run: the wrapper code around the Triton kernels (the launch itself is exempt: the
interpreter copies its arguments to the host by design) and the pure-PyTorch twins. The one allowed caller
is check_label_range's CPU branch, which reads the bad label to name it (on CUDA it is an async assert).
"""

from __future__ import annotations

import contextlib
import sys

import pytest
import torch

import tl_fast
from tl_fast.kernels.linear_cross_entropy import Plan

_ALLOWED = {("tl_fast.losses", "check_label_range")}  # the CPU-only branch; see the module docstring
_TENSOR_METHODS = ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__",
                   "nonzero", "masked_select", "unique")  # fmt: skip
_TORCH_FUNCTIONS = ("nonzero", "masked_select", "unique", "argwhere")


class HostSync(AssertionError):
    pass


class SyncGuard:
    def __init__(self):
        self.active = False

    @contextlib.contextmanager
    def __call__(self):
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def check(self, what: str) -> None:
        if not self.active:
            return
        frame = sys._getframe(2)
        while frame is not None:
            if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _ALLOWED:
                return
            frame = frame.f_back
        raise HostSync(f"{what} inside an op: a host sync on CUDA")


@pytest.fixture
def sync_guard(monkeypatch):
    from triton.runtime.jit import KernelInterface

    guard = SyncGuard()

    def wrap(name, orig, kind):
        def guarded(*args, **kwargs):
            guard.check(f"{kind}{name}")
            return orig(*args, **kwargs)

        return guarded

    for name in _TENSOR_METHODS:
        monkeypatch.setattr(torch.Tensor, name, wrap(name, getattr(torch.Tensor, name), "Tensor."))
    for name in _TORCH_FUNCTIONS:
        monkeypatch.setattr(torch, name, wrap(name, getattr(torch, name), "torch."))

    to, getitem = torch.Tensor.to, torch.Tensor.__getitem__

    def guarded_to(self, *args, **kwargs):
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None and device.type == "cpu":
            guard.check("Tensor.to(cpu)")
        return to(self, *args, **kwargs)

    def guarded_getitem(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts):
            guard.check("boolean-mask indexing")
        return getitem(self, index)

    monkeypatch.setattr(torch.Tensor, "to", guarded_to)
    monkeypatch.setattr(torch.Tensor, "__getitem__", guarded_getitem)

    launch = KernelInterface.__getitem__

    def unguarded_launch(self, grid):
        run = launch(self, grid)

        def call(*args, **kwargs):
            active, guard.active = guard.active, False
            try:
                return run(*args, **kwargs)
            finally:
                guard.active = active

        return call

    monkeypatch.setattr(KernelInterface, "__getitem__", unguarded_launch)
    return guard


@pytest.fixture
def no_sync(sync_guard, kernel_path):
    return sync_guard


def test_the_guard_catches_a_sync(sync_guard):
    no_sync = sync_guard
    x = torch.ones(3)
    with pytest.raises(HostSync, match="Tensor.item"), no_sync():
        x.sum().item()
    with pytest.raises(HostSync, match="__bool__"), no_sync():
        bool(x.sum() > 0)
    with pytest.raises(HostSync, match="boolean-mask"), no_sync():
        x[x > 0]  # noqa: B018
    with pytest.raises(HostSync, match=r"to\(cpu\)"), no_sync():
        x.to("cpu")
    x.sum().item()  # outside the guard: fine


def g(seed: int):
    return torch.Generator().manual_seed(seed)


# several row blocks and vocabulary slabs, so a sync between blocks would show: one pass, and two passes
BLOCKED_PLANS = (Plan(True, 5, 70, 5, 70, False), Plan(False, 5, 30, 4, 40, True))


def test_losses_do_not_sync(no_sync):
    N, H, V = 12, 16, 70
    hidden = torch.randn(N, H, generator=g(0), requires_grad=True)
    weight = torch.randn(V, H, generator=g(1), requires_grad=True)
    logits = torch.randn(N, V, generator=g(2), requires_grad=True)
    labels = torch.randint(0, V, (N,), generator=g(3))
    labels[::4] = -100
    weights = torch.rand(N, generator=g(4))
    with no_sync():
        for reduction in ("sum", "mean", "weighted_mean"):
            opts = {"reduction": reduction, "label_smoothing": 0.1, "z_loss": 1e-3, "softcap": 5.0}
            tl_fast.cross_entropy(logits, labels, weights, **opts).backward()
            for plan in BLOCKED_PLANS:
                fused = tl_fast.fused_linear_cross_entropy(hidden, weight, labels, weights, plan=plan, **opts)
                fused.backward()
        rows = tl_fast.fused_linear_cross_entropy(
            hidden, weight, labels, reduction="none", plan=BLOCKED_PLANS[1]
        )
        rows.sum().backward()
        tl_fast.cross_entropy(logits, labels, reduction="none").sum().backward()
        logp, ent = tl_fast.fused_linear_logprobs(
            hidden, weight, labels.clamp(min=0), temperature=0.7, return_entropy=True
        )
        (logp.sum() + ent.sum()).backward()
    assert torch.isfinite(hidden.grad).all() and torch.isfinite(logits.grad).all()


def test_rl_math_does_not_sync(no_sync):
    B, T = 3, 9
    mask = torch.rand(B, T, generator=g(0)) > 0.3
    mask[1] = False  # a row without tokens
    rewards, values = torch.randn(B, T, generator=g(1)), torch.randn(B, T, generator=g(2))
    old = torch.randn(B, T, generator=g(3)) - 2
    logp = (old + 0.3 * torch.randn(B, T, generator=g(4))).requires_grad_()
    v = values.clone().requires_grad_()
    with no_sync():
        adv, ret = tl_fast.gae(rewards, values, mask, gamma=1.0, lam=0.95)
        adv = tl_fast.masked_whiten(adv, mask)
        tl_fast.masked_whiten(adv, mask, dim=-1, shift_mean=False)
        for reduction in ("token_mean", "seq_mean"):
            loss, stats = tl_fast.ppo_policy_loss(logp, old, adv, mask, clip_high=0.28, dual_clip=3.0,
                                                  reduction=reduction)  # fmt: skip
            loss.backward()
            vloss, vstats = tl_fast.ppo_value_loss(v, values, ret, mask, clip=0.2, reduction=reduction)
            vloss.backward()
        for kind in ("k1", "k2", "k3"):
            kl, kstats = tl_fast.kl_penalty(logp, old, kind=kind, mask=mask)
            kl.sum().backward()
    assert torch.isfinite(logp.grad).all() and all(torch.isfinite(s) for s in stats[:4])
