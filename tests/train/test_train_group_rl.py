"""GRPO / DAPO / Dr. GRPO in the trainer: one update on a hand-built group moves the policy toward its best
completion, DAPO's dynamic sampling and overlong handling, no critic, short runs of each algorithm with their
report, and --resume reproducing the next RL step."""

import json

import pytest
import torch
from tiny_policy import tiny_policy

from tl_fast.train.config import PPOConfig, parse_args
from tl_fast.train.group_rl import group_targets, group_update, rollout_groups
from tl_fast.train.rollout import Experience, PolicyLogprobs, PromptItem, response_logprobs
from tl_fast.train.runner import run


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")


def experience(policy, responses: torch.Tensor, scores: list[float], finished=None) -> Experience:
    prompt = torch.tensor([[1, 5, 6, 7]]).expand(len(responses), -1)
    seq = torch.cat([prompt, responses], dim=1)
    R = responses.shape[1]
    with torch.no_grad():
        lp = response_logprobs(policy, seq, torch.ones_like(seq), R)
    n = len(responses)
    return Experience(
        seq,
        torch.ones_like(seq),
        torch.ones_like(responses),
        lp,
        lp.clone(),
        None,
        torch.tensor(scores),
        ["x"] * n,
        [""] * n,
        torch.ones(n, dtype=torch.bool) if finished is None else torch.tensor(finished),
    )


