"""Policy, reference and critic models on transformers + peft, and the PKT loss module the trainer optimizes.

The trainer never asks the model for logits: it takes the decoder's final hidden states and calls tl_fast's
fused lm_head losses on them (composition, no monkey-patching).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import Tensor, nn

from tl_fast.train.config import ModelConfig

SHIPPED_TOKENIZER = Path(__file__).resolve().parents[1] / "assets" / "tokenizer"


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name not in table:
        raise ValueError(f"dtype={name!r}: expected auto, bf16, fp16 or fp32")
    return table[name]


def load_tokenizer(cfg: ModelConfig):
    from transformers import AutoTokenizer

    from tl_fast._cli import UserError

    path = cfg.tokenizer or cfg.model or str(SHIPPED_TOKENIZER)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:  # a folder without tokenizer files, an unknown tokenizer class
        flag = "--tokenizer" if cfg.tokenizer else "--model"
        raise UserError(f"{flag} {path}: cannot load a tokenizer ({str(exc).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def build_policy(cfg: ModelConfig, tokenizer, dtype: torch.dtype, attn_implementation: str) -> nn.Module:
    """A local HF causal LM (`cfg.model`) or, for the embedded default, a tiny random-init Llama."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if cfg.model:
        from tl_fast._cli import UserError

        try:
            model = AutoModelForCausalLM.from_pretrained(
                cfg.model, dtype=dtype, attn_implementation=attn_implementation
            )
        except OSError as exc:  # no config.json / weights in the folder
            raise UserError(
                f"--model {cfg.model}: cannot load a causal LM ({str(exc).splitlines()[0]})"
            ) from None
    else:
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=cfg.hidden_size,
            intermediate_size=cfg.intermediate_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            num_key_value_heads=cfg.num_heads,
            max_position_embeddings=4096,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=False,
        )
        config._attn_implementation = attn_implementation
        model = LlamaForCausalLM(config).to(dtype)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    return model


def add_lora(model: nn.Module, cfg: ModelConfig, adapter_name: str = "default") -> nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=[t.strip() for t in cfg.lora_targets.split(",") if t.strip()],
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora, adapter_name=adapter_name)


def causal_lm(model: nn.Module) -> nn.Module:
    """The transformers *ForCausalLM under any peft/DDP wrapper."""
    while hasattr(model, "module"):  # DDP / accelerate wrappers
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def backbone_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """(decoder giving final, normed hidden states; lm_head Linear) of a causal LM, LoRA layers included."""
    lm = causal_lm(model)
    return getattr(lm, lm.base_model_prefix), lm.get_output_embeddings()


def hidden_states(backbone: nn.Module, batch: dict) -> Tensor:
    """Final hidden states (B, T, H) of a padded batch (attention_mask) or a packed one (cu_seqlens)."""
    keys = (
        "attention_mask",
        "position_ids",
        "cu_seq_lens_q",
        "cu_seq_lens_k",
        "max_length_q",
        "max_length_k",
    )
    kwargs = {k: batch[k] for k in keys if k in batch}
    return backbone(input_ids=batch["input_ids"], use_cache=False, **kwargs).last_hidden_state


def trained_weight(batch: dict) -> Tensor:
    """Σ w over the tokens a batch trains on (labels shifted as PKTLoss shifts them): () fp32."""
    labels = batch["labels"][:, 1:]
    return (batch["token_weights"][:, 1:].float() * (labels != -100)).sum()


class PKTLoss(nn.Module):
    """forward(batch, normalizer=None) -> PKT loss via the fused lm_head cross-entropy (no logits).

    normalizer=None: Σ w·ℓ / Σ w over this batch's trained tokens. normalizer=W: Σ w·ℓ / W, so that the
    micro-batches and processes sharing one optimizer step all divide by the step's total weight W (the PKT
    objective of the whole step, as one big batch gives) instead of averaging per-micro-batch means.

    Wrapping the policy in a module whose forward is the whole loss lets DDP/FSDP (through accelerate) see one
    forward per step, so gradient all-reduce works although we bypass the model's own logits path.
    """

    def __init__(self, policy: nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, batch: dict, normalizer: Tensor | float | None = None) -> Tensor:
        from tl_fast.losses import fused_linear_cross_entropy

        backbone, head = backbone_and_head(self.policy)
        h = hidden_states(backbone, batch)
        # position t predicts token t+1: shift labels/weights left by one
        h = h[:, :-1].reshape(-1, h.shape[-1])
        labels = batch["labels"][:, 1:].reshape(-1)
        weights = batch["token_weights"][:, 1:].reshape(-1).float()  # all 1 when PKT is off
        loss = fused_linear_cross_entropy(
            h, head.weight, labels, weights, bias=getattr(head, "bias", None), reduction="weighted_mean"
        )
        if normalizer is None:
            return loss
        return loss * (trained_weight(batch) / normalizer)  # = Σ w·ℓ / normalizer (0 when Σ w = 0)


class Critic(nn.Module):
    """Value model: a copy of the SFT policy's decoder plus a scalar head, V(s_t) for every position t."""

    def __init__(self, policy: nn.Module):
        super().__init__()
        backbone, head = backbone_and_head(policy)
        self.backbone = copy.deepcopy(backbone)
        self.value_head = nn.Linear(head.weight.shape[1], 1, device=head.weight.device, dtype=torch.float32)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)
        self.source_fingerprint = parameter_fingerprint(backbone)

    def verify_initialized_from(self, policy: nn.Module) -> None:
        """Fails loudly unless the critic's decoder is the SFT policy's (the authors' stayed random)."""
        got = parameter_fingerprint(self.backbone)
        if not torch.allclose(got, self.source_fingerprint) or not torch.allclose(
            got, parameter_fingerprint(backbone_and_head(policy)[0])
        ):
            raise RuntimeError("critic decoder weights differ from the SFT policy they were copied from")

    def forward(self, batch: dict) -> Tensor:
        h = hidden_states(self.backbone, batch)
        return self.value_head(h.float()).squeeze(-1)


@torch.no_grad()
def parameter_fingerprint(module: nn.Module) -> Tensor:
    """(n_params, 2) fp64 [sum, sum of squares] per parameter: cheap, order-stable identity check."""
    rows = [torch.stack([p.double().sum(), p.double().square().sum()]) for p in module.parameters()]
    return torch.stack(rows).cpu()
