"""IRM-PPO: rule rewards from the error category of a generated call, optimized with clipped PPO.

Per iteration: rollout (tl_fast.train.rollout) -> per-token rewards r_t = -β·KL_t, plus the clipped rule
reward on the last response token -> GAE (γ=1, λ=0.95, one kernel) -> `ppo_epochs` passes of minibatch
updates of the policy (clipped ratio loss on fused lm_head log-probs) and the critic (clipped value loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from tl_fast.train.config import PPOConfig
from tl_fast.train.rollout import Experience, PolicyLogprobs, response_values


def token_rewards(exp: Experience, cfg: PPOConfig) -> tuple[Tensor, Tensor]:
    """(B, R) rewards (KL penalty per response token, rule reward added on the last one) and (B, R) KL."""
    from tl_fast.rl import kl_penalty

    mask = exp.response_mask.float()
    kl, _ = kl_penalty(exp.logprobs, exp.ref_logprobs, kind=cfg.kl_kind)
    kl = kl * mask
    rewards = -cfg.kl_coef * kl
    last = (mask.cumsum(-1) == mask.sum(-1, keepdim=True)) & mask.bool()  # the last response token
    score = exp.scores.clamp(-cfg.reward_clip, cfg.reward_clip)
    rewards = rewards + last.float() * score[:, None]
    return rewards, kl


@dataclass
class PPOStepStats:
    policy_loss: float
    value_loss: float
    clip_frac: float
    approx_kl: float


def ppo_update(
    actor,
    critic,
    actor_opt,
    critic_opt,
    exp: Experience,
    cfg: PPOConfig,
    generator=None,
    *,
    minibatch: int | None = None,
    backward: Callable[[Tensor], None] = Tensor.backward,
) -> tuple[PPOStepStats, float]:
    """Runs cfg.ppo_epochs passes of minibatch updates over one rollout; returns the mean stats and mean KL.

    `actor` is a `PolicyLogprobs` (DDP-wrapped under several processes), `critic` a `Critic`; `minibatch`
    (default cfg.minibatch) is this process's share of a minibatch.
    """
    from tl_fast.rl import gae, masked_whiten, ppo_policy_loss, ppo_value_loss

    minibatch = minibatch or cfg.minibatch
    rewards, kl = token_rewards(exp, cfg)
    mask = exp.response_mask.float()
    advantages, returns = gae(rewards, exp.values, mask, gamma=cfg.gamma, lam=cfg.lam)
    R = exp.response_mask.shape[1]
    B = exp.sequences.shape[0]
    totals = torch.zeros(4, dtype=torch.float64)
    n = 0
    for _ in range(cfg.ppo_epochs):
        order = torch.randperm(B, generator=generator)
        for start in range(0, B, minibatch):
            idx = order[start : start + minibatch].to(exp.sequences.device)
            mb = exp.select(idx)
            mb_mask = mask[idx]
            adv = advantages[idx]
            if cfg.whiten_advantages and mb_mask.numel() > 1:
                adv = masked_whiten(adv, mb_mask)
            logprobs = actor(mb.sequences, mb.attention_mask, R)
            pl, pstats = ppo_policy_loss(logprobs, mb.logprobs, adv, mb_mask, clip=cfg.clip)
            actor_opt.zero_grad(set_to_none=True)
            backward(pl)
            actor_opt.step()

            values = response_values(critic, mb.sequences, mb.attention_mask, R)
            vl, _ = ppo_value_loss(values, mb.values, returns[idx], mb_mask, clip=cfg.value_clip)
            critic_opt.zero_grad(set_to_none=True)
            backward(vl)
            critic_opt.step()

            totals += torch.tensor(
                [pl.item(), vl.item(), float(pstats.clip_frac), float(pstats.approx_kl)], dtype=torch.float64
            )
            n += 1
    mean = (totals / max(n, 1)).tolist()
    kl_mean = float((kl.sum() / mask.sum().clamp(min=1)).item())
    return PPOStepStats(*mean), kl_mean


def run_ppo(
    policy,
    ref_policy,
    critic,
    tokenizer,
    items: list,
    cfg: PPOConfig,
    run,
    run_dir,
    metrics,
    accelerator,
    seed: int,
    start_step: int = 0,
    should_stop=lambda step: False,
    resume_state: dict | None = None,
) -> bool:
    """The IRM-PPO loop; returns True if it was interrupted. `ref_policy=None` = LoRA (adapters disabled).
    `resume_state`: the trainer state of the checkpoint at `start_step` (optimizer moments).

    Under several processes (DDP) each one rolls out and updates on its share of every rollout and minibatch;
    DDP all-reduces the gradients, so the replicas stay equal. Metrics cover all processes.
    """
    from collections import Counter

    from accelerate.utils import DistributedType, gather_object
    from tqdm.auto import tqdm

    from tl_fast.train.checkpoint import save_checkpoint
    from tl_fast.train.sft import make_optimizer

    if not items:
        raise ValueError(
            "PPO has no prompts: every sample was filtered out or longer than --ppo-max-prompt-tokens"
        )
    if accelerator.distributed_type == DistributedType.FSDP:
        raise ValueError("PPO needs whole weights on every process to generate: run it under DDP, not FSDP")
    world, rank = accelerator.num_processes, accelerator.process_index
    for name in ("rollout_batch", "minibatch"):
        if getattr(cfg, name) % world:
            raise ValueError(f"--ppo-{name.replace('_', '-')} {getattr(cfg, name)} is not a multiple of the "
                             f"{world} processes")  # fmt: skip
    actor_opt = make_optimizer(policy.parameters(), cfg.actor_lr, 0.0, 0.95)
    critic_opt = make_optimizer(critic.parameters(), cfg.critic_lr, 0.0, 0.95)
    actor, actor_opt, critic_model, critic_opt = accelerator.prepare(
        PolicyLogprobs(policy), actor_opt, critic, critic_opt
    )
    if resume_state is not None:
        actor_opt.load_state_dict(resume_state["actor_optimizer"])
        critic_opt.load_state_dict(resume_state["critic_optimizer"])
    metrics.truncate_after("ppo", start_step)
    bar = tqdm(total=cfg.steps, initial=start_step, desc="ppo", disable=not accelerator.is_main_process)
    for step in range(start_step + 1, cfg.steps + 1):
        # Seeded by step, so a resumed run draws what the uninterrupted one drew: the prompt picks and
        # minibatch orders alike on every process, the sampled responses differently per process.
        generator = torch.Generator().manual_seed(seed + step)
        torch.manual_seed(seed + 1000003 * (rank + 1) + step)
        pick = torch.randint(len(items), (cfg.rollout_batch,), generator=generator).tolist()
        share = pick[rank * len(pick) // world : (rank + 1) * len(pick) // world]
        exp = generate_experience_for(policy, ref_policy, critic, tokenizer, [items[i] for i in share], cfg)
        exp_stats, kl = ppo_update(
            actor,
            critic_model,
            actor_opt,
            critic_opt,
            exp,
            cfg,
            generator,
            minibatch=cfg.minibatch // world,
            backward=accelerator.backward,
        )
        stats = asdict(exp_stats)
        local = torch.tensor([kl, exp.response_mask.sum(-1).float().mean().item(), *stats.values()])
        kl, response_tokens, *losses = accelerator.reduce(local.to(accelerator.device), "mean").tolist()
        scores = accelerator.gather(exp.scores)
        cats = Counter(gather_object(exp.categories))
        metrics.log(
            "ppo",
            step=step,
            reward=float(scores.mean()),
            kl=kl,
            **dict(zip(stats, losses, strict=True)),
            response_tokens=response_tokens,
            categories=dict(cats),
            sample=exp.texts[0][:200],
        )
        bar.update(1)
        bar.set_postfix(reward=f"{float(scores.mean()):.2f}")
        interrupted = should_stop(step)
        if interrupted or step % run.save_every == 0 or step == cfg.steps:
            if accelerator.is_main_process:
                state = {
                    "critic": critic.state_dict(),
                    "actor_optimizer": actor_opt.state_dict(),
                    "critic_optimizer": critic_opt.state_dict(),
                }
                save_checkpoint(run_dir, "ppo", step, policy, tokenizer, state)
            accelerator.wait_for_everyone()
        if interrupted:
            bar.close()
            return True
    bar.close()
    return False


def generate_experience_for(policy, ref_policy, critic, tokenizer, items, cfg: PPOConfig) -> Experience:
    from tl_fast.reward import categorize_batch
    from tl_fast.train.rollout import generate_experience

    return generate_experience(policy, ref_policy, critic, tokenizer, items, cfg, categorize_batch)
