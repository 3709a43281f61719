"""GRPO, DAPO and Dr. GRPO: the critic-free algorithms of the RL stage (`--ppo-algo grpo|dapo|dr_grpo`).

Per iteration (driven by tl_fast.train.ppo.run_ppo): G samples per prompt, scored by the reward scheme ->
[DAPO: overlong shaping, dynamic sampling] -> one group-relative advantage per sample (tl_fast.rl.
group_advantages), the same on each of its tokens -> `ppo_epochs` passes of minibatch updates of the clipped
ratio loss (+ β·k3 KL to the reference), reduced by `loss_agg`. No critic is built or held.

    GRPO     Shao et al. 2024 (DeepSeekMath §4.1): A = (r - mean_g) / std_g, loss 1/G Σ_i 1/|o_i| Σ_t
    DAPO     Yu et al. 2025 (arXiv 2503.14476): clip (0.2, 0.28), token-level loss over the batch, dynamic
             sampling (groups whose rewards all agree are skipped, optionally replaced by new ones), overlong
             shaping (`penalty`: eq. 13's soft punishment added to the reward; `mask`: responses cut at
             max_new_tokens leave the loss, the paper's overlong filtering)
    Dr. GRPO Liu et al. 2025 (arXiv 2503.20783): A = r - mean_g, loss Σ_i Σ_t / (B · max_new_tokens)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from tl_fast.rl import GroupStats
from tl_fast.train.config import PPOConfig
from tl_fast.train.rollout import Experience, PromptItem, minibatch_indices


@dataclass
class GroupTargets:
    advantages: Tensor  # (B, R) fp32: the sample's advantage on each of its loss tokens, 0 elsewhere
    loss_mask: Tensor  # (B, R) fp32: response tokens of the samples that train
    stats: GroupStats  # of the shaped rewards
    signal: Tensor  # (num_groups,) bool: the groups' scheme rewards differ
    shaped: Tensor  # (B,) fp32 reward the advantages came from (scheme reward + overlong penalty)


def group_signal(scores: Tensor, group_size: int) -> Tensor:
    """(num_groups,) bool: not all rewards of the group agree (DAPO keeps 0 < accuracy < 1)."""
    r = scores.view(-1, group_size)
    return r.amax(-1) > r.amin(-1)


def group_targets(exp: Experience, cfg: PPOConfig) -> GroupTargets:
    """Advantages and loss mask of a rollout whose rows k*G .. k*G+G-1 are the samples of prompt k."""
    from tl_fast.rl import group_advantages, overlong_penalty

    G = cfg.group_size
    shaped = exp.scores.float()
    if cfg.overlong == "penalty":
        lengths = exp.response_mask.sum(-1)
        shaped = shaped + overlong_penalty(
            lengths, cfg.max_new_tokens, cfg.overlong_buffer, cfg.overlong_factor
        )
    adv, stats = group_advantages(shaped, G, scale_by_std=cfg.algo != "dr_grpo")
    signal = group_signal(exp.scores, G)  # on the task reward, as DAPO filters on accuracy
    mask = exp.response_mask.float()
    if cfg.dynamic_sampling:
        mask = mask * signal.repeat_interleave(G)[:, None]
    if cfg.overlong == "mask":
        mask = mask * exp.finished[:, None]
    return GroupTargets(adv[:, None] * mask, mask, stats, signal, shaped)


@dataclass
class GroupStepStats:
    policy_loss: float
    kl_loss: float  # mean k3 KL to the reference over the loss tokens (0 when kl_loss_coef = 0)
    clip_frac: float
    approx_kl: float


def group_update(
    actor,
    actor_opt,
    exp: Experience,
    cfg: PPOConfig,
    generator=None,
    *,
    minibatch: int | None = None,
    backward: Callable[[Tensor], None] = Tensor.backward,
    all_reduce: Callable[[Tensor], Tensor] | None = None,
    world: int = 1,
) -> GroupStepStats:
    """cfg.ppo_epochs passes of minibatch policy updates over one rollout; returns the mean stats.

    `actor` is a PolicyLogprobs (DDP-wrapped under several processes); `minibatch` (default cfg.minibatch)
    is this process's share. `all_reduce` sums a tensor over the processes: token_mean and seq_mean then
    divide by the global count / world, so the all-reduced gradient is that of the whole minibatch.
    """
    from tl_fast.rl import aggregate_loss, kl_penalty, ppo_policy_loss

    minibatch = minibatch or cfg.minibatch
    targets = group_targets(exp, cfg)
    B, R = exp.response_mask.shape
    rows = []
    for idx in minibatch_indices(B, minibatch, cfg.ppo_epochs, generator, exp.sequences.device):
        mb = exp.select(idx)
        m = targets.loss_mask[idx]
        logprobs = actor(mb.sequences, mb.attention_mask, R)
        loss_tok, pstats = ppo_policy_loss(
            logprobs,
            mb.logprobs,
            targets.advantages[idx],
            m,
            clip=cfg.clip,
            clip_high=cfg.clip_high,
            reduction="none",
        )
        kl_mean = loss_tok.new_zeros(())
        if cfg.kl_loss_coef:
            kl_tok, kstats = kl_penalty(logprobs, mb.ref_logprobs, kind="k3", mask=m)
            loss_tok = loss_tok + cfg.kl_loss_coef * kl_tok
            kl_mean = kstats.mean
        num_tokens = num_seqs = None
        if all_reduce is not None:
            # seq_mean averages over the sequences with loss tokens; seq_sum_norm's B counts every row
            all_rows = m.new_tensor(float(m.shape[0]))
            seqs = all_rows if cfg.loss_agg == "seq_sum_norm" else (m.sum(-1) > 0).sum()
            counts = all_reduce(torch.stack([m.sum(), seqs.float()]))
            num_tokens, num_seqs = counts[0] / world, counts[1] / world
        loss = aggregate_loss(
            loss_tok,
            m,
            cfg.loss_agg,
            max_len=cfg.max_new_tokens,
            num_tokens=num_tokens,
            num_seqs=num_seqs,
        )
        actor_opt.zero_grad(set_to_none=True)
        backward(loss)
        actor_opt.step()
        rows.append(torch.stack([loss.detach(), kl_mean, pstats.clip_frac, pstats.approx_kl]).float().cpu())
    return GroupStepStats(*torch.stack(rows).mean(0).tolist())  # one host read, after the updates


def rollout_groups(
    generate: Callable[[list[PromptItem]], Experience],
    items: list[PromptItem],
    draw: Callable[[int], list[PromptItem]],
    cfg: PPOConfig,
    pad_id: int,
) -> tuple[Experience, dict]:
    """G samples for each prompt of `items` (rows grouped by prompt), with DAPO's dynamic sampling.

    Without dynamic sampling this is one rollout. With it, groups whose scheme rewards all agree are set
    aside and up to cfg.resample_rounds extra rollouts of `draw(k)` new prompts replace them; the batch keeps
    len(items) groups (its shape is the same on every process), those still without signal last, to be
    masked out of the loss. Returns the Experience and counts for the metrics.
    """
    G, n = cfg.group_size, len(items)
    repeat = lambda its: [it for it in its for _ in range(G)]  # noqa: E731
    exp = generate(repeat(items))
    signal = group_signal(exp.scores, G)
    info = {"groups": n, "groups_no_signal": int((~signal).sum()), "groups_resampled": 0}
    if not cfg.dynamic_sampling or cfg.resample_rounds == 0 or bool(signal.all()):
        return exp, info
    kept, spare = [_groups(exp, signal, G)], [_groups(exp, ~signal, G)]
    have = int(signal.sum())
    for _ in range(cfg.resample_rounds):
        if have >= n:
            break
        new = generate(repeat(draw(n - have)))
        sig = group_signal(new.scores, G)
        info["groups_resampled"] += n - have
        info["groups_no_signal"] += int((~sig).sum())
        kept.append(_groups(new, sig, G))
        spare.append(_groups(new, ~sig, G))
        have += int(sig.sum())
    parts = [e for e in kept + spare if e.scores.numel()]
    batch = Experience.concat(parts, pad_id)
    return batch.select(torch.arange(n * G, device=batch.scores.device)), info


def _groups(exp: Experience, keep: Tensor, G: int) -> Experience:
    rows = keep.repeat_interleave(G).nonzero().flatten()
    return exp.select(rows)
