"""Run by test_ddp_equals_one_big_batch under torchrun (2 CPU processes, gloo): one SGD step (lr 1) of
PKTTrainer with gradient accumulation 2 over 4 rows split across the processes; rank 0 saves the parameter
change (minus the gradient of the whole step)."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from transformers import AutoTokenizer, TrainingArguments

from tl_fast.data import SHIPPED_TOKENIZER
from tl_fast.integrations.transformers import PKTCollator, PKTTrainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integrations.conftest import chat_rows, tiny_llama  # noqa: E402

out = Path(sys.argv[1])
tok = AutoTokenizer.from_pretrained(str(SHIPPED_TOKENIZER))
model = tiny_llama(tok)
before = {n: p.detach().clone() for n, p in model.named_parameters()}
args = TrainingArguments(
    str(out / "run"), per_device_train_batch_size=1, gradient_accumulation_steps=2, max_steps=1,
    learning_rate=1.0, optim="sgd", weight_decay=0.0, max_grad_norm=0.0, lr_scheduler_type="constant",
    report_to=[], use_cpu=True, save_strategy="no", train_sampling_strategy="sequential", logging_steps=1,
    ddp_backend="gloo",
)  # fmt: skip
trainer = PKTTrainer(model=model, args=args, train_dataset=chat_rows(4), data_collator=PKTCollator(tok))
trainer.train()
assert dist.get_world_size() == 2
if dist.get_rank() == 0:
    delta = {n: p.detach() - before[n] for n, p in model.named_parameters()}
    loss = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    torch.save({"delta": delta, "loss": loss, "rows": trainer.pkt_report["rows"]}, out / "ddp.pt")
dist.barrier()  # rank 1 waits for rank 0's save: a process leaving a live gloo group can abort (SIGABRT)
dist.destroy_process_group()
