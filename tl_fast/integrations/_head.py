"""The decoder's final hidden states and the lm_head as one (hidden, weight, bias) triple, for the fused loss.

    hidden = final_hidden_states(model, inputs)          # (B, T, H) from the model's own forward, no logits
    h, w, b, opts = head_projection(model, hidden)        # h @ w.T + b == the model's logits (LoRA included)

The forward goes through the outermost model (DDP/FSDP wrappers see it, so gradients are all-reduced) with
`logits_to_keep` set to no position, and a forward hook on the backbone takes its output: nothing is patched
and no (N, V) logits are made. `check_projection` compares the projection with the model's own logits once,
so a model that transforms its logits in a way not handled here fails loudly instead of training on a wrong
loss.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from tl_fast.train.model import causal_lm


def _keep_kwarg(lm: nn.Module) -> str | None:
    params = inspect.signature(type(lm).forward).parameters
    return next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)


def final_hidden_states(model: nn.Module, inputs: dict, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(last hidden state (B, T, H) of the backbone, the model's logits at positions `keep` (B, K, V)).

    keep: 1-D int64 positions whose logits the model should build (default: none). Models without a
    `logits_to_keep` argument build all logits (the result is then sliced): slower, never wrong.
    """
    lm = causal_lm(model)
    backbone = getattr(lm, lm.base_model_prefix)
    captured: list[Tensor] = []

    def grab(module, args, output):
        captured.append(output[0] if isinstance(output, tuple) else output.last_hidden_state)

    device = inputs["input_ids"].device
    positions = torch.empty(0, dtype=torch.long, device=device) if keep is None else keep.to(device)
    kwarg = _keep_kwarg(lm)
    if kwarg == "logits_to_keep":
        extra = {kwarg: positions}
    elif kwarg:  # transformers < 4.50 takes an int only: the last position (cheap), or all of them
        extra = {kwarg: 1 if keep is None else 0}
    else:
        extra = {}
    handle = backbone.register_forward_hook(grab)
    try:
        out = model(**{**inputs, "use_cache": False, **extra})
    finally:
        handle.remove()
    if len(captured) != 1:
        raise RuntimeError(f"expected one forward of {type(backbone).__name__}, saw {len(captured)}")
    logits = out.logits if kwarg == "logits_to_keep" else out.logits[:, positions]
    return captured[0], logits


def _lora_parts(
    head: nn.Module, hidden: Tensor
) -> tuple[nn.Module, list[Tensor], list[Tensor], list[Tensor]]:
    """peft LoRA on the head: logits = base(h) + sum_a s_a * B_a(A_a(dropout_a(h))) (lora.Linear.forward),
    written as extra hidden columns s_a * A_a(dropout_a(h)) against extra weight columns B_a.weight."""
    base = head.get_base_layer()
    hs, ws, bs = [], [], []
    if head.disable_adapters or head.merged:
        return base, hs, ws, bs
    for name in head.active_adapters:
        if name not in head.lora_A:
            continue
        if name in getattr(head, "lora_variant", {}) or getattr(head, "use_dora", {}).get(name):
            raise NotImplementedError(
                f"adapter {name!r} on lm_head is a LoRA variant (DoRA, ...): the fused loss handles plain "
                "LoRA only; leave lm_head out of target_modules or merge the adapter first"
            )
        lora_a, lora_b, scale = head.lora_A[name], head.lora_B[name], head.scaling[name]
        x = head.lora_dropout[name](hidden.to(lora_a.weight.dtype))
        hs.append((lora_a(x) * scale).to(hidden.dtype))
        ws.append(lora_b.weight)
        if lora_b.bias is not None:
            bs.append(lora_b.bias * scale)
    return base, hs, ws, bs


def _resolve(head: nn.Module) -> nn.Module:
    """The module that computes the logits, through peft's modules_to_save wrapper."""
    if hasattr(head, "modules_to_save") and hasattr(head, "original_module"):
        active = [a for a in head.active_adapters if a in head.modules_to_save]
        if head.disable_adapters or not active:
            return head.original_module
        return head.modules_to_save[active[0]]
    return head


