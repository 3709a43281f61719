"""What the trainer checks before it makes anything: paths, the run folder, the launcher, the length limit.

    preflight(cfg)                          # UserError for a missing path or a run folder it would trip on
    check_launcher(accelerator.num_processes)   # a launcher's world size the trainer does not run as

`preflight` imports no torch, so `python -m tl_fast.train` answers a mistyped path in a second instead of
after model loading or transformers' network retries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tl_fast._cli import UserError, check_model_path
from tl_fast.data.pipeline import check_data_source, tokenizer_context
from tl_fast.train.config import DEMO_MAX_LENGTH, TrainConfig

# What a run writes into its folder; any of them there means the folder holds a run.
RUN_FILES = ("config.yaml", "metrics.jsonl", "checkpoints", "final", "report.md")
# Set by torchrun / accelerate (WORLD_SIZE) and by MPI launchers, which accelerate also reads.
WORLD_SIZE_VARS = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


def preflight(cfg: TrainConfig) -> None:
    """Checks everything a run needs from the disk; changes nothing."""
    cfg.run.stage_list()
    if cfg.model.model:
        model = Path(check_model_path(cfg.model.model, "--model"))
        if model.is_dir() and not (model / "config.json").is_file():
            raise UserError(
                f"--model {cfg.model.model}: no config.json there (expected a Hugging Face model folder)"
            )
    if cfg.model.tokenizer:
        check_model_path(cfg.model.tokenizer, "--tokenizer")
    check_data_source(cfg.data)
    check_launcher()
    if cfg.run.output_dir:
        check_run_dir(Path(cfg.run.output_dir).expanduser(), cfg)


def check_run_dir(path: Path, cfg: TrainConfig) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"--output-dir {path}: is a file, not a folder")
    if not cfg.run.resume:
        held = [name for name in RUN_FILES if (path / name).exists()]
        if held:
            raise UserError(
                f"--output-dir {path} already holds a run ({', '.join(held)}): continue it with --resume, "
                "or choose another --output-dir"
            )
        return
    if not (path / "config.yaml").is_file():
        raise UserError(
            f"--resume: {path} holds no run to continue (no config.yaml); drop --resume to start one"
        )
    if (path / "final").exists():
        raise UserError(
            f"--resume: {path} already finished (final/ is written); evaluate {path}/final/policy with "
            "python -m tl_fast.eval, or start a new --output-dir"
        )
    pointer = path / "checkpoints" / "latest.json"
    latest = json.loads(pointer.read_text()) if pointer.exists() else None
    if latest is not None and latest["stage"] == "ppo" and cfg.model.lora_r > 0:
        # PPO's adapter sits on the merged SFT weights, which the checkpoint does not hold.
        raise UserError(
            f"--resume: {path} stopped inside PPO of a LoRA run, which cannot be resumed (its adapter sits "
            "on merged SFT weights that checkpoints do not hold); rerun PPO from the SFT result"
        )


def check_launcher(num_processes: int | None = None, env: dict | None = None) -> None:
    """UserError when a launcher asked for a number of processes this trainer does not run as.
    `num_processes` None: only what the environment alone shows (before accelerate is imported)."""
    env = os.environ if env is None else env
    has_world = any(var in env for var in WORLD_SIZE_VARS)
    # accelerate's simple launcher (taken without GPUs) starts ONE process, but sets MASTER_PORT when it was
    # asked for several (accelerate/utils/launch.py, prepare_simple_launcher_cmd_env).
    if "ACCELERATE_MIXED_PRECISION" in env and "MASTER_PORT" in env and not has_world:
        raise UserError(
            "accelerate launch was asked for several processes but started only this one (without GPUs its "
            "launcher runs a single process); on a CPU use torchrun --nproc_per_node N -m tl_fast.train ..., "
            "or accelerate launch --num_processes 1"
        )
    if num_processes is None:
        return
    for var in WORLD_SIZE_VARS:
        value = env.get(var, "")
        if value.isdigit() and int(value) != num_processes:
            raise UserError(
                f"the launcher set {var}={value} but the trainer runs as {num_processes} process(es); on a "
                "CPU start N processes with torchrun --nproc_per_node N -m tl_fast.train ..."
            )


def model_context(cfg: TrainConfig, tokenizer) -> int:
    """The longest sequence the model is built for: max_position_embeddings (or the config's other name for
    it), else the tokenizer's model_max_length; 0 when neither says."""
    from transformers import AutoConfig

    conf = AutoConfig.from_pretrained(cfg.model.model)
    conf = conf.get_text_config() if hasattr(conf, "get_text_config") else conf
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(conf, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return tokenizer_context(tokenizer)


def resolve_max_length(cfg: TrainConfig, tokenizer) -> int:
    """--max-length when given; else the model's context; the tiny demo model: DEMO_MAX_LENGTH."""
    if cfg.data.max_length is not None:
        return cfg.data.max_length
    if not cfg.model.model:
        return DEMO_MAX_LENGTH
    return model_context(cfg, tokenizer)
