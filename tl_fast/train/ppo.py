"""The RL stage: IRM-PPO (the paper) and, through the same loop, GRPO / DAPO / Dr. GRPO (group_rl.py).

PPO per iteration: rollout (tl_fast.train.rollout) -> per-token rewards r_t = -β·KL_t, plus the clipped rule
reward on the last response token -> GAE (γ=1, λ=0.95, one kernel) -> `ppo_epochs` passes of minibatch
updates of the policy (clipped ratio loss on fused lm_head log-probs) and the critic (clipped value loss).
The reward is the scheme `--reward` names (irm: the category table; binary; toolrl), for every algorithm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from tl_fast.train.config import PPOConfig
from tl_fast.train.rollout import Experience, PolicyLogprobs, minibatch_indices, response_values


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
    rows = []
    for idx in minibatch_indices(B, minibatch, cfg.ppo_epochs, generator, exp.sequences.device):
        mb = exp.select(idx)
        mb_mask = mask[idx]
        adv = advantages[idx]
        if cfg.whiten_advantages and mb_mask.numel() > 1:
            adv = masked_whiten(adv, mb_mask)
        logprobs = actor(mb.sequences, mb.attention_mask, R)
        pl, pstats = ppo_policy_loss(
            logprobs, mb.logprobs, adv, mb_mask, clip=cfg.clip, clip_high=cfg.clip_high
        )
        actor_opt.zero_grad(set_to_none=True)
        backward(pl)
        actor_opt.step()

        values = response_values(critic, mb.sequences, mb.attention_mask, R)
        vl, _ = ppo_value_loss(values, mb.values, returns[idx], mb_mask, clip=cfg.value_clip)
        critic_opt.zero_grad(set_to_none=True)
        backward(vl)
        critic_opt.step()

        rows.append(torch.stack([pl.detach(), vl.detach(), pstats.clip_frac, pstats.approx_kl]).float())
    mean = torch.stack(rows).mean(0).tolist()  # one host read, after the updates
    kl_mean = float((kl.sum() / mask.sum().clamp(min=1)).item())
    return PPOStepStats(*mean), kl_mean


def _step_seed(seed: int, step: int, stream: int) -> int:
    """A seed per (run seed, step, stream): each step's randomness is a function of the step alone, so a
    resumed run draws what the uninterrupted one drew. Streams: 0 prompt picks and minibatch orders (alike
    on every process), 1 + rank sampling, 1 + world + rank replacement prompts."""
    return (seed * 1_000_003 + step) * 1009 + stream


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux: "5" resets the process's peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_memory_mb(device: torch.device) -> float:
    """CUDA: peak allocated tensor memory since the RL stage began; CPU: the process's peak resident set
    since then (Linux VmHWM after its reset; elsewhere the peak of the whole process)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


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
    """The RL loop; returns True if it was interrupted. `ref_policy=None` = LoRA (adapters disabled);
    `critic=None` for the critic-free algorithms. `resume_state`: the trainer state of a PPO checkpoint.

    Under several processes (DDP) each one rolls out and updates on its share of every rollout and minibatch;
    DDP all-reduces the gradients, so the replicas stay equal. Metrics cover all processes.
    """
    import time
    from collections import Counter
    from functools import partial

    from accelerate.utils import DistributedType, gather_object
    from tqdm.auto import tqdm

    from tl_fast.reward import reward_scheme
    from tl_fast.train.checkpoint import save_checkpoint
    from tl_fast.train.group_rl import group_update, rollout_groups
    from tl_fast.train.rollout import generate_experience
    from tl_fast.train.sft import make_optimizer

    if not items:
        raise ValueError(
            "PPO has no prompts: every sample was filtered out or longer than --ppo-max-prompt-tokens"
        )
    if accelerator.distributed_type == DistributedType.FSDP:
        raise ValueError("PPO needs whole weights on every process to generate: run it under DDP, not FSDP")
    if (critic is None) != (cfg.algo != "ppo"):
        raise ValueError(f"--ppo-algo {cfg.algo} {'needs' if cfg.algo == 'ppo' else 'takes no'} critic")
    world, rank = accelerator.num_processes, accelerator.process_index
    G = cfg.group_size
    if cfg.rollout_batch % (G * world) or cfg.minibatch % world:
        raise ValueError(
            f"--ppo-rollout-batch {cfg.rollout_batch} must be a multiple of --ppo-group-size {G} x {world} "
            f"processes, and --ppo-minibatch {cfg.minibatch} of {world}"
        )
    scheme = reward_scheme(cfg.reward)
    actor_opt = make_optimizer(policy.parameters(), cfg.actor_lr, 0.0, 0.95)
    if critic is not None:
        critic_opt = make_optimizer(critic.parameters(), cfg.critic_lr, 0.0, 0.95)
        actor, actor_opt, critic_model, critic_opt = accelerator.prepare(
            PolicyLogprobs(policy), actor_opt, critic, critic_opt
        )
    else:
        actor, actor_opt = accelerator.prepare(PolicyLogprobs(policy), actor_opt)
    if resume_state is not None:
        if resume_state.get("algo", "ppo") != cfg.algo:
            raise ValueError(
                f"--resume: the checkpoint was trained with --ppo-algo {resume_state.get('algo', 'ppo')}, "
                f"not {cfg.algo}; resume with the run's own settings"
            )
        actor_opt.load_state_dict(resume_state["actor_opt"])
        if critic is not None:
            critic_opt.load_state_dict(resume_state["critic_opt"])
    device = accelerator.device
    _reset_peak_memory(device)
    all_reduce = (lambda t: accelerator.reduce(t.to(device), "sum")) if world > 1 else None

    def generate(batch: list) -> Experience:
        return generate_experience(policy, ref_policy, critic, tokenizer, batch, cfg, scheme)

    metrics.truncate_after("ppo", start_step)
    bar = tqdm(total=cfg.steps, initial=start_step, desc=cfg.algo, disable=not accelerator.is_main_process)
    for step in range(start_step + 1, cfg.steps + 1):
        t0 = time.perf_counter()
        # Prompt picks and minibatch orders: one generator seeded alike on every process; sampling (and
        # DAPO's replacement prompts): per process, so the processes draw different responses.
        generator = torch.Generator().manual_seed(_step_seed(seed, step, 0))
        torch.manual_seed(_step_seed(seed, step, 1 + rank))
        local_gen = torch.Generator().manual_seed(_step_seed(seed, step, 1 + world + rank))
        n_prompts = cfg.rollout_batch // G
        pick = torch.randint(len(items), (n_prompts,), generator=generator).tolist()
        share = [items[i] for i in pick[rank * n_prompts // world : (rank + 1) * n_prompts // world]]
        if critic is not None:
            exp = generate([it for it in share for _ in range(G)])
            groups = {}
            step_stats, kl = ppo_update(
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
        else:
            draw = partial(_draw, items, local_gen)  # DAPO's replacement prompts
            exp, groups = rollout_groups(generate, share, draw, cfg, tokenizer.pad_token_id)
            step_stats = group_update(
                actor,
                actor_opt,
                exp,
                cfg,
                generator,
                minibatch=cfg.minibatch // world,
                backward=accelerator.backward,
                all_reduce=all_reduce,
                world=world,
            )
            kl = _rollout_kl(exp, cfg)
        stats = asdict(step_stats)
        local = torch.tensor([kl, exp.response_mask.sum(-1).float().mean().item(), *stats.values()])
        kl, response_tokens, *losses = accelerator.reduce(local.to(device), "mean").tolist()
        counts = torch.tensor([float(v) for v in groups.values()])
        if world > 1 and groups:
            counts = accelerator.reduce(counts.to(device), "sum").cpu()
        scores = accelerator.gather(exp.scores)
        cats = Counter(gather_object(exp.categories))
        row = dict(step=step, reward=float(scores.mean()), kl=kl, **dict(zip(stats, losses, strict=True)))
        if groups:
            g = dict(zip(groups, counts.tolist(), strict=True))
            row["groups_skipped"] = g["groups_no_signal"] / (g["groups"] + g["groups_resampled"])
            row.update({k: int(v) for k, v in g.items()})
        step_s = time.perf_counter() - t0
        metrics.log(
            "ppo",
            **row,
            response_tokens=response_tokens,
            categories=dict(cats),
            step_s=round(step_s, 3),
            peak_mem_mb=round(_peak_memory_mb(device), 1),
            sample=exp.texts[0][:200],
        )
        bar.update(1)
        bar.set_postfix(reward=f"{float(scores.mean()):.2f}")
        interrupted = should_stop(step)
        if interrupted or step % run.save_every == 0 or step == cfg.steps:
            if accelerator.is_main_process:
                state = {"actor_opt": actor_opt.state_dict(), "algo": cfg.algo}
                if critic is not None:
                    state.update(critic=critic.state_dict(), critic_opt=critic_opt.state_dict())
                save_checkpoint(run_dir, "ppo", step, policy, tokenizer, state)
            accelerator.wait_for_everyone()
        if interrupted:
            bar.close()
            return True
    bar.close()
    return False


def _draw(items: list, generator: torch.Generator, k: int) -> list:
    return [items[i] for i in torch.randint(len(items), (k,), generator=generator).tolist()]


def _rollout_kl(exp: Experience, cfg: PPOConfig) -> float:
    """Mean KL(π || π_ref) per response token at rollout time, with PPO's estimator (comparable metrics)."""
    from tl_fast.rl import kl_penalty

    _, st = kl_penalty(exp.logprobs, exp.ref_logprobs, kind=cfg.kl_kind, mask=exp.response_mask)
    return float(st.mean)
