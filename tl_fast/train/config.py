"""Typed run configuration: one dataclass per concern, turned into flags and YAML keys by `tl_fast._flags`.

    python -m tl_fast.train --config configs/codellama7b_tl.yaml --sft-max-steps 100
    cfg = parse_args(["--sft-lr", "2e-4"])                      # the same from Python

A YAML file gives a whole run, its keys grouped by section (model, data, mae, render, pkt, sft, ppo, run);
flags override it. Defaults are the embedded CPU demo (a tiny random-init Llama; the whole pipeline runs in a
few minutes on a CPU); `configs/codellama7b_tl.yaml` holds the paper's settings. `--resume` loads the run's
saved config.yaml instead of the defaults; a field may then change only if it is in RESUME_MAY_CHANGE.
Parsing imports neither torch nor transformers, so `--help` and flag mistakes answer at once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tl_fast._cli import DTYPE_CHOICES, UserError, dtype_name
from tl_fast._flags import (
    DocFormatter,
    FieldSpec,
    FlagParser,
    add_section,
    field_specs,
    given_values,
    load_yaml_sections,
    sections_from_dict,
)
from tl_fast.data.config import DataConfig, MAEConfig, PKTConfig, RenderConfig

STAGES = ("mae", "sft", "ppo")
# The tiny demo model (no --model) keeps SFT samples up to 2048 tokens: RoTLLaMA samples average ~2,000
# tokens, so 2048 trains on 445 of the demo's 758 samples (1024 kept 184) at the SFT compute the demo had
# before (one epoch, ~130 steps of 4096 tokens); 4096 would keep 695 but double the demo's time on a CPU.
DEMO_MAX_LENGTH = 2048


def normalize_stages(value: str) -> str:
    """'ppo,sft' -> 'sft,ppo': a comma-separated subset of mae,sft,ppo, in pipeline order."""
    given = [s.strip() for s in value.split(",") if s.strip()]
    bad = [s for s in given if s not in STAGES]
    if bad or not given:
        raise ValueError(f"{', '.join(map(repr, bad)) or 'no stage'}: expected a comma-separated subset of "
                         f"{','.join(STAGES)}")  # fmt: skip
    if given == ["mae"] or set(given) == {"mae"}:
        raise ValueError(
            "mae alone trains nothing: add sft and/or ppo (e.g. --stages mae,sft), or write the MAE-filtered "
            "dataset with python -m tl_fast.data prepare --output DIR"
        )
    return ",".join(s for s in STAGES if s in given)


def normalize_dtype(value: str) -> str:
    """'bfloat16' -> 'bf16' (the spellings tl_fast._cli accepts)."""
    try:
        return dtype_name(value)
    except UserError:
        raise ValueError(f"expected one of {DTYPE_CHOICES}") from None


def normalize_device(value: str) -> str:
    """auto | cpu | cuda | cuda:N (whether this machine has it is checked when the run starts)."""
    value = value.strip().lower()
    index = value.partition(":")[2]
    if value not in ("auto", "cpu", "cuda") and not (value.startswith("cuda:") and index.isdigit()):
        raise ValueError("expected auto, cpu, cuda or cuda:N")
    return value


@dataclass
class ModelConfig:
    model: str | None = field(
        default=None,
        metadata={
            "help": "HF causal-LM folder or Hub id; unset = a tiny random-init Llama (the fields below)",
            "normalize": os.path.expanduser,
        },
    )
    tokenizer: str | None = field(
        default=None,
        metadata={
            "help": "tokenizer folder or Hub id; unset = --model's, else the tokenizer shipped with tl_fast",
            "normalize": os.path.expanduser,
        },
    )
    hidden_size: int = field(default=128, metadata={"help": "tiny model only: width"})
    num_layers: int = field(default=2, metadata={"help": "tiny model only: decoder layers"})
    num_heads: int = field(default=4, metadata={"help": "tiny model only: attention heads"})
    intermediate_size: int = field(default=344, metadata={"help": "tiny model only: MLP width"})
    lora_r: int = field(default=0, metadata={"help": "LoRA rank via peft; 0 = full fine-tune"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout"})
    lora_targets: str = field(
        default="q_proj,k_proj,v_proj,o_proj", metadata={"help": "comma-separated module names LoRA adapts"}
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "auto (bf16 on CUDA, fp32 on CPU) | bf16 (bfloat16) | fp16 (float16) | fp32 (float32)",
            "normalize": normalize_dtype,
        },
    )
    attention: str = field(
        default="auto",
        metadata={
            "help": "auto picks the fastest available (packed_sdpa: per-sample SDPA inside packed rows)",
            "choices": ("auto", "flash_attention_2", "varlen", "packed_sdpa", "sdpa", "eager"),
        },
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "recompute activations in backward"}
    )


@dataclass
class SFTConfig:
    epochs: int = field(default=1, metadata={"help": "passes over the SFT samples (paper: 1)"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimizer steps"})
    tokens_per_batch: int = field(default=4096, metadata={"help": "packed tokens per micro-batch"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    lr: float = field(default=3e-3, metadata={"help": "peak learning rate (paper, 7B: 1e-6)"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (paper: 0.01)"})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2 (paper: 0.95)"})
    warmup_ratio: float = field(
        default=0.01, metadata={"help": "linear warm-up share, then cosine (paper: 0.01)"}
    )
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm; 0 = off"})
    pack: bool = field(default=True, metadata={"help": "padding-free packed batches (else padded)"})


# Defaults of the fields left unset (None), per algorithm; sources in configs/<algo>.yaml and the README.
ALGO_DEFAULTS = {
    "ppo": {"group_size": 1, "loss_agg": "token_mean", "dynamic_sampling": False, "overlong": "none"},
    "grpo": {"group_size": 4, "loss_agg": "seq_mean", "dynamic_sampling": False, "overlong": "none"},
    "dapo": {
        "group_size": 4,
        "loss_agg": "token_mean",
        "dynamic_sampling": True,
        "overlong": "penalty",
        "clip_high": 0.28,
    },
    "dr_grpo": {"group_size": 4, "loss_agg": "seq_sum_norm", "dynamic_sampling": False, "overlong": "none"},
}
REWARDS = ("irm", "binary", "toolrl")


@dataclass
class PPOConfig:
    """The RL stage: PPO (the paper) or a critic-free group-relative algorithm, and the reward it uses."""

    algo: str = field(
        default="ppo",
        metadata={
            "choices": ("ppo", "grpo", "dapo", "dr_grpo"),
            "help": "ppo (the paper: critic + GAE) | grpo | dapo | dr_grpo (no critic; group-relative "
            "advantages over --ppo-group-size samples per prompt)",
        },
    )
    reward: str = field(
        default="irm",
        metadata={
            "aliases": ("--reward",),
            "choices": ("irm", "binary", "toolrl"),
            "help": "irm (TL-Training's category table) | binary (Tool-N1: 1 iff exactly right) | toolrl "
            "(ToolRL: format {0,1} + correctness [-3,3])",
        },
    )
    steps: int = field(default=4, metadata={"help": "RL iterations (rollout + update)"})
    rollout_batch: int = field(
        default=8,
        metadata={"help": "samples per rollout (prompts x group size), a multiple of group size x processes"},
    )
    group_size: int | None = field(
        default=None, metadata={"help": "samples per prompt G; unset: 1 for ppo, 4 for grpo/dapo/dr_grpo"}
    )
    ppo_epochs: int = field(
        default=2, metadata={"help": "passes over each rollout (DeepSpeed-Chat default: 1)"}
    )
    minibatch: int = field(default=4, metadata={"help": "sequences per PPO minibatch"})
    actor_lr: float = field(default=1e-4, metadata={"help": "policy learning rate (paper, 7B: 2e-7)"})
    critic_lr: float = field(default=1e-4, metadata={"help": "critic learning rate (paper, 7B: 1e-7)"})
    kl_coef: float = field(default=0.4, metadata={"help": "KL-to-SFT penalty per token (authors' code: 0.4)"})
    kl_kind: str = field(default="k1", metadata={"help": "KL estimator folded into the reward: k1 | k2 | k3"})
    reward_clip: float = field(default=5.0, metadata={"help": "clip the rule reward to [-c, c] (authors: 5)"})
    gamma: float = field(default=1.0, metadata={"help": "GAE discount (paper: 1)"})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda (paper: 0.95)"})
    clip: float = field(default=0.2, metadata={"help": "policy ratio clip, lower side (paper: 0.2)"})
    clip_high: float | None = field(
        default=None, metadata={"help": "upper ratio clip; unset: --ppo-clip, dapo 0.28 (clip-higher)"}
    )
    kl_loss_coef: float = field(
        default=0.0,
        metadata={"help": "grpo/dapo/dr_grpo: beta of the k3 KL-to-reference term in the loss (0 = none)"},
    )
    loss_agg: str | None = field(
        default=None,
        metadata={
            "help": "token_mean | seq_mean | seq_sum_norm (see tl_fast.rl.aggregate_loss); unset: grpo "
            "seq_mean, dapo token_mean, dr_grpo seq_sum_norm"
        },
    )
    dynamic_sampling: bool | None = field(
        default=None,
        metadata={"help": "skip groups whose rewards all agree (no signal); unset: on for dapo only"},
    )
    resample_rounds: int = field(
        default=0,
        metadata={"help": "with dynamic sampling: extra rollouts per step to replace skipped groups"},
    )
    overlong: str | None = field(
        default=None,
        metadata={
            "help": "responses cut at --ppo-max-new-tokens: none | mask (left out of the loss) | penalty "
            "(DAPO's soft length penalty); unset: dapo penalty, others none"
        },
    )
    overlong_buffer: int | None = field(
        default=None,
        metadata={
            "help": "penalty: length band before the cap where it falls to -1; unset: max_new_tokens/4"
        },
    )
    overlong_factor: float = field(default=1.0, metadata={"help": "penalty at the cap (DAPO: 1)"})
    value_clip: float = field(default=0.2, metadata={"help": "value clip (paper: 0.2)"})
    whiten_advantages: bool = field(default=True, metadata={"help": "whiten advantages over each minibatch"})
    greedy: bool = field(default=False, metadata={"help": "greedy rollouts (authors: do_sample=0)"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature (authors: 0.7)"})
    max_new_tokens: int = field(default=64, metadata={"help": "rollout answer length (authors: 512)"})
    max_prompt_tokens: int = field(default=768, metadata={"help": "skip prompts longer than this"})

    def __post_init__(self):
        if self.algo not in ALGO_DEFAULTS:
            raise ValueError(f"--ppo-algo {self.algo!r}: expected one of {', '.join(ALGO_DEFAULTS)}")
        if self.reward not in REWARDS:
            raise ValueError(f"--reward {self.reward!r}: expected one of {', '.join(REWARDS)}")
        for name, value in ALGO_DEFAULTS[self.algo].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.clip_high is None:
            self.clip_high = self.clip
        if self.overlong_buffer is None:
            self.overlong_buffer = max(1, self.max_new_tokens // 4)
        group = self.algo != "ppo"
        if self.group_size < (2 if group else 1):
            raise ValueError(
                f"--ppo-group-size {self.group_size}: {self.algo} needs at least 2 samples per prompt"
            )
        if self.rollout_batch % self.group_size:
            raise ValueError(
                f"--ppo-rollout-batch {self.rollout_batch} is not a multiple of "
                f"--ppo-group-size {self.group_size}"
            )
        if self.loss_agg not in ("token_mean", "seq_mean", "seq_sum_norm"):
            raise ValueError(
                f"--ppo-loss-agg {self.loss_agg!r}: expected token_mean, seq_mean or seq_sum_norm"
            )
        if self.overlong not in ("none", "mask", "penalty"):
            raise ValueError(f"--ppo-overlong {self.overlong!r}: expected none, mask or penalty")
        if not 0 < self.overlong_buffer <= self.max_new_tokens:
            raise ValueError(
                f"--ppo-overlong-buffer {self.overlong_buffer}: expected 1..{self.max_new_tokens} "
                "(--ppo-max-new-tokens)"
            )
        if not group and (self.dynamic_sampling or self.overlong != "none" or self.kl_loss_coef):
            raise ValueError(
                "--ppo-dynamic-sampling, --ppo-overlong and --ppo-kl-loss-coef apply to grpo/dapo/dr_grpo, "
                "not ppo (ppo folds --ppo-kl-coef into the reward)"
            )


@dataclass
class RunConfig:
    config: str | None = field(
        default=None, metadata={"help": "YAML file with any of these fields, by section"}
    )
    stages: str = field(
        default="mae,sft,ppo",
        metadata={
            "help": "subset of mae,sft,ppo that holds sft or ppo; without mae every turn is trained",
            "normalize": normalize_stages,
        },
    )
    output_dir: str | None = field(default=None, metadata={"help": "run folder; default runs/<timestamp>"})
    resume: bool = field(
        default=False,
        metadata={"help": "continue the run in --output-dir with its saved config.yaml from its last save"},
    )
    device: str = field(
        default="auto", metadata={"help": "auto | cpu | cuda | cuda:N", "normalize": normalize_device}
    )
    seed: int = field(default=0, metadata={"help": "random seed"})
    save_every: int = field(default=50, metadata={"help": "optimizer steps between checkpoints"})
    log_every: int = field(default=1, metadata={"help": "steps between metric rows"})

    def stage_list(self) -> list[str]:
        return normalize_stages(self.stages).split(",")


# (section name, dataclass, flag prefix, --help title): prefixes keep flat flag names unique (--sft-lr)
SECTIONS = (
    ("model", ModelConfig, "", "the policy: a Hub/local model, or the tiny demo Llama; LoRA; precision"),
    ("data", DataConfig, "", "trajectories in, decontamination, length limit"),
    ("mae", MAEConfig, "mae_", "MAE: which assistant turns become training samples"),
    ("render", RenderConfig, "render_", "how a sample becomes text"),
    ("pkt", PKTConfig, "pkt_", "PKT: the per-token weights of the SFT loss"),
    ("sft", SFTConfig, "sft_", "PKT-SFT optimization"),
    ("ppo", PPOConfig, "ppo_", "IRM-PPO: rollouts, rewards, updates"),
    ("run", RunConfig, "", "the run folder, stages, device, resume"),
)
# What `--resume` lets change: where and how often the run logs and saves. Every other field of every section,
# present or future, changes what the run computes and must equal the saved config.yaml.
RESUME_MAY_CHANGE = frozenset(
    {("run", "config"), ("run", "output_dir"), ("run", "resume"), ("run", "save_every"), ("run", "log_every")}
)


@dataclass
class TrainConfig:
    model: ModelConfig
    data: DataConfig
    mae: MAEConfig
    render: RenderConfig
    pkt: PKTConfig
    sft: SFTConfig
    ppo: PPOConfig
    run: RunConfig

    def to_dict(self) -> dict:
        return {name: asdict(getattr(self, name)) for name, *_ in SECTIONS}

    @classmethod
    def build(cls, values: dict[str, dict]) -> TrainConfig:
        """Each section's defaults updated by `values` ({section: {field: converted value}})."""
        built = {}
        for name, klass, *_ in SECTIONS:
            try:
                built[name] = klass(**values.get(name, {}))
            except ValueError as exc:  # a dataclass's own check (__post_init__)
                raise UserError(f"{name}: {exc}") from None
        return cls(**built)


