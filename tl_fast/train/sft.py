"""PKT-SFT: token-weighted SFT with the fused lm_head cross-entropy on the policy's final hidden states.

Batches come precomputed (packed, padding-free by default) in a seed-fixed order, so `--resume` skips exactly
the micro-batches already trained on and reproduces the uninterrupted run's next step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from tl_fast.train.checkpoint import load_trainer_state, save_checkpoint
from tl_fast.train.config import RunConfig, SFTConfig
from tl_fast.train.model import PKTLoss, trained_weight
from tl_fast.train.report import MetricsLog


def cosine_with_warmup(optimizer, total_steps: int, warmup_ratio: float):
    warmup = max(1, math.ceil(total_steps * warmup_ratio)) if warmup_ratio > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_optimizer(params, lr: float, weight_decay: float, beta2: float) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, beta2))


def run_sft(
    policy,
    tokenizer,
    batches: list[dict],
    cfg: SFTConfig,
    run: RunConfig,
    run_dir: Path,
    metrics: MetricsLog,
    accelerator,
    resume_from: dict | None = None,
    should_stop: Callable[[int], bool] = lambda step: False,
) -> tuple[object, bool]:
    """Trains in place; returns (policy, interrupted). `batches` are this rank's micro-batches, in order."""
    steps_per_epoch = len(batches) // cfg.grad_accum
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(batches)} micro-batches < grad_accum={cfg.grad_accum}: no optimizer step possible"
        )
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    loss_module = PKTLoss(policy)
    optimizer = make_optimizer(loss_module.parameters(), cfg.lr, cfg.weight_decay, cfg.adam_beta2)
    scheduler = cosine_with_warmup(optimizer, total, cfg.warmup_ratio)
    loss_module, optimizer = accelerator.prepare(loss_module, optimizer)
    start = 0
    if resume_from is not None:
        state = load_trainer_state(resume_from["path"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]
        metrics.truncate_after("sft", start)

    def save(step: int) -> None:
        if accelerator.is_main_process:
            state = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "sft_finished": step == total,
            }
            save_checkpoint(run_dir, "sft", step, policy, tokenizer, state)
        accelerator.wait_for_everyone()

    device = accelerator.device
    bar = tqdm(total=total, initial=start, desc="sft", disable=not accelerator.is_main_process)
    loss_module.train()
    interrupted = False
    for step in range(start, total):
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        micro_batches = [
            {k: v.to(device) if torch.is_tensor(v) else v for k, v in batches[i % len(batches)].items()}
            for i in range(step * cfg.grad_accum, (step + 1) * cfg.grad_accum)
        ]
        # The PKT loss of the step is Σw·ℓ / Σw over every micro-batch on every process (one big batch):
        # each micro-batch divides its Σw·ℓ by the step's total weight W; DDP then averages gradients over the
        # processes, which the factor `world` undoes.
        world = accelerator.num_processes
        step_weight = sum(trained_weight(b) for b in micro_batches)
        if world > 1:
            step_weight = accelerator.reduce(step_weight, "sum")
        normalizer = step_weight.clamp(min=1e-12) / world
        loss_sum, tokens = torch.zeros((), device=device), 0
        for batch in micro_batches:
            loss = loss_module(batch, normalizer=normalizer)
            accelerator.backward(loss)
            loss_sum += loss.detach()
            tokens += int((batch["labels"] != -100).sum())
        loss_sum = float(accelerator.reduce(loss_sum, "mean") if world > 1 else loss_sum)  # the step's loss
        grad_norm = None
        if cfg.grad_clip > 0:
            grad_norm = float(accelerator.clip_grad_norm_(loss_module.parameters(), cfg.grad_clip))
        optimizer.step()
        scheduler.step()
        done = step + 1
        if accelerator.is_main_process and done % run.log_every == 0:
            metrics.log(
                "sft",
                step=done,
                loss=loss_sum,
                lr=scheduler.get_last_lr()[0],
                grad_norm=grad_norm,
                tokens=tokens,
                step_s=round(time.perf_counter() - t0, 3),  # benchmarks/ablation.py sizes runs from this
            )
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum:.4f}")
        if should_stop(done):
            save(done)
            interrupted = True
            break
        if done % run.save_every == 0 or done == total:
            save(done)
    bar.close()
    return policy, interrupted
