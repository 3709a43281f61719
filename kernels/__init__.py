"""Triton kernels and their host launchers (installed as `tl_fast.kernels`). Math on raw tensors only."""
