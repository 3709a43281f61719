"""Test setup: Triton kernels run on the CPU through the interpreter when no GPU is present."""

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
