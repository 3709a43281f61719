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


def _agreed_run_dir(cfg: TrainConfig, accelerator) -> Path:
    """--output-dir, or runs/<timestamp> chosen by the main process (all processes use the same)."""
    if not cfg.run.output_dir:
        from accelerate.utils import broadcast_object_list

        stamp = [dt.datetime.now().strftime("%Y%m%d-%H%M%S")]
        if accelerator.num_processes > 1:
            broadcast_object_list(stamp)
        cfg.run.output_dir = str(Path("runs") / stamp[0])
    path = Path(cfg.run.output_dir).expanduser()
    from tl_fast.train.checks import check_run_dir

    check_run_dir(path, cfg)  # again: the timestamped default may exist too
    accelerator.wait_for_everyone()  # every process checked before the main one writes there
    return path


def _changed_from_defaults(cfg: TrainConfig) -> str:
    from tl_fast.train.config import TrainConfig as Config

    default, now = Config.build({}).to_dict(), cfg.to_dict()
    skip = {("run", "output_dir"), ("run", "resume"), ("run", "config")}
    changed = [
        f"{section}.{name} {value}"
        for section, values in now.items()
        for name, value in values.items()
        if (section, name) not in skip and value != default[section][name]
    ]
    return ", ".join(changed) or "none"


def _write_config(run_dir: Path, cfg: TrainConfig) -> None:
    tmp = run_dir / "config.yaml.tmp"
    tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    tmp.replace(run_dir / "config.yaml")


def _clean_failed_start(run_dir: Path, existed: bool) -> None:
    """A run that stopped before its first checkpoint leaves nothing a later run or --resume trips on."""
    import shutil

    from tl_fast.train.checks import RUN_FILES

    if (run_dir / "checkpoints" / "latest.json").exists():
        return
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        for name in RUN_FILES:
            target = run_dir / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    print(f"removed what the run wrote in {run_dir}: it stopped before its first checkpoint", flush=True)


def run(cfg: TrainConfig, should_stop=None, read=None) -> RunResult:
    """Runs the configured stages. Anything the user can fix is a UserError raised before the run folder is
    made. `read`: what tl_fast.train.data.read_data(cfg, stages) returned, when the caller read the data."""
    from tl_fast._cli import UserError, check_device, torch_dtype
    from tl_fast.train.checks import check_launcher, preflight, resolve_max_length
    from tl_fast.train.data import prepare_data, read_data

    # The checks that need no model, tokenizer or launcher first: a mistake is reported in seconds.
    preflight(cfg)
    stages = cfg.run.stage_list()
    device_name = check_device(cfg.run.device)
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    read = read if read is not None else read_data(cfg, stages)

    from accelerate import Accelerator
    from transformers import set_seed

    from tl_fast.attention import select_attention
    from tl_fast.train.model import Critic, add_lora, build_policy, load_tokenizer

    accelerator = Accelerator(cpu=device_name == "cpu")
    check_launcher(accelerator.num_processes)
    device = accelerator.device
    run_dir = _agreed_run_dir(cfg, accelerator)
    existed = run_dir.exists()
    main = accelerator.is_main_process
    set_seed(cfg.run.seed)
    resume = latest_checkpoint(run_dir) if cfg.run.resume else None

    tokenizer = load_tokenizer(cfg.model)
    try:
        attn_impl, attn_desc = select_attention(cfg.model.attention, device)
    except ValueError as exc:
        raise UserError(f"--attention {cfg.model.attention}: {exc}") from None
    dtype = torch_dtype(cfg.model.dtype, device.type)
    cfg.data.max_length = resolve_max_length(cfg, tokenizer)  # saved resolved: a resume keeps it
    if main:
        if cfg.run.resume:
            where = (
                f"its {resume['stage']} step {resume['step']} checkpoint"
                if resume
                else "step 0 (no checkpoint)"
            )
            print(f"resuming {run_dir} from {where} with its saved config.yaml", flush=True)
        print(f"config (changed from the defaults): {_changed_from_defaults(cfg)}", flush=True)
        print(
            f"device {device} x{accelerator.num_processes}, dtype {dtype}, attention: {attn_desc}", flush=True
        )
    data = prepare_data(cfg, tokenizer, stages, accelerator, read, show=main)
    policy = build_policy(cfg.model, tokenizer, dtype, attn_impl).to(device)
    if cfg.model.lora_r > 0:
        policy = add_lora(policy, cfg.model)

    # Everything the run needs is in hand: only now does it write to its folder.
    metrics = MetricsLog(run_dir / "metrics.jsonl", enabled=main)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not cfg.run.resume:
            _write_config(run_dir, cfg)
        if resume is None:
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)  # a resume without checkpoint starts over
            metrics.log("mae", step=0, **data.counts)  # the data summary
    accelerator.wait_for_everyone()
    header = {
        "stages": ",".join(stages),
        "model": cfg.model.model
        or f"tiny Llama {cfg.model.num_layers}x{cfg.model.hidden_size} (random init)",
        "trainable parameters": f"{sum(p.numel() for p in policy.parameters() if p.requires_grad):,}",
        "device": f"{device} x{accelerator.num_processes}, {dtype}",
        "attention": attn_desc,
        "data": ", ".join(f"{k} {v}" for k, v in data.counts.items()),
    }
    if "ppo" in stages:
        p = cfg.ppo
        header["RL"] = (
            f"{p.algo}, reward {p.reward}, {p.rollout_batch} samples per step ({p.group_size} per prompt)"
        )
    if resume is not None:
        header["resumed"] = f"from {resume['stage']} step {resume['step']}"
    try:
        interrupted, policy = _train(cfg, stages, policy, tokenizer, data, run_dir, metrics, accelerator,
                                     resume, should_stop, Critic, add_lora)  # fmt: skip
    except BaseException:
        if main and not cfg.run.resume:
            _clean_failed_start(run_dir, existed)
        raise
    if not interrupted:  # every process merges a LoRA policy, so all return the same kind of model
        # a PPO adapter after LoRA SFT sits on merged SFT weights that no saved model holds
        adapter_base = None if {"sft", "ppo"} <= set(stages) else cfg.model.model
        policy = save_final(policy, tokenizer, run_dir / "final", write=main, base_model=adapter_base)
    if main:
        header["interrupted"] = str(interrupted)
        report = write_report(run_dir, metrics, header)
        print(f"run folder: {run_dir}  (report: {report})", flush=True)
        if interrupted:
            print(f"continue it with: python -m tl_fast.train --output-dir {run_dir} --resume", flush=True)
    accelerator.wait_for_everyone()
    return RunResult(run_dir, interrupted, policy, tokenizer)


