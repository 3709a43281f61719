"""Planted bugs in what the trainer optimizes: the PKT loss module, IRM rewards and the PPO update."""

from . import Mutation

OBJECTIVES = "tests/train/test_train_objectives.py"
PKT_LOSS = f"{OBJECTIVES}::test_pkt_loss_is_the_weighted_mean_of_the_shifted_labels"
PPO_MATH = f"{OBJECTIVES}::test_one_ppo_update_matches_the_hand_computed_objective"
REWARDS = "tests/train/test_train_ppo_step.py::test_reward_lands_on_the_last_response_token"

MUTATIONS = [
    Mutation(
        id="pkt-loss-plain-mean",
        file="tl_fast/train/model.py",
        # "mean" weighs rows too since #15: the example is now the weights dropped
        old="h, head.weight, labels, weights, bias=",
        new="h, head.weight, labels, None, bias=",
        tests=[PKT_LOSS],
        why="the trainer's loss ignores the PKT weights: plain SFT",
    ),
    Mutation(
        id="pkt-loss-weights-not-shifted",
        file="tl_fast/train/model.py",
        old='weights = batch["token_weights"][:, 1:]',
        new='weights = batch["token_weights"][:, :-1]',
        tests=[PKT_LOSS],
        why="each token's PKT weight lands on the prediction of the token before it",
    ),
    Mutation(
        id="ppo-ratio-against-reference",
        file="tl_fast/train/ppo.py",
        old="logprobs, mb.logprobs, adv, mb_mask",
        new="logprobs, mb.ref_logprobs, adv, mb_mask",
        tests=[PPO_MATH],
        why="the policy ratio is taken against the reference (SFT) log-probs, not the rollout's",
    ),
    Mutation(
        id="ppo-kl-penalty-sign",
        file="tl_fast/train/ppo.py",
        old="rewards = -cfg.kl_coef * kl",
        new="rewards = cfg.kl_coef * kl",
        tests=[REWARDS, PPO_MATH],
        why="the KL term rewards moving away from the reference instead of penalizing it",
    ),
    Mutation(
        id="ppo-reward-not-clipped",
        file="tl_fast/train/ppo.py",
        old="score = exp.scores.clamp(-cfg.reward_clip, cfg.reward_clip)",
        new="score = exp.scores",
        tests=[PPO_MATH],
        why="--ppo-reward-clip is ignored",
    ),
    Mutation(
        id="ppo-reward-on-first-token",
        file="tl_fast/train/ppo.py",
        old="last = (mask.cumsum(-1) == mask.sum(-1, keepdim=True)) & mask.bool()",
        new="last = (mask.cumsum(-1) == 1) & mask.bool()",
        tests=[REWARDS, PPO_MATH],
        why="the rule reward lands on the first response token instead of the last",
    ),
    Mutation(
        id="ppo-gae-lambda-ignored",
        file="tl_fast/train/ppo.py",
        old="gamma=cfg.gamma, lam=cfg.lam)",
        new="gamma=cfg.gamma, lam=1.0)",
        tests=[PPO_MATH],
        why="--ppo-lam is ignored (Monte-Carlo advantages)",
    ),
    Mutation(
        id="ppo-no-whitening",
        file="tl_fast/train/ppo.py",
        old="if cfg.whiten_advantages and mb_mask.numel() > 1:",
        new="if False and cfg.whiten_advantages:",
        tests=[PPO_MATH],
        why="--ppo-whiten-advantages is ignored",
    ),
    Mutation(
        id="ppo-value-target-is-advantage",
        file="tl_fast/train/ppo.py",
        old="ppo_value_loss(values, mb.values, returns[idx]",
        new="ppo_value_loss(values, mb.values, advantages[idx]",
        tests=[PPO_MATH],
        why="the critic regresses on the advantages instead of the returns (A + V)",
    ),
    Mutation(
        id="ppo-fsdp-allowed",
        file="tl_fast/train/ppo.py",
        old="if accelerator.distributed_type == DistributedType.FSDP:",
        new="if False:",
        tests=[f"{OBJECTIVES}::test_ppo_refuses_fsdp"],
        why="PPO starts under FSDP, where generation has only a shard of the weights",
    ),
    Mutation(
        id="rollout-eos-not-scored",
        file="tl_fast/train/rollout.py",
        old="after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0",
        new="after_eos = is_eos.cumsum(-1) > 0",
        tests=["tests/train/test_train_rollout.py"],
        why="the EOS token is cut from the response mask: the policy never learns to stop",
    ),
]
