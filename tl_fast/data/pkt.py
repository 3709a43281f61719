"""PKT (prioritizing key tokens): token ids, labels on the trained turn, per-token weights for the loss.

    enc = encode_sample(sample, tokenizer)                   # {"input_ids", "labels", "token_weights", ...}
    print(show_weights(enc, tokenizer))                      # the trained tokens with their weights
    ds = build_sft_dataset(samples, tokenizer, RenderConfig(), PKTConfig(), num_proc=4)

Key tokens of a target call (all found through the tokenizer's offset mapping over the rendered text):
  - the first token of the chosen tool's name;
  - for every other offered tool whose name, tokenized in the same context, starts with the same token(s):
    the first token where the two token sequences diverge (the token after the name when one name is a
    prefix of the other, e.g. "(" for get vs get_all);
  - optionally (PKTConfig.arg_name_keys) the tokens of each argument name.
With K key tokens among T trained tokens, key tokens get w = clip((T - K) / K, 1, w_max) and every other
trained token 1 (paper, Sec. PKT; w_max = 9). Untrained positions have label -100 and weight 0, so the loss
sum(w * l) / sum(w) over all positions is the paper's weighted mean. Columns are aligned with input_ids:
labels[i] and token_weights[i] belong to predicting input_ids[i]; shift all three together for a causal LM.
"""

from __future__ import annotations

from typing import Any

from tl_fast.data.config import PKTConfig, RenderConfig
from tl_fast.data.render import RenderedCall, RenderedSample, render_sample
from tl_fast.data.types import Sample, Tool

IGNORE_INDEX = -100
_TAIL_CHARS = 3  # text after the name tokenized with it, so "get" vs "get_all" can diverge at "("


def _check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            f"{type(tokenizer).__name__} has no offset mapping; PKT needs a fast (Rust) tokenizer"
        )


def _covering(offsets: list[tuple[int, int]], char: int) -> int | None:
    """Index of the first non-empty token ending after `char` (the one containing it, or the next)."""
    for i, (s, e) in enumerate(offsets):
        if e > s and e > char:
            return i
    return None


