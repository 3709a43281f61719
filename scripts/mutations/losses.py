"""Planted bugs in the cross-entropy ops: dispatch, ignore handling, reductions, smoothing, z-loss, softcap.

The fused-linear engine's chunking is left to the kernels' own entries (issue #15 reworks it).
"""

from . import Mutation

CE_TESTS = ["tests/test_cross_entropy.py"]
CE_IGNORE = ["tests/test_cross_entropy.py::test_ignore_index_other_than_minus_100"]
FUSED_IGNORE = ["tests/test_fused_linear_cross_entropy.py::test_ignore_index_other_than_minus_100"]

MUTATIONS = [
    Mutation(
        id="dispatch-never-triton",
        file="tl_fast/_dispatch.py",
        old='return t.device.type == "cpu" and triton_interpret()',
        new="return False",
        tests=["tests/test_gae.py", "tests/test_cross_entropy.py"],
        why="the Triton kernels are never launched; every op silently runs its pure-PyTorch twin",
    ),
    Mutation(
        id="ce-bwd-always-twin",
        file="kernels/cross_entropy.py",
        old="""    if not use_triton(logits):
        z = _transform_torch(logits, opts)""",
        new="""    if True:
        z = _transform_torch(logits, opts)""",
        tests=CE_TESTS,
        why="the backward row kernel never runs (the twin computes the gradient on the Triton path)",
    ),
    Mutation(
        id="ce-ignore-index-kernel-hardcoded",
        file="kernels/cross_entropy.py",
        old="""    return (
        opts.ignore_index,""",
        new="""    return (
        -100,""",
        tests=CE_IGNORE,
        why="the kernels compare labels with a hard-coded -100 instead of ignore_index",
    ),
    Mutation(
        id="ce-ignore-index-twin-hardcoded",
        file="kernels/cross_entropy.py",
        old="""-> tuple[Tensor, Tensor]:
    valid = labels != opts.ignore_index""",
        new="""-> tuple[Tensor, Tensor]:
    valid = labels != -100""",
        tests=CE_IGNORE,
        why="the pure-PyTorch forward compares labels with a hard-coded -100 instead of ignore_index",
    ),
    Mutation(
        id="ce-ignore-index-coefficients-hardcoded",
        file="tl_fast/losses.py",
        old="w = (labels != ignore_index).float()",
        new="w = (labels != -100).float()",
        tests=CE_IGNORE,
        why="the reduction's denominator counts rows with label ignore_index when it is not -100",
    ),
    Mutation(
        id="ce-mean-drops-token-weights",
        file="tl_fast/losses.py",
        old="    if token_weights is not None:  # every reduction weighs its rows",
        new='    if token_weights is not None and reduction != "mean":  # every reduction weighs its rows',
        tests=CE_TESTS,
        why='reduction="mean" drops the token weights (it must equal "weighted_mean": PKT weights lost)',
    ),
    Mutation(
        id="ce-zero-denominator-nan",
        file="tl_fast/losses.py",
        old="return w / torch.where(denom == 0, 1.0, denom)",
        new="return w / denom",
        tests=["tests/test_cross_entropy.py::test_all_rows_ignored_and_zero_weights_give_zero_not_nan"],
        why="an all-ignored (or all-zero-weight) batch gives NaN instead of 0",
    ),
    Mutation(
        id="ce-coefficients-host-sync",
        file="tl_fast/losses.py",
        old="return w / torch.where(denom == 0, 1.0, denom)",
        new="return w / (denom if denom.item() != 0 else 1.0)",
        tests=["tests/test_no_host_sync.py"],
        why="the same values, but a .item() in the reduction: a host sync per loss on CUDA",
    ),
    Mutation(
        id="ce-smoothing-grad-not-divided-by-vocab",
        file="kernels/cross_entropy.py",
        old="        dz -= smoothing / V\n",
        new="        dz -= smoothing\n",
        tests=CE_TESTS,
        why="the kernel's label-smoothing gradient subtracts eps instead of eps / V per logit",
    ),
    Mutation(
        id="ce-smoothing-twin-drops-uniform-term",
        file="kernels/cross_entropy.py",
        old="loss = loss + opts.label_smoothing * (lse - sum_z / V)",
        new="loss = loss + opts.label_smoothing * lse",
        tests=CE_TESTS,
        why="the pure-PyTorch smoothed loss forgets the mean logit of the uniform target",
    ),
    Mutation(
        id="ce-z-loss-not-squared",
        file="kernels/cross_entropy.py",
        old="        loss += z_loss * lse * lse\n",
        new="        loss += z_loss * lse\n",
        tests=CE_TESTS,
        why="the kernel's z-loss adds zl * lse instead of zl * lse^2",
    ),
    Mutation(
        id="ce-z-loss-grad-factor",
        file="kernels/cross_entropy.py",
        old="dz = p * (1.0 + 2.0 * opts.z_loss * (m + log_s))",
        new="dz = p * (1.0 + opts.z_loss * (m + log_s))",
        tests=CE_TESTS,
        why="the pure-PyTorch z-loss gradient misses the factor 2 of d(lse^2)",
    ),
    Mutation(
        id="ce-softcap-grad-chain-rule",
        file="kernels/cross_entropy.py",
        old="        dx *= 1.0 - zc * zc\n",
        new="        dx *= 1.0 - zc\n",
        tests=CE_TESTS,
        why="the kernel's softcap gradient uses 1 - z/c instead of tanh' = 1 - (z/c)^2",
    ),
    Mutation(
        id="fused-backward-ignores-upstream-weight-grad",
        file="tl_fast/losses.py",
        old="            for t in (gh, gw, gb):\n",
        new="            for t in (gh, gb):\n",
        tests=["tests/test_fused_linear_cross_entropy.py::test_upstream_scale_and_mixed_dtype_weight"],
        why="the fused loss's weight gradient is not scaled by the upstream gradient",
    ),
    Mutation(
        id="fused-coefficients-default-ignore-index",
        file="tl_fast/losses.py",
        old="coef = row_coefficients(flat_labels, weights, reduction, ignore_index)",
        new="coef = row_coefficients(flat_labels, weights, reduction)",
        tests=FUSED_IGNORE,
        why="the fused loss's reduction counts rows labelled ignore_index unless it is -100",
    ),
    Mutation(
        id="logprobs-temperature-ignored",
        file="tl_fast/logprobs.py",
        old="opts = CEOptions(ignore_index=_NO_IGNORE, temperature=temperature)",
        new="opts = CEOptions(ignore_index=_NO_IGNORE)",
        tests=["tests/test_logprobs.py"],
        why="PPO log-probs ignore the sampling temperature",
    ),
    Mutation(
        id="entropy-grad-sign",
        file="kernels/cross_entropy.py",
        old="        dz -= dent * p * (logp + entropy)\n",
        new="        dz += dent * p * (logp + entropy)\n",
        tests=["tests/test_logprobs.py"],
        why="the kernel's entropy gradient has the wrong sign (an entropy bonus would lower the entropy)",
    ),
]
