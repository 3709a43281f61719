"""python -m tl_fast.train — TL-Training end to end: MAE -> PKT-SFT -> IRM-PPO.

    python -m tl_fast.train                                    # embedded default (tiny Llama, CPU, minutes)
    python -m tl_fast.train --model PATH --data PATH --config configs/codellama7b_tl.yaml
    python -m tl_fast.train --stages mae,sft --lora-r 16 --sft-lr 2e-4   # any subset holding sft or ppo
    torchrun --nproc_per_node 2 -m tl_fast.train ...           # several processes on a CPU (gloo DDP)
    accelerate launch --num_processes 8 -m tl_fast.train ...   # GPUs: DDP / FSDP through accelerate
    python -m tl_fast.train --output-dir runs/x --resume       # continue a stopped run with its saved config

Writes a run folder: config.yaml, metrics.jsonl (one row per step, `stage` = mae | sft | ppo), checkpoints/,
final/policy, report.md with PNG plots. Ctrl-C saves a checkpoint and exits (status 130); a mistake you can
fix (bad flag, path, YAML, data) is one line on stderr with exit status 2, before any run folder is made.
"""

from __future__ import annotations

import sys

from tl_fast._cli import run_cli


def _main(argv: list[str]) -> int:
    from tl_fast._cli import check_device
    from tl_fast.train.checks import preflight
    from tl_fast.train.config import parse_args
    from tl_fast.train.data import read_data

    cfg = parse_args(argv)
    # Paths, run folder, device and data are checked before the model stack (torch, transformers) loads.
    preflight(cfg)
    check_device(cfg.run.device)
    read = read_data(cfg, cfg.run.stage_list())
    import torch.distributed as dist

    from tl_fast.train.runner import run

    result = run(cfg, read=read)
    if dist.is_initialized():  # a gloo/NCCL group left for interpreter teardown can abort the process
        dist.destroy_process_group()
    return 130 if result.interrupted else 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv, prog="python -m tl_fast.train")


if __name__ == "__main__":
    sys.exit(main())
