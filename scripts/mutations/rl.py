"""Planted bugs in the PPO math of tl_fast/rl.py and kernels/ppo.py: GAE, ratio, clipping, KL, value loss.

The GAE kernel's scan is left to the kernels' own entries (issue #15 reworks it); its twin is covered here.
"""

from . import Mutation

GAE = ["tests/test_gae.py"]
PPO = ["tests/test_ppo_losses.py"]

MUTATIONS = [
    Mutation(
        id="gae-twin-next-value-is-current",
        file="kernels/ppo.py",
        old="v_next = torch.nn.functional.pad(v[:, 1:], (0, 1))",
        new="v_next = v",
        tests=GAE,
        why="the twin's TD error uses V(t) instead of V(t+1)",
    ),
    Mutation(
        id="gae-twin-lambda-dropped",
        file="kernels/ppo.py",
        old="gl = torch.tensor(gamma * lam, device=dev, dtype=torch.float32)",
        new="gl = torch.tensor(gamma, device=dev, dtype=torch.float32)",
        tests=GAE,
        why="the twin discounts advantages by gamma instead of gamma * lambda",
    ),
    Mutation(
        id="policy-clip-low-uses-clip-high",
        file="kernels/ppo.py",
        old="tl.maximum(ratio, 1.0 - clip_low)",
        new="tl.maximum(ratio, 1.0 - clip_high)",
        tests=PPO,
        why="the kernel's lower clip bound is 1 - clip_high (wrong as soon as clip_high != clip)",
    ),
    Mutation(
        id="policy-twin-grad-through-clipped-tokens",
        file="kernels/ppo.py",
        old="""    loss = torch.where(clipped, loss_clipped, loss_unclipped)
    dloss = torch.where(clipped, 0.0, loss_unclipped)""",
        new="""    loss = torch.where(clipped, loss_clipped, loss_unclipped)
    dloss = loss_unclipped""",
        tests=PPO,
        why="the twin passes a gradient through tokens whose clipped branch is active",
    ),
    Mutation(
        id="policy-twin-dual-clip-any-sign",
        file="kernels/ppo.py",
        old="        dual = (a < 0) & (loss > -dual_clip * a)",
        new="        dual = loss > -dual_clip * a",
        tests=PPO,
        why="the twin's dual clip also caps tokens with a positive advantage",
    ),
    Mutation(
        id="policy-approx-kl-k1",
        file="kernels/ppo.py",
        old="approx_kl = (ratio - 1.0) - log_ratio  # k3",
        new="approx_kl = -log_ratio  # k3",
        tests=PPO,
        why="the kernel reports the k1 estimator as approx_kl instead of k3",
    ),
    Mutation(
        id="value-twin-clip-branch-inverted",
        file="kernels/ppo.py",
        old="""        clipped = loss_c > loss
        loss = torch.where(clipped, loss_c, loss)""",
        new="""        clipped = loss_c < loss
        loss = torch.where(clipped, loss_c, loss)""",
        tests=PPO,
        why="the twin's clipped value loss takes the smaller error instead of the larger",
    ),
    Mutation(
        id="value-twin-no-half",
        file="kernels/ppo.py",
        old="""    loss = 0.5 * err * err
    dloss = err
    clipped = torch.zeros_like(m)""",
        new="""    loss = err * err
    dloss = err
    clipped = torch.zeros_like(m)""",
        tests=PPO,
        why="the twin's value loss is (v - R)^2 while its gradient is that of 0.5 (v - R)^2",
    ),
    Mutation(
        id="value-kernel-clip-around-return",
        file="kernels/ppo.py",
        old="err_c = tl.minimum(tl.maximum(v, old - clip), old + clip) - ret",
        new="err_c = tl.minimum(tl.maximum(v, ret - clip), ret + clip) - ret",
        tests=PPO,
        why="the kernel clips the value around the return instead of the old value",
    ),
    Mutation(
        id="kl-k3-wrong-direction",
        file="tl_fast/rl.py",
        old="kl = torch.expm1(-d) + d",
        new="kl = torch.expm1(d) - d",
        tests=PPO,
        why="k3 estimates KL(ref || pi) instead of KL(pi || ref)",
    ),
    Mutation(
        id="seq-mean-counts-empty-rows",
        file="tl_fast/rl.py",
        old="return masked_mean(per_row, has_tokens)",
        new="return per_row.mean()",
        tests=PPO,
        why='reduction="seq_mean" averages over rows without response tokens too',
    ),
    Mutation(
        id="whiten-biased-variance",
        file="tl_fast/rl.py",
        old="""    var = masked_var(x, mask, dim)
    if keep:""",
        new="""    var = masked_var(x, mask, dim, unbiased=False)
    if keep:""",
        tests=["tests/test_masked_stats.py"],
        why="advantage whitening divides by the biased standard deviation",
    ),
    Mutation(
        id="policy-loss-always-twin",
        file="kernels/ppo.py",
        old="    if not use_triton(logp):\n",
        new="    if True:\n",
        tests=["tests/test_ppo_losses.py"],
        why="the fused policy-loss kernel never runs: its twin serves the Triton path too",
    ),
]