def _lcp(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def call_key_tokens(
    text: str,
    offsets: list[tuple[int, int]],
    call: RenderedCall,
    tools: list[Tool],
    tokenizer,
    cfg: PKTConfig,
) -> set[int]:
    """Indices (into `offsets`) of the key tokens of one rendered call inside the full `text`."""
    ns, ne = call.name_span
    first = _covering(offsets, ns)
    keys = {first} if first is not None else set()
    others = [t.name for t in tools if t.name != call.name]
    if others and first is not None:
        # Tokenize the chosen and each other name in the same local context (the line up to the name, a few
        # characters after it), compare token ids, and map the first differing token back by its characters.
        line = text.rfind("\n", 0, ns) + 1
        ctx, tail = text[line:ns], text[ne : ne + _TAIL_CHARS]
        batch = tokenizer(
            [ctx + call.name + tail] + [ctx + o + tail for o in others],
            add_special_tokens=False,
            return_offsets_mapping=True,
        )
        seqs = []
        for ids, offs in zip(batch["input_ids"], batch["offset_mapping"], strict=True):
            k = _covering(offs, len(ctx))
            seqs.append((ids[k:], offs[k:]) if k is not None else ([], []))
        chosen_ids, chosen_offs = seqs[0]
        for alt_ids, _ in seqs[1:]:
            d = _lcp(chosen_ids, alt_ids)
            if 0 < d < len(chosen_ids):
                j = _covering(offsets, line + chosen_offs[d][0])
                if j is not None:
                    keys.add(j)
    if cfg.arg_name_keys:
        for arg in call.args:
            a0, a1 = arg.name_span
            keys.update(i for i, (s, e) in enumerate(offsets) if e > s and s < a1 and e > a0)
    return keys


def encode_sample(
    sample: Sample, tokenizer, render: RenderConfig | None = None, pkt: PKTConfig | None = None
) -> dict[str, Any]:
    """input_ids (T,) int, labels (T,) int (-100 off the target turn), token_weights (T,) float,
    key_positions."""
    _check_fast(tokenizer)
    render, pkt = render or RenderConfig(), pkt or PKTConfig()
    r: RenderedSample = render_sample(sample, render, tokenizer)
    enc = tokenizer(r.text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    t0, t1 = r.target_span
    trained = [e > s and s < t1 and e > t0 for s, e in offsets]
    if r.append_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("the paper template ends the trained turn with EOS, but the tokenizer has none")
        ids.append(tokenizer.eos_token_id)
        offsets.append((len(r.text), len(r.text)))
        trained.append(True)
    if not any(trained) or trained[0]:
        raise ValueError(f"sample {sample.id}: the trained turn must be non-empty and follow a prompt")
    keys: set[int] = set()
    if pkt.enabled:
        for call in r.calls:
            keys |= call_key_tokens(r.text, offsets, call, sample.tools, tokenizer, pkt)
        keys = {k for k in keys if trained[k]}
    n_trained = sum(trained)
    w_key = min(max((n_trained - len(keys)) / len(keys), 1.0), pkt.w_max) if keys else 1.0
    weights = [(w_key if i in keys else 1.0) if t else 0.0 for i, t in enumerate(trained)]
    labels = [tok if t else IGNORE_INDEX for tok, t in zip(ids, trained, strict=True)]
    return {
        "id": sample.id,
        "input_ids": ids,
        "labels": labels,
        "token_weights": weights,
        "key_positions": sorted(keys),
    }


def show_weights(example: dict[str, Any], tokenizer, context: int = 6) -> str:
    """The trained tokens of an encoded sample with their weights, key tokens starred (for humans)."""
    ids, labels, weights = example["input_ids"], example["labels"], example["token_weights"]
    first = next(i for i, lab in enumerate(labels) if lab != IGNORE_INDEX)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    lines = [
        f"{example.get('id', '')}: {len(ids)} tokens, {sum(lab != IGNORE_INDEX for lab in labels)} trained"
    ]
    lines.append("  ... " + " ".join(repr(t) for t in tokens[max(0, first - context) : first]))
    for i in range(first, len(ids)):
        if labels[i] == IGNORE_INDEX:
            continue
        star = "*" if weights[i] != 1.0 else " "
        lines.append(f"  {i:5d} {star} w={weights[i]:<5.2f} {tokens[i]!r}")
    return "\n".join(lines)


def _encode_row(row: dict[str, Any], tokenizer, render: RenderConfig, pkt: PKTConfig) -> dict[str, Any]:
    enc = encode_sample(Sample.from_dict(row), tokenizer, render, pkt)
    enc["num_key"] = len(enc.pop("key_positions"))
    return enc


def build_sft_dataset(
    samples: list[Sample],
    tokenizer,
    render: RenderConfig | None = None,
    pkt: PKTConfig | None = None,
    num_proc: int | None = None,
):
    """A `datasets.Dataset` with columns id, input_ids, labels, token_weights, num_key (one row per
    sample)."""
    import datasets

    _check_fast(tokenizer)
    ds = datasets.Dataset.from_list([s.to_dict() for s in samples])
    return ds.map(
        _encode_row,
        fn_kwargs={"tokenizer": tokenizer, "render": render or RenderConfig(), "pkt": pkt or PKTConfig()},
        remove_columns=[c for c in ds.column_names if c != "id"],
        num_proc=num_proc,
        desc="render + tokenize + PKT weights",
    )


def drop_long(ds, max_length: int, num_proc: int | None = None):
    """(rows of `ds` with at most max_length tokens, how many were dropped)."""
    kept = ds.filter(
        lambda ids: len(ids) <= max_length, input_columns="input_ids", num_proc=num_proc, desc="max_length"
    )
    return kept, len(ds) - len(kept)
