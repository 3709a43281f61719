"""What the trainer optimizes, checked against hand computation rather than "the loss fell":

* PKT-SFT: the loss module is sum(w * l) / sum(w) over the shifted labels with the PKT weights, its gradient
  that of the same objective on the model's own logits (fp64);
* IRM-PPO: one update's statistics equal the clipped surrogate, GAE and value loss worked out by hand on a
  rollout whose reference differs from the rollout policy (so a ratio taken against the wrong one shows) and
  with a KL coefficient > 0 and a score beyond the reward clip;
* PPO refuses FSDP;
* the trainer's losses run the Triton kernels when they are on (TRITON_INTERPRET=1 here) and agree with the
  pure-PyTorch path.
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from tiny_policy import tiny_policy

from tl_fast.train.config import PPOConfig
from tl_fast.train.model import Critic, PKTLoss
from tl_fast.train.ppo import ppo_update, run_ppo
from tl_fast.train.rollout import Experience, PolicyLogprobs, PromptItem, response_logprobs, response_values


def sft_batch() -> dict:
    """Two right-padded rows; labels on a tail of each, PKT weights 1, 4.5 and 9 on a few of them."""
    ids = torch.tensor([[1, 5, 9, 11, 13, 2, 0, 0], [1, 6, 7, 8, 20, 21, 22, 2]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0], [1] * 8])
    labels = torch.full_like(ids, -100)
    labels[0, 3:6], labels[1, 2:8] = ids[0, 3:6], ids[1, 2:8]
    weights = torch.zeros(2, 8)
    weights[0, 3:6] = torch.tensor([9.0, 1.0, 1.0])
    weights[1, 2:8] = torch.tensor([4.5, 4.5, 1.0, 1.0, 1.0, 1.0])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "token_weights": weights}


def reference_pkt_loss(model, batch) -> torch.Tensor:
    """sum(w * l) / sum(w) from the model's own logits in fp64: position t predicts token t + 1."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.double()
    labels, w = batch["labels"][:, 1:], batch["token_weights"][:, 1:].double()
    rows = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, reduction="none", ignore_index=-100)
    return (rows * w).sum() / w.sum()


@pytest.mark.parametrize("interpret", ["0", "1"])
def test_pkt_loss_is_the_weighted_mean_of_the_shifted_labels(monkeypatch, interpret, kernel_launches):
    monkeypatch.setenv("TRITON_INTERPRET", interpret)
    policy, batch = tiny_policy(40), sft_batch()
    loss = PKTLoss(policy)(batch)
    loss.backward()
    got = {n: p.grad.clone() for n, p in policy.named_parameters()}
    policy.zero_grad()
    ref = reference_pkt_loss(policy.double(), batch)
    ref.backward()
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-6)
    for n, p in policy.named_parameters():
        torch.testing.assert_close(got[n].double(), p.grad, rtol=1e-4, atol=1e-6, msg=n)
    # The weights matter: the plain mean over trained tokens is another number.
    w = batch["token_weights"]
    plain = reference_pkt_loss(policy, {**batch, "token_weights": (w > 0).float()})
    assert abs(plain.item() - ref.item()) > 1e-3
    if interpret == "1":  # the trainer's loss runs the fused kernel, and nothing else
        assert kernel_launches["cross_entropy_fwd_kernel"] >= 1
        assert not [k for k in kernel_launches if k.startswith("twin:")]


def hand_rollout(policy, critic, kl_delta: list[float], scores: list[float]) -> Experience:
    """Two 3-token responses; ref = logp - kl_delta (so k1 KL = kl_delta exactly), values from the critic."""
    responses = torch.tensor([[10, 11, 12], [20, 21, 22]])
    seq = torch.cat([torch.tensor([[1, 5, 6, 7]]).expand(2, -1), responses], dim=1)
    mask = torch.ones_like(seq)
    with torch.no_grad():
        lp = response_logprobs(policy, seq, mask, 3)
        values = response_values(critic, seq, mask, 3)
    return Experience(
        seq, mask, torch.ones_like(responses), lp, lp - torch.tensor(kl_delta), values,
        torch.tensor(scores), ["correct", "format_error"], ["a", "b"],
    )  # fmt: skip


def one_update(policy, critic, exp, cfg):
    actor_opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=1e-3)
    return ppo_update(
        PolicyLogprobs(policy), critic, actor_opt, critic_opt, exp, cfg, torch.Generator().manual_seed(0)
    )


