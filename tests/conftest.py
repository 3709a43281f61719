"""Test setup: Triton kernels run on the CPU through the interpreter when no GPU is present.

Kernel tests take the `kernel_path` or `impl` fixture, which also checks that the path under test ran: on the
Triton path at least one `@triton.jit` kernel launched and no pure-PyTorch twin (`tl_fast.kernels.*`
functions named `*_torch`) was called; on the torch path no kernel launched. A test that only checked values
would pass as well with the dispatch broken (`use_triton` always False), the twin being correct too.
"""

import functools
import math
import os
from collections import Counter

import pytest
import torch

if not torch.cuda.is_available():
    # Must be set before any @triton.jit is created, hence here rather than in a fixture.
    os.environ.setdefault("TRITON_INTERPRET", "1")
    # @triton.jit reads TRITON_INTERPRET when a kernel module is first imported. Import them all now: a test
    # that sets it to "0" (the torch path) and is the first to import one would otherwise leave compiled-mode
    # kernels behind, which later interpreter tests cannot launch without a GPU ("0 active drivers").
    import importlib
    import pkgutil

    import tl_fast.kernels

    for _module in pkgutil.iter_modules(tl_fast.kernels.__path__):
        importlib.import_module(f"tl_fast.kernels.{_module.name}")

try:  # property tests are seeded: CI must not depend on which examples a run happened to draw
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("tl_fast", derandomize=True, database=None)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tl_fast"))
except ImportError:
    pass


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


def _kernel_modules():
    import importlib
    import pkgutil

    import tl_fast.kernels as pkg

    return [importlib.import_module(f"{pkg.__name__}.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]


@pytest.fixture
def kernel_launches(monkeypatch):
    """Counter of what ran during the test: `kernel name` -> launches of that @triton.jit kernel (any grid,
    interpreted or compiled), and `twin:<name>` -> calls of each pure-PyTorch twin in tl_fast.kernels."""
    from triton.runtime.jit import KernelInterface

    counts: Counter = Counter()
    getitem = KernelInterface.__getitem__

    def counting_getitem(self, grid):
        launch = getitem(self, grid)
        name = getattr(self, "__name__", None) or getattr(getattr(self, "fn", None), "__name__", "?")

        def counted(*args, **kwargs):
            counts[name] += 1
            return launch(*args, **kwargs)

        return counted

    monkeypatch.setattr(KernelInterface, "__getitem__", counting_getitem)
    for module in _kernel_modules():
        for name, fn in list(vars(module).items()):
            if name.endswith("_torch") and callable(fn) and getattr(fn, "__module__", "") == module.__name__:

                @functools.wraps(fn)
                def twin(*args, _fn=fn, _name=name, **kwargs):
                    counts[f"twin:{_name}"] += 1
                    return _fn(*args, **kwargs)

                monkeypatch.setattr(module, name, twin)
    return counts


def check_path_taken(counts: Counter, path: str) -> None:
    kernels = {k: v for k, v in counts.items() if not k.startswith("twin:")}
    twins = {k: v for k, v in counts.items() if k.startswith("twin:")}
    if path == "triton":
        assert kernels, "the Triton path ran no kernel: the test did not test the kernels"
        assert not twins, f"the Triton path fell back to pure-PyTorch twins: {twins}"
    else:
        assert not kernels, f"the torch path launched Triton kernels: {kernels}"


@pytest.fixture(params=["triton", "torch"])
def kernel_path(request, monkeypatch, kernel_launches):
    """'triton': the kernels (CUDA, or the interpreter on CPU); 'torch': the pure-PyTorch path (CPU only).
    After the test, checks that this path (and only it) ran."""
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1" if request.param == "triton" else "0")
    elif request.param == "torch":
        pytest.skip("the torch path serves CPU tensors only")
    yield request.param
    check_path_taken(kernel_launches, request.param)


@pytest.fixture(params=["triton", "torch"])
def impl(request, monkeypatch, kernel_launches):
    """The device to build inputs on. 'triton': the kernels (CUDA, or the interpreter on CPU); 'torch': the
    pure-PyTorch twins, which run on CPU even where a GPU is present. After the test, checks that this path
    (and only it) ran."""
    if request.param == "torch":
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        yield "cpu"
    else:
        yield "cuda" if torch.cuda.is_available() else "cpu"
    check_path_taken(kernel_launches, request.param)