def _train(cfg, stages, policy, tokenizer, data, run_dir, metrics, accelerator, resume, should_stop, Critic,
           add_lora):  # fmt: skip
    """SFT then PPO, each from the checkpoint `resume` points at; returns (interrupted, policy)."""
    from tl_fast.train.ppo import run_ppo
    from tl_fast.train.sft import run_sft

    interrupted = False
    in_ppo = resume is not None and resume["stage"] == "ppo"
    with StopOnSignal() as stop_signal:
        stop = _agreed(should_stop or stop_signal, accelerator)
        if resume is not None and not in_ppo:
            load_policy_weights(policy, resume["path"])
        elif in_ppo and "sft" in stages:
            load_policy_weights(policy, _sft_result(run_dir))  # PPO's reference and critic start from it
        sft_done = in_ppo or (resume is not None and _sft_finished(resume))
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
            state = None
            if in_ppo:
                load_policy_weights(policy, resume["path"])
                state = load_trainer_state(resume["path"])
                if critic is not None:  # grpo, dapo and dr_grpo have none
                    critic.load_state_dict(state["critic"])
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
                start_step=resume["step"] if in_ppo else 0,
                should_stop=stop,
                resume_state=state,
            )
    return interrupted, policy


def _sft_result(run_dir: Path) -> Path:
    """The last SFT checkpoint, which holds the finished SFT policy (PPO's reference)."""
    from tl_fast._cli import UserError

    found = sorted((run_dir / "checkpoints").glob("sft-step*"))
    if not found or not load_trainer_state(found[-1]).get("sft_finished", False):
        raise UserError(
            f"--resume: {run_dir}/checkpoints holds no finished SFT checkpoint, which PPO's reference and "
            "critic start from; rerun the stages from the start in a new --output-dir"
        )
    return found[-1]


def _sft_finished(resume: dict) -> bool:
    state = load_trainer_state(resume["path"])
    return bool(state.get("sft_finished", False))


def _ppo_models(policy, cfg: TrainConfig, Critic, add_lora):
    """Reference = the SFT policy (LoRA: same weights, adapters disabled); critic = SFT decoder + head, for
    ppo only (grpo, dapo and dr_grpo build none). The reference is kept for every algorithm, so each logs
    its KL to the SFT policy."""
    import copy

    lora = cfg.model.lora_r > 0
    if lora:
        policy = policy.merge_and_unload()  # fold the SFT adapter into the weights
    critic = None
    if cfg.ppo.algo == "ppo":
        critic = Critic(policy)
        critic.verify_initialized_from(policy)
    if lora:
        # a fresh adapter on the merged SFT weights: disabling it gives the SFT policy, no second copy
        return None, critic, add_lora(policy, cfg.model)
    return copy.deepcopy(policy).eval().requires_grad_(False), critic, policy