@pytest.mark.parametrize("algo", ["grpo", "dapo", "dr_grpo"])
def test_one_update_raises_the_best_completion_and_lowers_the_worst(algo):
    policy = tiny_policy()
    responses = torch.tensor([[10, 11, 12], [20, 21, 22], [13, 14, 15], [23, 24, 25]])
    exp = experience(policy, responses, scores=[1.0, -2.0, 0.0, 0.5])  # one prompt, G = 4
    before = exp.logprobs.sum(-1)
    cfg = PPOConfig(algo=algo, rollout_batch=4, minibatch=4, ppo_epochs=4, actor_lr=1e-2)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.actor_lr)
    stats = group_update(PolicyLogprobs(policy), opt, exp, cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        after = response_logprobs(policy, exp.sequences, exp.attention_mask, 3).sum(-1)
    assert after[0] > before[0], "the best completion (reward 1) became more likely"
    assert after[1] < before[1], "the worst completion (reward -2) became less likely"
    assert stats.approx_kl > 0 and 0 <= stats.clip_frac <= 1


def test_targets_mask_groups_without_signal_and_cut_responses():
    policy = tiny_policy()
    responses = torch.tensor([[10, 11, 12]] * 4)
    # group 0 = rows 0-1 (rewards agree), group 1 = rows 2-3; row 3 was cut at max_new_tokens
    exp = experience(policy, responses, [1.0, 1.0, 0.0, 1.0], finished=[True, True, True, False])
    base = dict(rollout_batch=4, group_size=2, max_new_tokens=3, overlong_buffer=2)
    t = group_targets(exp, PPOConfig(algo="grpo", **base))
    assert t.loss_mask.sum(-1).tolist() == [3, 3, 3, 3]  # plain GRPO trains every sample
    assert t.signal.tolist() == [False, True]
    t = group_targets(exp, PPOConfig(algo="dapo", overlong="mask", **base))
    assert t.loss_mask.sum(-1).tolist() == [0, 0, 3, 0]  # no-signal group and the cut response left out
    assert (t.advantages[t.loss_mask == 0] == 0).all()
    # penalty: length 3 = the cap -> -1 (buffer 2 starts at 1 token): every reward drops by 1, same advantages
    t = group_targets(exp, PPOConfig(algo="dapo", overlong="penalty", **base))
    torch.testing.assert_close(t.shaped, torch.tensor([0.0, 0.0, -1.0, 0.0]))
    # lengths 3 and 2 in group 0: the penalty (-1, -0.5) differs, the task reward does not: still no signal
    exp.response_mask[1, 2] = 0
    t = group_targets(exp, PPOConfig(algo="dapo", overlong="penalty", **base))
    torch.testing.assert_close(t.shaped[:2], torch.tensor([0.0, 0.5]))
    assert t.signal.tolist() == [False, True] and t.loss_mask[:2].sum() == 0
    # Dr. GRPO: r - mean, not divided by the std: group 1 = [0, 1] -> [-0.5, 0.5]
    t = group_targets(exp, PPOConfig(algo="dr_grpo", **base))
    torch.testing.assert_close(t.advantages[2:, 0], torch.tensor([-0.5, 0.5]))


def test_update_uses_the_configured_clip_aggregation_kl_and_global_counts():
    policy = tiny_policy()
    responses = torch.tensor([[10, 11, 12, 13], [20, 21, 22, 23]])
    exp = experience(policy, responses, scores=[1.0, 0.0])  # G = 2: A = ±1/sqrt(2) / (... + eps)
    exp.response_mask[1, 2:] = 0  # lengths 4 and 2
    a = 1 / (2**0.5)  # (1 - 0.5) / std([1, 0]) = 0.5 / 0.7071
    base = dict(group_size=2, rollout_batch=2, minibatch=2, ppo_epochs=1, actor_lr=0.0)

    def update(all_reduce=None, world=1, old_shift=0.0, **cfg):
        shifted = Experience(**{**exp.__dict__, "logprobs": exp.logprobs - old_shift})
        opt = torch.optim.SGD(policy.parameters(), lr=0.0)
        c = PPOConfig(**{**base, **cfg})
        return group_update(PolicyLogprobs(policy), opt, shifted, c, all_reduce=all_reduce, world=world)

    # ratio 1: per-token loss -A; token_mean (4 x -a + 2 x a) / 6 (DAPO), seq_mean (-a + a) / 2 (GRPO)
    assert update(algo="dapo", dynamic_sampling=False, overlong="none").policy_loss == pytest.approx(
        -a / 3, rel=1e-4
    )
    assert update(algo="grpo").policy_loss == pytest.approx(0.0, abs=1e-6)
    # Dr. GRPO's advantages are r - mean = ±0.5, summed over tokens / (2 samples x max_new_tokens 8)
    assert update(algo="dr_grpo", max_new_tokens=8).policy_loss == pytest.approx(-2 * 0.5 / 16, rel=1e-4)
    # two processes with these counts each: the global count / 2 is the local one, the same loss
    twice = update(algo="dapo", dynamic_sampling=False, overlong="none", all_reduce=lambda t: 2 * t, world=2)
    assert twice.policy_loss == pytest.approx(-a / 3, rel=1e-4)
    # the k3 KL term: reference 0.5 below the policy on every token -> k3 = exp(-0.5) - 1 + 0.5
    exp.ref_logprobs = exp.logprobs - 0.5
    k3 = torch.tensor(-0.5).exp().item() - 0.5
    with_kl = update(algo="grpo", kl_loss_coef=0.1)
    assert with_kl.kl_loss == pytest.approx(k3, rel=1e-4) and with_kl.policy_loss == pytest.approx(
        0.1 * k3, rel=1e-3
    )
    exp.ref_logprobs = exp.logprobs.clone()
    # ratio exp(0.24) = 1.27 on every token: clipped at 1.2 (grpo) on the positive-advantage row, not at
    # DAPO's 1.28; rows with A < 0 are never clipped above
    assert update(algo="grpo", old_shift=0.24).clip_frac == pytest.approx(4 / 6, rel=1e-4)
    assert update(algo="dapo", dynamic_sampling=False, overlong="none", old_shift=0.24).clip_frac == 0.0


def test_dr_grpo_normalizer_counts_masked_rows_on_every_process_count():
    # Dr. GRPO divides by B x max_new_tokens, masked rows included: a response cut at the budget and masked
    # out (overlong="mask") must leave the normalizer as it is, with one process or with the global counts
    # of several (all_reduce = 2 x local, world 2: the same loss)
    policy = tiny_policy()
    responses = torch.tensor([[10, 11, 12, 13], [20, 21, 22, 23]])
    exp = experience(policy, responses, scores=[1.0, 0.0], finished=[True, False])
    cfg = PPOConfig(
        algo="dr_grpo", overlong="mask", group_size=2, rollout_batch=2, minibatch=2, ppo_epochs=1,
        actor_lr=0.0, max_new_tokens=8,
    )  # fmt: skip

    def loss(**ddp):
        opt = torch.optim.SGD(policy.parameters(), lr=0.0)
        return group_update(PolicyLogprobs(policy), opt, exp, cfg, **ddp).policy_loss

    single = loss()
    assert single == pytest.approx(-4 * 0.5 / (2 * 8), rel=1e-4)  # row 0: A = +0.5 on 4 tokens; row 1 masked
    assert loss(all_reduce=lambda t: 2 * t, world=2) == pytest.approx(single, rel=1e-5)


def test_concat_realigns_prompts_and_responses():
    short = experience(tiny_policy(), torch.tensor([[10, 11]]), [1.0])
    long = Experience.concat([short, short], pad_id=0)
    assert long is not short and long.sequences.shape == (2, 6)
    wide = Experience(
        torch.tensor([[9, 1, 5, 6, 7, 10, 11, 12]]),
        torch.ones(1, 8, dtype=torch.long),
        torch.ones(1, 3, dtype=torch.long),
        torch.ones(1, 3),
        torch.ones(1, 3),
        None,
        torch.tensor([0.0]),
        ["x"],
        [""],
        torch.tensor([True]),
    )
    both = Experience.concat([short, wide], pad_id=0)
    # prompts right-aligned (left padding), responses left-aligned (right padding)
    assert both.sequences.tolist() == [[0, 1, 5, 6, 7, 10, 11, 0], [9, 1, 5, 6, 7, 10, 11, 12]]
    assert both.attention_mask.tolist() == [[0, 1, 1, 1, 1, 1, 1, 0], [1] * 8]
    assert both.response_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert both.prompt_len == 5 and both.logprobs[0, 2] == 0


def test_dynamic_sampling_replaces_groups_without_signal():
    policy = tiny_policy()
    calls = []

    def generate(items):  # scripted rewards: prompt "p<k>" gets rewards table[k] for its G = 2 samples
        table = {"p0": [1.0, 1.0], "p1": [0.0, 1.0], "p2": [0.0, 0.0], "p3": [2.0, 0.0]}
        calls.append([it.prompt for it in items])
        scores = [s for it in items[::2] for s in table[it.prompt]]
        return experience(policy, torch.tensor([[10, 11]] * len(items)), scores)

    items = [PromptItem("p0", [], ""), PromptItem("p1", [], "")]
    spare = iter([PromptItem("p2", [], ""), PromptItem("p3", [], "")])
    draw = lambda k: [next(spare) for _ in range(k)]  # noqa: E731
    cfg = PPOConfig(algo="dapo", rollout_batch=4, group_size=2, resample_rounds=2)
    exp, info = rollout_groups(generate, items, draw, cfg, pad_id=0)
    # round 0: p0 has no signal -> p2 (no signal) -> p3 (signal) fills the batch: [p1, p3]
    assert calls == [["p0", "p0", "p1", "p1"], ["p2", "p2"], ["p3", "p3"]]
    assert exp.scores.tolist() == [0.0, 1.0, 2.0, 0.0]
    assert info == {"groups": 2, "groups_no_signal": 2, "groups_resampled": 2}
    # without rounds the batch keeps its no-signal group; the loss mask leaves it out
    spare = iter([PromptItem("p2", [], "")])
    exp, info = rollout_groups(
        generate, items, draw, PPOConfig(algo="dapo", rollout_batch=4, group_size=2), 0
    )
    assert exp.scores.tolist() == [1.0, 1.0, 0.0, 1.0] and info["groups_resampled"] == 0


SMALL = [
    "--max-samples", "24", "--hidden-size", "32", "--num-layers", "1", "--num-heads", "2",
    "--intermediate-size", "64", "--ppo-rollout-batch", "4", "--ppo-minibatch", "2",
    "--ppo-max-new-tokens", "8", "--ppo-group-size", "2",
]  # fmt: skip


def rl_rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["stage"] == "ppo"]


