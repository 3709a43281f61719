"""python -m tl_fast.train — TL-Training end to end: MAE -> PKT-SFT -> IRM-PPO.

    python -m tl_fast.train                                   # embedded default (tiny Llama, CPU)
    python -m tl_fast.train --model PATH --data PATH --config configs/codellama7b_tl.yaml
    accelerate launch --num_processes 2 -m tl_fast.train ...  # DDP / FSDP through accelerate
    python -m tl_fast.train --output-dir runs/x --resume      # continue an interrupted run

Writes a run folder: config.yaml, metrics.jsonl (one row per step, `stage` = mae | sft | ppo), checkpoints/,
report.md with PNG plots. Ctrl-C saves a checkpoint and exits cleanly.
"""

from __future__ import annotations

import sys

from tl_fast.train.config import parse_args
from tl_fast.train.runner import run


def main(argv: list[str] | None = None) -> int:
    import torch.distributed as dist

    cfg = parse_args(argv)
    result = run(cfg)
    if dist.is_initialized():  # a gloo/NCCL group left for interpreter teardown can abort the process
        dist.destroy_process_group()
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
