"""Run by test_two_process_gloo_run_keeps_replicas_equal under torchrun: SFT on 2 CPU processes (gloo), then
compare every parameter across the replicas and write ddp_result.json."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from tl_fast.train.config import parse_args
from tl_fast.train.model import build_policy, causal_lm, load_tokenizer
from tl_fast.train.runner import run

out_dir = Path(sys.argv[1])
args = ["--stages", "mae,sft", "--max-samples", "48", "--max-length", "512", "--sft-tokens-per-batch", "1024"]
cfg = parse_args([*args, "--sft-max-steps", "3", "--output-dir", str(out_dir / "run"), "--device", "cpu"])
result = run(cfg)
flat = torch.cat([p.detach().flatten() for p in causal_lm(result.policy).parameters()])
gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if dist.get_rank() == 0:
    torch.manual_seed(cfg.run.seed)
    from transformers import set_seed

    set_seed(cfg.run.seed)
    init = build_policy(cfg.model, load_tokenizer(cfg.model), torch.float32, "sdpa")
    init_flat = torch.cat([p.detach().flatten() for p in init.parameters()])
    steps = sum(1 for line in (out_dir / "run/metrics.jsonl").read_text().splitlines() if '"sft"' in line)
    (out_dir / "ddp_result.json").write_text(
        json.dumps(
            {
                "world_size": dist.get_world_size(),
                "max_abs_diff": float((gathered[0] - gathered[1]).abs().max()),
                "moved": float((gathered[0] - init_flat).abs().max()),
                "steps": steps,
            }
        )
    )
dist.barrier()
dist.destroy_process_group()  # a gloo group left for interpreter teardown can abort the process
