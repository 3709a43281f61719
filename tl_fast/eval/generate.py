"""Batched greedy generation with a Hugging Face causal LM (left padding, KV cache).

    model, tokenizer = load_model("path/to/checkpoint")
    texts = generate(model, tokenizer, prompts, batch_size=16, max_new_tokens=256)

Prompts are sorted by length so each batch pads little; outputs come back in the caller's order, decoded
without the prompt and cut at the first stop string.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def load_model(path: str, *, dtype: str = "auto", device: str | None = None):
    """(model, tokenizer) from a checkpoint directory or hub id; a peft adapter directory is merged in."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        from peft import AutoPeftModelForCausalLM, PeftConfig

        PeftConfig.from_pretrained(path)
    except Exception:  # not an adapter directory (or peft absent): a plain checkpoint
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    else:
        model = AutoPeftModelForCausalLM.from_pretrained(path, dtype=torch_dtype).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


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
) -> list[str]:
    """Greedy completions of `prompts` (strings, already rendered with the chat template)."""
    if tokenizer.padding_side != "left":
        raise ValueError("generation needs tokenizer.padding_side == 'left' (load_model sets it)")
    device = next(model.parameters()).device
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    outputs: list[str] = [""] * len(prompts)
    batches = range(0, len(order), batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="generate", unit="batch")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for start in batches:
        index = order[start : start + batch_size]
        enc = tokenizer(
            [prompts[i] for i in index], return_tensors="pt", padding=True, add_special_tokens=False
        )
        enc = {k: v.to(device) for k, v in enc.items()}
        out = model.generate(
            **enc,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            use_cache=True,
            pad_token_id=pad_id,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        new_tokens = out[:, enc["input_ids"].shape[1] :]
        for i, text in zip(index, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True):
            outputs[i] = cut_at_stop(text, stop)
    return outputs


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest stop string (exclusive)."""
    cut = len(text)
    for s in stop:
        pos = text.find(s)
        if 0 <= pos < cut:
            cut = pos
    return text[:cut]


# A first-turn answer ends where the model starts writing the next turn itself (paper template or ReAct).
STOP_STRINGS = ("\nOutput:", "\nUser:", "\nSystem:", "\nObservation:")


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