def section_specs() -> dict[str, dict[str, FieldSpec]]:
    return {name: field_specs(name, klass, prefix) for name, klass, prefix, _ in SECTIONS}


def _resume_note(spec: FieldSpec) -> str:
    return "; may change on --resume" if (spec.section, spec.name) in RESUME_MAY_CHANGE else ""


def build_parser() -> FlagParser:
    import tl_fast.train.__main__ as main_module

    parser = FlagParser(
        prog="python -m tl_fast.train",
        usage="%(prog)s [flags]   (flags by config section below; --config FILE.yaml for many)",
        description=main_module.__doc__,
        formatter_class=DocFormatter,
        epilog="A --config YAML groups these keys by section (model:, data:, ..., run:); flags override it.",
    )
    for name, spec in section_specs().items():
        title = next(t for n, *_, t in SECTIONS if n == name)
        add_section(parser, spec, f"{name}", title, note=_resume_note)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    return parser


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Defaults < `--config` YAML < flags; with `--resume`, the run's saved config.yaml < allowed flags."""
    argv = list(sys.argv[1:] if argv is None else argv)
    namespace = build_parser().parse_args(argv)
    specs = section_specs()
    flags = {name: given_values(namespace, s) for name, s in specs.items()}
    config = flags["run"].get("config")
    from_yaml = load_yaml_sections(config, specs) if config else {}
    merged = {name: {**from_yaml.get(name, {}), **flags[name]} for name in specs}
    if merged["run"].get("resume"):
        return _resumed(merged, flags, config, specs)
    return TrainConfig.build(merged)


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The config.yaml a run saved (checked like a --config file)."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not readable YAML ({str(exc).splitlines()[0]})") from None
    return TrainConfig.build(sections_from_dict(data, section_specs(), str(path)))