@pytest.mark.parametrize(
    "algo,reward", [("grpo", "toolrl"), ("dapo", "binary"), ("dr_grpo", "irm"), ("ppo", "toolrl")]
)
def test_each_algorithm_runs_and_reports(tmp_path, algo, reward, monkeypatch):
    if algo != "ppo":  # a critic-free algorithm never builds a critic
        import tl_fast.train.model as model

        monkeypatch.setattr(model.Critic, "__init__", lambda *a, **k: pytest.fail("critic built"))
    group = [] if algo == "ppo" else ["--ppo-group-size", "2"]
    args = [*SMALL[:-2], *group, "--stages", "mae,sft,ppo", "--sft-max-steps", "1", "--ppo-steps", "2"]
    cfg = parse_args([*args, "--ppo-algo", algo, "--reward", reward, "--output-dir", str(tmp_path / "r")])
    result = run(cfg)
    rows = rl_rows(result.run_dir)
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert sum(r["categories"].values()) == 4
        assert {"reward", "kl", "clip_frac", "step_s", "peak_mem_mb"} <= set(r)
        assert ("groups_skipped" in r) == (algo != "ppo")
    state = torch.load(result.run_dir / "checkpoints/ppo-step000002/trainer_state.pt", weights_only=False)
    assert ("critic" in state) == (algo == "ppo") and "actor_opt" in state
    report = (result.run_dir / "report.md").read_text()
    assert f"{algo}, reward {reward}" in report and "clip fraction" in report


