"""Run by test_two_process_gloo_run_keeps_replicas_equal under torchrun: SFT then PPO on 2 CPU processes
(gloo), then compare every parameter across the replicas; then a run that one process asks to stop. Writes
ddp_result.json."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import AutoModelForCausalLM

from tl_fast.train.config import parse_args
from tl_fast.train.model import causal_lm
from tl_fast.train.runner import run

out_dir = Path(sys.argv[1])
data = ["--max-samples", "48", "--max-length", "512"]
sft = ["--sft-tokens-per-batch", "1024", "--sft-max-steps", "3"]
ppo = ["--ppo-steps", "2", "--ppo-rollout-batch", "4", "--ppo-minibatch", "2", "--ppo-max-new-tokens", "12"]
cfg = parse_args([*data, *sft, *ppo, "--output-dir", str(out_dir / "run"), "--device", "cpu"])
result = run(cfg)
flat = torch.cat([p.detach().flatten() for p in causal_lm(result.policy).parameters()])
gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if dist.get_rank() == 0:
    sft_policy = AutoModelForCausalLM.from_pretrained(out_dir / "run/checkpoints/sft-step000003/policy")
    sft_flat = torch.cat([p.detach().flatten() for p in sft_policy.parameters()])
    rows = [json.loads(line) for line in (out_dir / "run/metrics.jsonl").read_text().splitlines()]
    (out_dir / "ddp_result.json").write_text(
        json.dumps(
            {
                "world_size": dist.get_world_size(),
                "max_abs_diff": float((gathered[0] - gathered[1]).abs().max()),
                "ppo_moved": float((gathered[0] - sft_flat).abs().max()),
                "sft_steps": sum(r["stage"] == "sft" for r in rows),
                "ppo_rollouts": [sum(r["categories"].values()) for r in rows if r["stage"] == "ppo"],
            }
        )
    )
# A stop asked for by one process only (rank 1, after SFT step 2) must stop both at that step.
stop_args = ["--stages", "mae,sft", "--output-dir", str(out_dir / "stop"), "--device", "cpu"]
cfg = parse_args([*data, *sft, *stop_args])
stopped = run(cfg, should_stop=lambda step: dist.get_rank() == 1 and step == 2)
latest = json.loads((out_dir / "stop/checkpoints/latest.json").read_text())
both = torch.tensor([float(stopped.interrupted and latest["step"] == 2)])
dist.all_reduce(both)
if dist.get_rank() == 0:
    result = json.loads((out_dir / "ddp_result.json").read_text())
    (out_dir / "ddp_result.json").write_text(json.dumps({**result, "stopped_together": both.item() == 2}))
dist.barrier()
dist.destroy_process_group()  # a gloo group left for interpreter teardown can abort the process
