"""Typed run configuration: one dataclass per concern, parsed with `transformers.HfArgumentParser`.

    python -m tl_fast.train --config configs/codellama7b_tl.yaml --sft-max-steps 100

A YAML file gives a whole run, its keys grouped by section (model, data, mae, render, pkt, sft, ppo, run);
command-line flags override it. Defaults are the embedded CPU demo (a tiny random-init Llama; the whole
pipeline runs in a few minutes on a CPU); `configs/codellama7b_tl.yaml` holds the paper's settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from tl_fast.data.config import MAEConfig, PKTConfig, RenderConfig

STAGES = ("mae", "sft", "ppo")


@dataclass
class ModelConfig:
    model: str | None = field(
        default=None,
        metadata={"help": "local HF causal-LM path; unset = tiny Llama built from the fields below"},
    )
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "tokenizer path; unset = --model's, else the tokenizer shipped with tl_fast"},
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
        default="auto", metadata={"help": "auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32"}
    )
    attention: str = field(
        default="auto",
        metadata={
            "help": "auto | flash_attention_2 | varlen | packed_sdpa | sdpa | eager (auto picks the fastest)"
        },
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "recompute activations in backward"}
    )


@dataclass
class DataConfig:
    data: str | None = field(
        default=None,
        metadata={"help": "trajectories (json/jsonl/.gz or a datasets dir); unset = vendored sample"},
    )
    data_format: str = field(default="auto", metadata={"help": "auto | rotllama | tl_raw | openai"})
    max_samples: int | None = field(default=None, metadata={"help": "use at most this many samples"})
    max_length: int | None = field(
        default=1024, metadata={"help": "drop SFT samples longer than this (tokens)"}
    )
    strict: bool = field(default=False, metadata={"help": "stop at the first malformed record"})
    eval_sets: str | None = field(
        default="shipped",
        metadata={
            "help": "eval files whose queries are removed from training: comma-separated paths, or 'shipped' "
            "(the RoTBench, ToolAlpaca and BFCL sets tl_fast ships)"
        },
    )
    decontaminate: bool = field(
        default=True,
        metadata={"help": "drop training trajectories whose normalized user query is an eval query"},
    )


@dataclass
class SFTConfig:
    epochs: int = field(default=4, metadata={"help": "passes over the SFT samples (paper: 1)"})
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
            "help": "ppo (the paper: critic + GAE) | grpo | dapo | dr_grpo (no critic; group-relative "
            "advantages over --ppo-group-size samples per prompt)"
        },
    )
    reward: str = field(
        default="irm",
        metadata={
            "aliases": ["--reward"],
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
    config: str | None = field(default=None, metadata={"help": "YAML file with any of these fields"})
    stages: str = field(default="mae,sft,ppo", metadata={"help": "comma-separated subset of mae,sft,ppo"})
    output_dir: str | None = field(default=None, metadata={"help": "run folder; default runs/<timestamp>"})
    resume: bool = field(
        default=False, metadata={"help": "continue the run in --output-dir from its last save"}
    )
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    save_every: int = field(default=50, metadata={"help": "optimizer steps between checkpoints"})
    log_every: int = field(default=1, metadata={"help": "steps between metric rows"})

    def stage_list(self) -> list[str]:
        stages = [s.strip() for s in self.stages.split(",") if s.strip()]
        bad = [s for s in stages if s not in STAGES]
        if bad or not stages:
            raise ValueError(
                f"--stages {self.stages!r}: expected a comma-separated subset of {','.join(STAGES)}"
            )
        return stages


# (section name, dataclass, flag prefix): prefixes keep flat flag names unique, e.g. --sft-lr, --pkt-w-max
SECTIONS = (
    ("model", ModelConfig, ""),
    ("data", DataConfig, ""),
    ("mae", MAEConfig, "mae_"),
    ("render", RenderConfig, "render_"),
    ("pkt", PKTConfig, "pkt_"),
    ("sft", SFTConfig, "sft_"),
    ("ppo", PPOConfig, "ppo_"),
    ("run", RunConfig, ""),
)
# fields left to YAML / the Python API because they are not flag-shaped
_NOT_FLAGS = {("mae", "error_patterns")}


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
        return {name: asdict(getattr(self, name)) for name, _, _ in SECTIONS}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Flags override a YAML `--config`, whose keys are grouped by section (model, data, mae, ..., run)."""
    import yaml
    from transformers import HfArgumentParser

    parser = HfArgumentParser(_flag_classes())
    flat = {}
    for obj in parser.parse_args_into_dataclasses(args=argv):
        flat.update(asdict(obj))
    sections = {name: {} for name, _, _ in SECTIONS}
    explicit = _explicit_flags(argv)
    if flat.get("config"):
        data = yaml.safe_load(Path(flat["config"]).read_text()) or {}
        known = {name: {f.name for f in fields(klass)} for name, klass, _ in SECTIONS}
        for section, values in data.items():
            if section not in known or not isinstance(values, dict):
                raise ValueError(f"{flat['config']}: top-level key {section!r} is not one of {list(known)}")
            unknown = set(values) - known[section]
            if unknown:
                raise ValueError(f"{flat['config']}: unknown keys in {section}: {sorted(unknown)}")
            sections[section].update(values)
    for name, klass, prefix in SECTIONS:
        for f in fields(klass):
            key = prefix + f.name
            if key in flat and (key in explicit or f.name not in sections[name]):
                sections[name][f.name] = flat[key]
    built = {}
    for name, klass, _ in SECTIONS:
        values = sections[name]
        if name == "mae" and "error_patterns" in values:
            values["error_patterns"] = tuple(values["error_patterns"])
        built[name] = klass(**values)
    return TrainConfig(**built)


def _flag_classes():
    from dataclasses import make_dataclass

    out = []
    for name, klass, prefix in SECTIONS:
        specs = [
            (prefix + f.name, f.type, field(default=f.default, metadata=f.metadata))
            for f in fields(klass)
            if (name, f.name) not in _NOT_FLAGS
        ]
        out.append(make_dataclass(f"{klass.__name__}Flags", specs))
    return out


def _explicit_flags(argv: list[str] | None) -> set[str]:
    import sys

    args = sys.argv[1:] if argv is None else argv
    given = {a[2:].split("=", 1)[0].replace("-", "_") for a in args if a.startswith("--")}
    for _, klass, prefix in SECTIONS:  # a field given by an alias (e.g. --reward for ppo.reward)
        for f in fields(klass):
            if any(alias[2:].replace("-", "_") in given for alias in f.metadata.get("aliases", ())):
                given.add(prefix + f.name)
    return given
