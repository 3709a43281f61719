"""torchrun worker: one SFT step on 2 processes, each holding one micro-batch of very different total weight.

Writes each rank's parameter update / lr (= the step's gradient under SGD) for the test to compare with the
gradient of Σw·ℓ / Σw over both micro-batches at once.
"""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_train_step_objective import HEAVY, LIGHT, padded_batch, tiny_llama  # noqa: E402

from tl_fast.train import sft  # noqa: E402
from tl_fast.train.config import RunConfig, SFTConfig  # noqa: E402
from tl_fast.train.report import MetricsLog  # noqa: E402


def main(out_dir: str) -> None:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    model = tiny_llama()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    lr = 1e-3
    sft.make_optimizer = lambda params, *a: torch.optim.SGD(list(params), lr=lr)
    sft.save_checkpoint = lambda *a, **k: None
    out = Path(out_dir)
    mine = padded_batch([HEAVY if rank == 0 else LIGHT])
    cfg = SFTConfig(epochs=1, grad_accum=1, warmup_ratio=0.0, grad_clip=0.0)
    sft.run_sft(
        model, None, [mine], cfg, RunConfig(), out, MetricsLog(out / "m.jsonl", enabled=False), accelerator
    )
    update = {n: (before[n] - p.detach()) / lr for n, p in model.named_parameters()}
    torch.save(update, out / f"update{rank}.pt")
    accelerator.wait_for_everyone()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("TRITON_INTERPRET", "0")
    main(sys.argv[1])
