"""The trainer top to bottom: set-up -> data (MAE) -> PKT-SFT -> IRM-PPO -> report. Python API: `run(cfg)`."""

from __future__ import annotations

import datetime as dt
import signal
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from tl_fast.train.checkpoint import latest_checkpoint, load_policy_weights, load_trainer_state, save_final
from tl_fast.train.config import TrainConfig
from tl_fast.train.report import MetricsLog, write_report


@dataclass
class RunResult:
    run_dir: Path
    interrupted: bool
    policy: object
    tokenizer: object


class StopOnSignal:
    """SIGINT/SIGTERM set a flag the loops check after each step: they save a checkpoint, then stop."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\n{signal.Signals(signum).name}: saving a checkpoint after this step, then exiting", flush=True
        )

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)
        return False

    def __call__(self, step: int) -> bool:
        return self.requested


def _agreed(stop, accelerator):
    """A stop any process asks for, seen by all at the same step (one stopping alone would hang the rest)."""
    if accelerator.num_processes == 1:
        return stop

    def agreed(step: int) -> bool:
        flag = torch.tensor([float(stop(step))], device=accelerator.device)
        return bool(accelerator.reduce(flag, "sum").item() > 0)

    return agreed


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda but no CUDA device is visible")
    return torch.device(name)


def _run_dir(cfg: TrainConfig) -> Path:
    if cfg.run.output_dir:
        path = Path(cfg.run.output_dir)
    else:
        path = Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if cfg.run.resume and not (path / "checkpoints" / "latest.json").exists():
        raise FileNotFoundError(
            f"--resume: no checkpoint under {path}/checkpoints (give the run's --output-dir)"
        )
    if not cfg.run.resume and (path / "metrics.jsonl").exists():
        raise FileExistsError(
            f"{path} already holds a run: pass --resume to continue it, or another --output-dir"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(cfg: TrainConfig, should_stop=None) -> RunResult:
    from accelerate import Accelerator
    from transformers import set_seed

    from tl_fast.attention import select_attention
    from tl_fast.train.data import prepare_data
    from tl_fast.train.model import Critic, add_lora, build_policy, load_tokenizer, resolve_dtype
    from tl_fast.train.ppo import run_ppo
    from tl_fast.train.sft import run_sft

    stages = cfg.run.stage_list()
    device = _device(cfg.run.device)
    accelerator = Accelerator(cpu=device.type == "cpu")
    device = accelerator.device
    set_seed(cfg.run.seed)
    run_dir = _run_dir(cfg)
    main = accelerator.is_main_process
    if main:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    metrics = MetricsLog(run_dir / "metrics.jsonl", enabled=main)
    resume = latest_checkpoint(run_dir) if cfg.run.resume else None
    if resume is not None and resume["stage"] == "ppo" and cfg.model.lora_r > 0:
        # PPO's adapter sits on the merged SFT weights, which the checkpoint does not hold.
        raise ValueError("resuming a LoRA run inside PPO is not supported; rerun PPO from the SFT result")

    tokenizer = load_tokenizer(cfg.model)
    attn_impl, attn_desc = select_attention(cfg.model.attention, device)
    dtype = resolve_dtype(cfg.model.dtype, device)
    if main:
        print(f"device {device}, dtype {dtype}, attention: {attn_desc}", flush=True)

    data = prepare_data(cfg, tokenizer, stages, accelerator)
    if main and resume is None:
        metrics.log("mae", step=0, **data.counts)

    policy = build_policy(cfg.model, tokenizer, dtype, attn_impl).to(device)
    if cfg.model.lora_r > 0:
        policy = add_lora(policy, cfg.model)
    header = {
        "stages": ",".join(stages),
        "model": cfg.model.model
        or f"tiny Llama {cfg.model.num_layers}x{cfg.model.hidden_size} (random init)",
        "trainable parameters": f"{sum(p.numel() for p in policy.parameters() if p.requires_grad):,}",
        "device": f"{device} x{accelerator.num_processes}, {dtype}",
        "attention": attn_desc,
        "data": ", ".join(f"{k} {v}" for k, v in data.counts.items()),
    }

    interrupted = False
    with StopOnSignal() as stop_signal:
        stop = _agreed(should_stop or stop_signal, accelerator)
        if resume is not None:
            load_policy_weights(policy, resume["path"])
        sft_done = resume is not None and (resume["stage"] == "ppo" or _sft_finished(resume))
        if "sft" in stages and not sft_done:
            policy, interrupted = run_sft(
                policy,
                tokenizer,
                data.sft_batches,
                cfg.sft,
                cfg.run,
                run_dir,
                metrics,
                accelerator,
                resume_from=resume if resume is not None and resume["stage"] == "sft" else None,
                should_stop=stop,
            )
            policy = accelerator.unwrap_model(policy)
        if "ppo" in stages and not interrupted:
            ref_policy, critic, policy = _ppo_models(policy, cfg, Critic, add_lora)
            if resume is not None and resume["stage"] == "ppo":
                critic.load_state_dict(load_trainer_state(resume["path"])["critic"])
            interrupted = run_ppo(
                policy,
                ref_policy,
                critic,
                tokenizer,
                data.ppo_items,
                cfg.ppo,
                cfg.run,
                run_dir,
                metrics,
                accelerator,
                seed=cfg.run.seed,
                start_step=resume["step"] if resume is not None and resume["stage"] == "ppo" else 0,
                should_stop=stop,
            )
    if not interrupted:  # every process merges a LoRA policy, so all return the same kind of model
        # a PPO adapter after LoRA SFT sits on merged SFT weights that no saved model holds
        adapter_base = None if {"sft", "ppo"} <= set(stages) else cfg.model.model
        policy = save_final(policy, tokenizer, run_dir / "final", write=main, base_model=adapter_base)
    if main:
        header["interrupted"] = str(interrupted)
        report = write_report(run_dir, metrics, header)
        print(f"run folder: {run_dir}  (report: {report})", flush=True)
    accelerator.wait_for_everyone()
    return RunResult(run_dir, interrupted, policy, tokenizer)


def _sft_finished(resume: dict) -> bool:
    state = load_trainer_state(resume["path"])
    return bool(state.get("sft_finished", False))


def _ppo_models(policy, cfg: TrainConfig, Critic, add_lora):
    """Reference = the SFT policy (LoRA: same weights, adapters disabled); critic = SFT decoder + head."""
    import copy

    lora = cfg.model.lora_r > 0
    if lora:
        policy = policy.merge_and_unload()  # fold the SFT adapter into the weights
    critic = Critic(policy)
    critic.verify_initialized_from(policy)
    if lora:
        # a fresh adapter on the merged SFT weights: disabling it gives the SFT policy, no second copy
        return None, critic, add_lora(policy, cfg.model)
    return copy.deepcopy(policy).eval().requires_grad_(False), critic, policy