class TextReward:
    """Stand-in scheme whose rewards vary between a random model's samples: the count of 'e' modulo 3."""

    def score(self, texts, tools_list, golds):
        from tl_fast.reward import IRMReward, Score

        base = IRMReward().score(texts, tools_list, golds)
        return [Score(float(t.count("e") % 3), b.verdict, {}) for t, b in zip(texts, base, strict=True)]


@pytest.mark.parametrize("algo,stages", [("dapo", "ppo"), ("ppo", "mae,sft,ppo")])
def test_resume_reproduces_the_next_rl_step(tmp_path, algo, stages, monkeypatch):
    monkeypatch.setattr("tl_fast.reward.reward_scheme", lambda name: TextReward())
    group = [] if algo == "ppo" else ["--ppo-group-size", "2", "--ppo-dynamic-sampling", "false"]
    args = [*SMALL[:-2], *group, "--stages", stages, "--sft-max-steps", "1", "--ppo-steps", "2"]
    args += ["--ppo-algo", algo, "--ppo-actor-lr", "1e-2"]
    full = run(parse_args([*args, "--output-dir", str(tmp_path / "full")]))
    cut_args = [*args, "--output-dir", str(tmp_path / "cut")]
    cut = run(parse_args(cut_args), should_stop=lambda step: step == 1)
    assert cut.interrupted
    run(parse_args([*cut_args, "--resume"]))
    want, got = rl_rows(full.run_dir), rl_rows(cut.run_dir)
    assert want[1]["kl"] != 0, "step 1 moved the policy away from the reference"
    assert [r["step"] for r in got] == [1, 2]
    for k in ("reward", "policy_loss", "approx_kl", "kl", "response_tokens"):
        assert got[1][k] == pytest.approx(want[1][k], rel=1e-5, abs=1e-7), k


@pytest.mark.slow
def test_two_process_gloo_group_rl_keeps_replicas_equal(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).resolve().parent / "ddp_group_worker.py"
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(worker), str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "TRITON_INTERPRET": "0", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,  # a collective left waiting hangs
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads((tmp_path / "ddp_group.json").read_text())
    assert result["world_size"] == 2
    for algo in ("grpo", "dapo"):
        r = result[algo]
        assert r["max_abs_diff"] == 0.0, algo  # DDP kept the replicas equal
        assert r["moved"] > 0, algo
        assert r["rollouts"] == [8, 8] and r["groups"] == [4, 4], algo  # metrics cover both processes
    assert result["dapo"]["resampled"] > 0  # replacement rollouts ran (processes may differ in how many)


@pytest.mark.parametrize("algo", ["grpo", "dapo", "dr_grpo"])
def test_algorithm_configs_parse_and_flags_override_them(algo):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / f"{algo}.yaml"
    cfg = parse_args(["--config", str(path)])
    assert cfg.ppo.algo == algo and cfg.ppo.group_size > 1
    # --reward is an alias of --ppo-reward: given on the command line, it wins over the YAML
    assert parse_args(["--config", str(path), "--reward", "binary"]).ppo.reward == "binary"
    assert parse_args(["--config", str(path), "--ppo-reward", "binary"]).ppo.reward == "binary"
