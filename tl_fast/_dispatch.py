"""Which implementation an op runs: Triton on CUDA (or on CPU under TRITON_INTERPRET=1), else pure PyTorch."""

from __future__ import annotations

import os

import torch


def triton_interpret() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def use_triton(t: torch.Tensor) -> bool:
    """Read at call time, so tests can flip TRITON_INTERPRET to exercise both paths on the same inputs."""
    if t.is_cuda:
        return True
    return t.device.type == "cpu" and triton_interpret()
