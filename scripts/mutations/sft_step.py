"""Planted bugs in the SFT step's objective: Σw·ℓ / Σw over every micro-batch of every process."""

from . import Mutation

MUTATIONS = [
    Mutation(
        id="sft-step-per-micro-batch-mean",
        file="tl_fast/train/sft.py",
        old="loss = loss_module(batch, normalizer=normalizer)",
        new="loss = loss_module(batch) / cfg.grad_accum",
        tests=["tests/train/test_train_step_objective.py::test_grad_accum_step_equals_one_big_batch"],
        why="gradient accumulation averages per-micro-batch weighted means instead of the step's Σw·ℓ/Σw",
    ),
    Mutation(
        id="sft-step-no-world-factor",
        file="tl_fast/train/sft.py",
        old="normalizer = step_weight.clamp(min=1e-12) / world",
        new="normalizer = step_weight.clamp(min=1e-12)",
        tests=["tests/train/test_train_step_objective.py::test_two_processes_step_equals_one_big_batch"],
        why="DDP's gradient average divides the step's objective by the number of processes",
    ),
    Mutation(
        id="pkt-loss-normalizer-ignored",
        file="tl_fast/train/model.py",
        old="return loss * (trained_weight(batch) / normalizer)",
        new="return loss",
        tests=["tests/train/test_train_step_objective.py::test_pkt_loss_normalizer"],
        why="the step normalizer never reaches the PKT loss",
    ),
]
