"""One PPO update on a hand-built rollout moves the policy toward the call that earned the higher reward."""

import pytest
import torch
from tiny_policy import tiny_policy

from tl_fast.train.config import PPOConfig
from tl_fast.train.model import Critic
from tl_fast.train.ppo import ppo_update, token_rewards
from tl_fast.train.rollout import Experience, PolicyLogprobs, response_logprobs, response_values


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")


def build_experience(policy, critic, responses: torch.Tensor, scores: list[float]) -> Experience:
    prompt = torch.tensor([[1, 5, 6, 7]]).expand(len(responses), -1)
    seq = torch.cat([prompt, responses], dim=1)
    mask = torch.ones_like(seq)
    R = responses.shape[1]
    with torch.no_grad():
        lp = response_logprobs(policy, seq, mask, R)
        values = response_values(critic, seq, mask, R)
    return Experience(
        seq,
        mask,
        torch.ones_like(responses),
        lp,
        lp.clone(),  # reference = current policy: zero KL at the start
        values,
        torch.tensor(scores),
        ["correct", "wrong_tool"],
        ["good(x=1)", "bad(x=1)"],
    )


def test_reward_lands_on_the_last_response_token():
    cfg = PPOConfig(kl_coef=0.5)
    lp = torch.tensor([[-1.0, -2.0, -3.0, 0.0]])
    exp = Experience(
        torch.zeros(1, 6, dtype=torch.long),
        torch.ones(1, 6),
        torch.tensor([[1, 1, 1, 0]]),
        lp,
        lp - torch.tensor([[0.2, 0.0, -0.4, 0.0]]),  # k1 KL = logp - ref = [0.2, 0, -0.4, ·]
        torch.zeros(1, 4),
        torch.tensor([1.0]),
        ["correct"],
        [""],
    )
    rewards, kl = token_rewards(exp, cfg)
    # r_t = -β·KL_t on every response token; the rule reward (+1) is added on the last one (t=2); padding is 0
    torch.testing.assert_close(rewards, torch.tensor([[-0.1, 0.0, 0.2 + 1.0, 0.0]]))
    torch.testing.assert_close(kl, torch.tensor([[0.2, 0.0, -0.4, 0.0]]))


def test_ppo_update_prefers_the_rewarded_call():
    policy = tiny_policy()
    critic = Critic(policy)
    good, bad = [10, 11, 12], [20, 21, 22]
    responses = torch.tensor([good, bad])
    exp = build_experience(policy, critic, responses, scores=[1.0, -2.0])
    before = exp.logprobs.sum(-1)
    cfg = PPOConfig(
        ppo_epochs=4, minibatch=2, actor_lr=1e-2, critic_lr=1e-2, kl_coef=0.0, whiten_advantages=False
    )
    actor_opt = torch.optim.AdamW(policy.parameters(), lr=cfg.actor_lr)
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=cfg.critic_lr)
    stats, _ = ppo_update(
        PolicyLogprobs(policy), critic, actor_opt, critic_opt, exp, cfg, torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        after = response_logprobs(policy, exp.sequences, exp.attention_mask, 3).sum(-1)
    assert after[0] > before[0], "the +1 call became more likely"
    assert after[1] < before[1], "the -2 call became less likely"
    assert stats.value_loss > 0
