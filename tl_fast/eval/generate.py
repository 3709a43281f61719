"""Batched greedy generation with a Hugging Face causal LM (left padding, KV cache).

    model, tokenizer = load_model("path/to/checkpoint")
    texts = generate(model, tokenizer, prompts, batch_size=16, max_new_tokens=256)

Prompts are sorted by length so each batch pads little; outputs come back in the caller's order, decoded
without the prompt and cut at the first stop string. Prompts that do not fit the model's context follow the
rule in `generate` (skipped, or generated alone up to the context's end) and are counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from tl_fast.eval._progress import Progress
from tl_fast.eval.stops import STOP_STRINGS, cut_at_stop

__all__ = [
    "STOP_STRINGS",
    "cut_at_stop",
    "generate",
    "load_model",
    "model_context",
    "render_chat_prompt",
    "render_prompt",
]


def load_model(path: str, *, dtype: str = "auto", device: str | None = None, base_model: str | None = None):
    """(model, tokenizer) from a checkpoint folder or hub id; a peft adapter folder is merged into its base.

    dtype: any spelling tl_fast._cli accepts (auto = bf16 on CUDA, fp32 elsewhere, as in the trainer).
    device: auto | cpu | cuda | cuda:N (None = auto). base_model: the base of an adapter whose
    adapter_config.json has no base_model_name_or_path (or to override it).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tl_fast._cli import UserError, check_model_path, torch_dtype

    device = device if device not in (None, "auto") else ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dt = torch_dtype(dtype, torch.device(device).type)
    adapter = _adapter_config(path)
    if adapter is None:
        if base_model:
            raise UserError(f"--base-model applies to a LoRA adapter folder; {path} is a whole model")
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dt)
        tokenizer_path = path
    else:
        from peft import PeftModel

        base = base_model or adapter.get("base_model_name_or_path")
        if not base:
            raise UserError(
                f"--model {path} is a LoRA adapter whose adapter_config.json names no base model "
                "(base_model_name_or_path is null); give --base-model PATH, or evaluate the merged "
                "model the trainer wrote beside it (<run>/final/policy)"
            )
        base = check_model_path(base, "--base-model" if base_model else f"{path}: base_model_name_or_path")
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dt)
        model = PeftModel.from_pretrained(model, path).merge_and_unload()
        tokenizer_path = path if _has_tokenizer(path) else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def _adapter_config(path: str) -> dict | None:
    """The adapter_config.json of a peft adapter (folder or hub id), or None for a whole model."""
    folder = Path(path)
    if folder.is_dir():
        config = folder / "adapter_config.json"
        return json.loads(config.read_text(encoding="utf-8")) if config.is_file() else None
    try:
        from peft import PeftConfig

        return PeftConfig.from_pretrained(path).to_dict()
    except Exception:  # not an adapter on the hub (or peft absent): a plain checkpoint
        return None


def _has_tokenizer(path: str) -> bool:
    folder = Path(path)
    return any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


def model_context(model) -> int | None:
    """The longest sequence (prompt + answer) the model takes: config.max_position_embeddings, if set."""
    value = getattr(model.config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    stop: Sequence[str] = (),
    progress: bool = False,
    context: int | None = None,
    stats: dict | None = None,
) -> list[str | None]:
    """Greedy completions of `prompts` (strings, already rendered with the chat template).

    With `context` (model_context(model)), the documented rule for long prompts: a prompt of `context`
    tokens or more is skipped (its output is None); one that leaves fewer than `max_new_tokens` for the
    answer is generated alone, stopping at the context's end. `stats` (a dict) receives the indices as
    "skipped" and "shortened".
    """
    if tokenizer.padding_side != "left":
        raise ValueError("generation needs tokenizer.padding_side == 'left' (load_model sets it)")
    device = next(model.parameters()).device
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    limit = context if context is not None else float("inf")
    skipped = [i for i, n in enumerate(lengths) if n >= limit]
    shortened = [i for i, n in enumerate(lengths) if n < limit and n + max_new_tokens > limit]
    rest = sorted(set(range(len(prompts))) - set(skipped) - set(shortened), key=lambda i: -lengths[i])
    batches = [(rest[s : s + batch_size], max_new_tokens) for s in range(0, len(rest), batch_size)]
    batches += [([i], int(limit) - lengths[i]) for i in shortened]
    if stats is not None:
        stats.update(skipped=skipped, shortened=shortened, lengths=lengths)
    outputs: list[str | None] = [None] * len(prompts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with Progress(len(prompts), "generate", enabled=progress) as bar:
        bar.update(len(skipped))
        for index, new_tokens_cap in batches:
            enc = tokenizer(
                [prompts[i] for i in index], return_tensors="pt", padding=True, add_special_tokens=False
            )
            enc = {k: v.to(device) for k, v in enc.items()}
            out = model.generate(
                **enc,
                do_sample=False,
                max_new_tokens=new_tokens_cap,
                use_cache=True,
                pad_token_id=pad_id,
                temperature=None,
                top_p=None,
                top_k=None,
            )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for i, text in zip(index, texts, strict=True):
                outputs[i] = cut_at_stop(text, stop)
            bar.update(len(index))
    return outputs


def render_prompt(item, tokenizer, config=None) -> str:
    """The prompt of `item` rendered exactly as training renders a sample's prompt (tl_fast.data.render).

    The benchmark's own system prompt is not used: the renderer writes the tool list in the trained style
    (`config`: a tl_fast.data.config.RenderConfig; default RenderConfig()).
    """
    from tl_fast.data.config import RenderConfig
    from tl_fast.data.render import render_prompt as render
    from tl_fast.data.types import Message

    history = [Message(m["role"], m["content"]) for m in item.messages if m["role"] in ("user", "assistant")]
    return render(item.tools, history, config or RenderConfig(), tokenizer)


def render_chat_prompt(benchmark: str, item, tokenizer) -> str:
    """Chat mode: the prompt a server builds for /v1/chat/completions (tokenizer's chat template, tools=)."""
    from tl_fast._cli import UserError
    from tl_fast.eval.chat import chat_request

    if not getattr(tokenizer, "chat_template", None):
        raise UserError("--mode chat needs a tokenizer with a chat template; this one has none")
    request = chat_request(benchmark, item)
    return tokenizer.apply_chat_template(
        request.messages, tools=request.tools, add_generation_prompt=True, tokenize=False
    )