def logit_options(lm: nn.Module) -> tuple[float, float | None]:
    """(multiplier applied to the logits before any softcap, final softcap) from the model config, as TRL's
    `add_fused_lm_head` (trl/trainer/utils.py) reads them: Gemma's final_logit_softcapping, Cohere's
    logit_scale, Granite's 1/logits_scaling, Falcon-H1's lm_head_multiplier."""
    cfg = lm.config.get_text_config() if hasattr(lm.config, "get_text_config") else lm.config
    scale = getattr(cfg, "logit_scale", None)
    for name in ("output_multiplier", "lm_head_multiplier"):
        scale = getattr(cfg, name, None) if scale is None else scale
    if scale is None and getattr(cfg, "logits_scaling", None) is not None:
        scale = cfg.logits_scaling if cfg.model_type == "hyperclovax" else 1 / cfg.logits_scaling
    return (1.0 if scale is None else float(scale)), getattr(cfg, "final_logit_softcapping", None)


def head_projection(model: nn.Module, hidden: Tensor) -> tuple[Tensor, Tensor, Tensor | None, float | None]:
    """(h, weight, bias, softcap) with softcap(h @ weight.T + bias) the model's logits for `hidden` (..., H).

    Handles nn.Linear heads (tied embeddings share the Parameter, so both uses get their gradient), peft LoRA
    on lm_head (concatenated columns: exact, dropout included) and peft modules_to_save copies.
    """
    lm = causal_lm(model)
    head = _resolve(lm.get_output_embeddings())
    extra_h, extra_w, extra_b = [], [], []
    if hasattr(head, "lora_A") and hasattr(head, "get_base_layer"):
        head, extra_h, extra_w, extra_b = _lora_parts(head, hidden)
    elif hasattr(head, "get_base_layer") or hasattr(head, "original_module"):
        raise NotImplementedError(
            f"{type(head).__name__} on lm_head is not supported by the fused PKT loss (plain LoRA and "
            "modules_to_save are); merge it first or leave lm_head out of the adapter"
        )
    if not isinstance(head, nn.Linear):
        raise TypeError(f"the output embedding must be an nn.Linear, got {type(head).__name__}")
    weight, bias = head.weight, head.bias
    if extra_h:
        hidden = torch.cat([hidden, *extra_h], dim=-1)
        weight = torch.cat([weight, *(w.to(weight.dtype) for w in extra_w)], dim=1)
        if extra_b:
            zero = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
            bias = (zero if bias is None else bias) + sum(b.to(weight.dtype) for b in extra_b)
    scale, softcap = logit_options(lm)
    if scale != 1.0:
        hidden = hidden * scale
        bias = None if bias is None else bias * scale
    return hidden, weight, bias, softcap


@torch.no_grad()
def check_projection(model: nn.Module, inputs: dict, mixed_precision: bool = False) -> None:
    """Raises unless head_projection reproduces the model's own logits at a few positions of `inputs`
    (one extra forward in eval mode, so dropout masks cannot differ). mixed_precision: the model's forward
    runs under autocast (accelerate wraps it), so its logits are rounded to bf16/fp16."""
    was_training = model.training
    model.eval()
    try:
        T = inputs["input_ids"].shape[-1]
        keep = torch.unique(torch.tensor([0, T // 2, T - 1]))
        hidden, theirs = final_hidden_states(model, inputs, keep)
        h, w, b, softcap = head_projection(model, hidden[:, keep.to(hidden.device)])
        ours = torch.nn.functional.linear(h.float(), w.float(), None if b is None else b.float())
        if softcap is not None:
            ours = softcap * torch.tanh(ours / softcap)
    finally:
        model.train(was_training)
    # bf16/fp16 weights or autocast (mixed precision) round the model's logits: a looser bound there
    exact = hidden.dtype == theirs.dtype == torch.float32 and not mixed_precision
    tol = 1e-3 if exact else 3e-2
    theirs = theirs.float()
    err = (ours - theirs).abs().max().item()
    if not err <= tol * max(1.0, theirs.abs().max().item()):
        raise RuntimeError(
            f"{type(causal_lm(model)).__name__}: the fused PKT loss's lm_head projection differs from the "
            f"model's own logits (max |diff| = {err:.3g}); this model transforms its logits in a way tl_fast "
            "does not handle, so training with it would optimize the wrong loss"
        )
