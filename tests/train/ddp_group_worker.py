"""Run by test_two_process_gloo_group_rl_keeps_replicas_equal under torchrun: GRPO and DAPO (with
replacement rollouts) on 2 CPU processes (gloo), then compare every parameter across the replicas.
Writes ddp_group.json."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import set_seed

import tl_fast.reward
from tl_fast.train.config import parse_args
from tl_fast.train.model import build_policy, causal_lm, load_tokenizer
from tl_fast.train.runner import run


class TextReward:
    """Rewards that vary between a random model's samples (count of 'e' modulo 3), so groups carry signal."""

    def score(self, texts, tools_list, golds):
        base = tl_fast.reward.IRMReward().score(texts, tools_list, golds)
        return [
            tl_fast.reward.Score(float(t.count("e") % 3), b.verdict, {})
            for t, b in zip(texts, base, strict=True)
        ]


tl_fast.reward.reward_scheme = lambda name: TextReward()
out_dir = Path(sys.argv[1])
small = ["--max-samples", "24", "--hidden-size", "32", "--num-layers", "1", "--num-heads", "2",
         "--intermediate-size", "64", "--stages", "ppo", "--ppo-steps", "2", "--ppo-rollout-batch", "8",
         "--ppo-minibatch", "4", "--ppo-max-new-tokens", "8", "--ppo-group-size", "2",
         "--device", "cpu"]  # fmt: skip
result = {}
for algo, extra in (("grpo", []), ("dapo", ["--ppo-resample-rounds", "2"])):
    cfg = parse_args([*small, "--ppo-algo", algo, *extra, "--output-dir", str(out_dir / algo)])
    set_seed(cfg.run.seed)  # the runner seeds before building: this is the initial policy
    initial = build_policy(cfg.model, load_tokenizer(cfg.model), torch.float32, "sdpa")
    before = torch.cat([p.detach().flatten() for p in initial.parameters()])
    res = run(cfg)
    flat = torch.cat([p.detach().flatten() for p in causal_lm(res.policy).parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    rows = [json.loads(line) for line in (out_dir / algo / "metrics.jsonl").read_text().splitlines()]
    rl = [r for r in rows if r["stage"] == "ppo"]
    result[algo] = {
        "max_abs_diff": float((gathered[0] - gathered[1]).abs().max()),
        "moved": float((flat - before).abs().max()),
        "rollouts": [sum(r["categories"].values()) for r in rl],
        "groups": [r["groups"] for r in rl],
        "resampled": sum(r["groups_resampled"] for r in rl),
    }
result["world_size"] = dist.get_world_size()  # the runner's Accelerator set up the process group
if dist.get_rank() == 0:
    (out_dir / "ddp_group.json").write_text(json.dumps(result))
dist.barrier()
dist.destroy_process_group()  # a gloo group left for interpreter teardown can abort the process