def _resumed(merged: dict, flags: dict, config: str | None, specs) -> TrainConfig:
    out = merged["run"].get("output_dir")
    if not out:
        raise UserError(
            "--resume needs --output-dir: the folder of the run to continue (e.g. runs/20260101-120000)"
        )
    if not (Path(out) / "config.yaml").is_file():
        raise UserError(
            f"--resume: {out} holds no run to continue (no config.yaml); drop --resume to start one there"
        )
    saved = load_run_config(out)
    saved_values = saved.to_dict()
    changed = []
    for section, values in merged.items():
        for name, value in values.items():
            if (section, name) in RESUME_MAY_CHANGE:
                setattr(getattr(saved, section), name, value)
            elif value != saved_values[section][name]:
                spec = specs[section][name]
                label = spec.flag if name in flags[section] else f"{section}.{name} in {config}"
                changed.append(f"{label} {_show(value)} (saved: {_show(saved_values[section][name])})")
    if changed:
        allowed = ", ".join(specs[s][n].flag for s, n in sorted(RESUME_MAY_CHANGE))
        raise UserError(
            f"--resume continues {out} as saved in its config.yaml, but {'; '.join(changed)} would change "
            f"what it computes: drop {'them' if len(changed) > 1 else 'it'}, or start a new --output-dir "
            f"(on resume only {allowed} may change)"
        )
    saved.run.resume, saved.run.output_dir = True, str(out)
    return saved


def _show(value) -> str:
    if isinstance(value, tuple):
        return f"[{len(value)} entries]"
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def flag_of(section: str, name: str) -> str:
    """The command-line spelling of a field, e.g. flag_of('sft', 'lr') == '--sft-lr'."""
    return section_specs()[section][name].flag


__all__ = [
    "DEMO_MAX_LENGTH",
    "RESUME_MAY_CHANGE",
    "SECTIONS",
    "STAGES",
    "DataConfig",
    "MAEConfig",
    "ModelConfig",
    "PKTConfig",
    "PPOConfig",
    "RenderConfig",
    "RunConfig",
    "SFTConfig",
    "TrainConfig",
    "build_parser",
    "flag_of",
    "load_run_config",
    "parse_args",
]