def test_one_ppo_update_matches_the_hand_computed_objective(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    policy = tiny_policy(40)
    critic = Critic(policy)
    with torch.no_grad():
        critic.value_head.bias.fill_(0.5)  # V = 0.5 at every position (zero weight)
    exp = hand_rollout(policy, critic, kl_delta=[0.2, -0.4, 0.0], scores=[1.0, -2.0])
    cfg = PPOConfig(
        ppo_epochs=1, minibatch=2, kl_coef=0.5, kl_kind="k1", reward_clip=1.5, gamma=1.0, lam=0.95,
        whiten_advantages=False,
    )  # fmt: skip
    stats, kl_mean = one_update(policy, critic, exp, cfg)
    # Rewards r_t = -0.5 * KL_t, plus the score clipped to [-1.5, 1.5] on the last token:
    #   row 0: r = (-0.1, 0.2, 1.0)      row 1: r = (-0.1, 0.2, -1.5)      V = 0.5 everywhere, V(end) = 0
    # GAE (gamma 1, lam 0.95): delta_2 = r_2 - V, delta_t = r_t + V - V = r_t before that:
    #   row 0: A_2 = 0.5, A_1 = 0.2 + 0.95 * 0.5 = 0.675, A_0 = -0.1 + 0.95 * 0.675 = 0.54125
    #   row 1: A_2 = -2.0, A_1 = 0.2 - 1.9 = -1.7, A_0 = -0.1 - 1.615 = -1.715
    # The first minibatch of the first epoch sees the rollout policy itself: rho = exp(logp - old) = 1, so
    # the clipped surrogate is -mean(A) = 3.69875 / 6, nothing is clipped and the k3 approx KL is 0.
    torch.testing.assert_close(stats.policy_loss, 3.69875 / 6, rtol=1e-5, atol=1e-6)
    assert stats.clip_frac == 0.0 and abs(stats.approx_kl) < 1e-6
    # Value loss: the critic still gives old_v = V, so 0.5 * mean((V - R)^2) with R = A + V: 0.5 * mean(A^2)
    a2 = [0.54125**2, 0.675**2, 0.25, 1.715**2, 1.7**2, 4.0]
    torch.testing.assert_close(stats.value_loss, 0.5 * sum(a2) / 6, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kl_mean, (0.2 - 0.4) * 2 / 6, rtol=1e-5, atol=1e-6)

    # Whitened advantages have mean 0 over the minibatch: at rho = 1 the surrogate is 0.
    policy = tiny_policy(40)
    exp = hand_rollout(policy, critic, kl_delta=[0.2, -0.4, 0.0], scores=[1.0, -2.0])
    stats, _ = one_update(policy, critic, exp, PPOConfig(ppo_epochs=1, minibatch=2, whiten_advantages=True))
    assert abs(stats.policy_loss) < 1e-6


def test_ppo_refuses_fsdp():
    from accelerate.utils import DistributedType

    fsdp = SimpleNamespace(distributed_type=DistributedType.FSDP, num_processes=2, process_index=0)
    item = PromptItem("User: hi\nAssistant:", [], "f()")
    with pytest.raises(ValueError, match="not FSDP"):
        run_ppo(None, None, None, None, [item], PPOConfig(), None, None, None, fsdp, seed=0)


def test_ppo_update_runs_the_kernels_and_equals_the_torch_path(monkeypatch, kernel_launches):
    """The same update under TRITON_INTERPRET=1 (GAE, policy / value loss and log-prob kernels) and =0."""
    results = {}
    for interpret in ("0", "1"):
        monkeypatch.setenv("TRITON_INTERPRET", interpret)
        kernel_launches.clear()
        policy = tiny_policy(40)
        critic = Critic(policy)
        with torch.no_grad():
            critic.value_head.bias.fill_(0.5)
        exp = hand_rollout(policy, critic, kl_delta=[0.2, -0.4, 0.0], scores=[1.0, -2.0])
        cfg = PPOConfig(ppo_epochs=2, minibatch=1, kl_coef=0.5)
        stats, kl = one_update(policy, critic, exp, cfg)
        results[interpret] = (stats, kl, [p.detach().clone() for p in policy.parameters()])
        launched = {k for k in kernel_launches if not k.startswith("twin:")}
        if interpret == "1":
            assert {"gae_fwd_kernel", "policy_loss_fwd_kernel", "value_loss_fwd_kernel"} <= launched
            assert {"cross_entropy_fwd_kernel", "cross_entropy_bwd_kernel"} <= launched  # log-probs
            assert not [k for k in kernel_launches if k.startswith("twin:")]
        else:
            assert not launched
    (s0, kl0, p0), (s1, kl1, p1) = results["0"], results["1"]
    for field in ("policy_loss", "value_loss", "clip_frac", "approx_kl"):
        torch.testing.assert_close(getattr(s1, field), getattr(s0, field), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(kl1, kl0)
    for a, b in zip(p0, p1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_the_runner_trains_through_the_kernels(tmp_path, monkeypatch, kernel_launches):
    """MAE -> SFT -> PPO through `run` with TRITON_INTERPRET=1: every stage's loss is a Triton kernel."""
    import json

    from tl_fast.train.config import parse_args
    from tl_fast.train.runner import run

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    args = [
        "--max-samples", "8", "--max-length", "512", "--sft-tokens-per-batch", "512", "--sft-max-steps", "1",
        "--ppo-steps", "1", "--ppo-rollout-batch", "2", "--ppo-minibatch", "2", "--ppo-max-new-tokens", "4",
        "--ppo-ppo-epochs", "1", "--device", "cpu", "--output-dir", str(tmp_path / "r"),
    ]  # fmt: skip
    run(parse_args(args))
    rows = [json.loads(line) for line in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in rows if r["stage"] != "mae"] == ["sft", "ppo"]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows if r["stage"] == "sft")
    expected = {
        "cross_entropy_fwd_kernel",  # SFT loss, rollout log-probs
        "cross_entropy_bwd_kernel",  # PPO log-prob gradients
        "gae_fwd_kernel",
        "policy_loss_fwd_kernel",
        "value_loss_fwd_kernel",
    }
    assert expected <= set(kernel_launches), dict(kernel_launches)
    assert not [k for k in kernel_launches if k.startswith("twin:")], dict(kernel_launches)
