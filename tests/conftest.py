"""Test setup: Triton kernels run on the CPU through the interpreter when no GPU is present."""

import math
import os

import pytest
import torch

if not torch.cuda.is_available():
    # Must be set before any @triton.jit is created, hence here rather than in a fixture.
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


def nan_empty(shape, dtype, device):
    return torch.full(shape, math.nan, dtype=dtype, device=device)


@pytest.fixture
def nan_kernel_outputs(monkeypatch):
    """Kernel output buffers start as NaN, so an element a kernel forgets to write fails the comparison."""
    import tl_fast.kernels.cross_entropy as ce
    import tl_fast.kernels.ppo as ppo

    monkeypatch.setattr(ce, "_empty", nan_empty)
    monkeypatch.setattr(ppo, "_empty", nan_empty)


@pytest.fixture(params=["triton", "torch"])
def kernel_path(request, monkeypatch):
    """'triton': the kernels (CUDA, or the interpreter on CPU); 'torch': the pure-PyTorch path (CPU only)."""
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1" if request.param == "triton" else "0")
    elif request.param == "torch":
        pytest.skip("the torch path serves CPU tensors only")
    return request.param


@pytest.fixture(params=["triton", "torch"])
def impl(request, monkeypatch):
    """The device to build inputs on. 'triton': the kernels (CUDA, or the interpreter on CPU); 'torch': the
    pure-PyTorch twins, which run on CPU even where a GPU is present."""
    if request.param == "torch":
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
