"""RL experience: batched rollouts with a KV cache, rule rewards from a reward scheme, log-probs, values.

One `Experience` holds a rollout's sequences and every per-token tensor the RL stage needs, (B, R) over the
response. Critic-free algorithms (GRPO, DAPO, Dr. GRPO) roll out without a critic: `values` is None.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from tl_fast.train.config import PPOConfig
from tl_fast.train.model import backbone_and_head, causal_lm, hidden_states


@dataclass
class PromptItem:
    """A PPO prompt: rendered text up to the assistant's turn, the offered tools and the gold call."""

    prompt: str
    tools: list[dict]
    gold: object  # canonical call string or {"name", "arguments"}


@dataclass
class Experience:
    sequences: Tensor  # (B, P+R) int64, prompts left-padded
    attention_mask: Tensor  # (B, P+R) 1 on real tokens
    response_mask: Tensor  # (B, R) 1 on generated tokens up to and including EOS
    logprobs: Tensor  # (B, R) fp32, policy at rollout time
    ref_logprobs: Tensor  # (B, R) fp32, SFT policy
    values: Tensor | None  # (B, R) fp32, critic at rollout time; None without a critic
    scores: Tensor  # (B,) fp32 rule reward per sample
    categories: list[str]
    texts: list[str]
    finished: Tensor | None = None  # (B,) bool: the response ended with EOS (False: cut at max_new_tokens)

    @property
    def prompt_len(self) -> int:
        return self.sequences.shape[1] - self.response_mask.shape[1]

    def select(self, idx: Tensor) -> Experience:
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        ids = idx.tolist()
        return Experience(
            pick(self.sequences),
            pick(self.attention_mask),
            pick(self.response_mask),
            pick(self.logprobs),
            pick(self.ref_logprobs),
            pick(self.values),
            pick(self.scores),
            [self.categories[i] for i in ids],
            [self.texts[i] for i in ids],
            pick(self.finished),
        )

    @staticmethod
    def concat(parts: list[Experience], pad_id: int) -> Experience:
        """The rows of several rollouts: prompts re-padded on the left, responses on the right."""
        if len(parts) == 1:
            return parts[0]
        P = max(e.prompt_len for e in parts)
        R = max(e.response_mask.shape[1] for e in parts)

        def full(e: Experience, t: Tensor, value) -> Tensor:  # (B, P+R) rows
            return torch.nn.functional.pad(t, (P - e.prompt_len, R - e.response_mask.shape[1]), value=value)

        def response(e: Experience, t: Tensor | None) -> Tensor | None:  # (B, R) rows
            return None if t is None else torch.nn.functional.pad(t, (0, R - t.shape[1]), value=0)

        def cat(tensors: list) -> Tensor | None:
            return None if any(t is None for t in tensors) else torch.cat(tensors)

        return Experience(
            cat([full(e, e.sequences, pad_id) for e in parts]),
            cat([full(e, e.attention_mask, 0) for e in parts]),
            cat([response(e, e.response_mask) for e in parts]),
            cat([response(e, e.logprobs) for e in parts]),
            cat([response(e, e.ref_logprobs) for e in parts]),
            cat([response(e, e.values) for e in parts]),
            torch.cat([e.scores for e in parts]),
            [c for e in parts for c in e.categories],
            [t for e in parts for t in e.texts],
            cat([e.finished for e in parts]),
        )


def minibatch_indices(batch: int, minibatch: int, epochs: int, generator, device) -> Iterator[Tensor]:
    """`epochs` shuffled passes over the rows of a rollout, `minibatch` rows at a time: index tensors on
    `device`, each pass's order drawn from `generator` (on the CPU, so alike on every process)."""
    for _ in range(epochs):
        order = torch.randperm(batch, generator=generator)
        for start in range(0, batch, minibatch):
            yield order[start : start + minibatch].to(device)


def model_inputs(sequences: Tensor, attention_mask: Tensor) -> dict:
    # Left padding: positions count real tokens only, as generate() did when it sampled the response.
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": sequences, "attention_mask": attention_mask, "position_ids": position_ids}


def response_logprobs(policy, sequences: Tensor, attention_mask: Tensor, response_len: int) -> Tensor:
    """(B, R) fp32 log p(token) of the response tokens, from hidden states and the fused lm_head kernel."""
    from tl_fast.rl import fused_linear_logprobs

    backbone, head = backbone_and_head(policy)
    h = hidden_states(backbone, model_inputs(sequences, attention_mask))
    h = h[:, -response_len - 1 : -1]  # position t predicts token t+1
    tokens = sequences[:, -response_len:]
    lp = fused_linear_logprobs(h.reshape(-1, h.shape[-1]), head.weight, tokens.reshape(-1))
    return lp.view(tokens.shape)


class PolicyLogprobs(torch.nn.Module):
    """forward(sequences, attention_mask, response_len) -> (B, R) response log-probs of `policy`.

    The PPO update calls the policy through this module, so a DDP wrapper around it sees the forward that
    precedes each backward and all-reduces the gradients (as PKTLoss does for SFT).
    """

    def __init__(self, policy: torch.nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, sequences: Tensor, attention_mask: Tensor, response_len: int) -> Tensor:
        return response_logprobs(self.policy, sequences, attention_mask, response_len)


def response_values(critic, sequences: Tensor, attention_mask: Tensor, response_len: int) -> Tensor:
    values = critic(model_inputs(sequences, attention_mask))
    return values[:, -response_len - 1 : -1]  # V of the state before each response token


def _response_mask(responses: Tensor, eos_ids: set[int], pad_id: int) -> tuple[Tensor, Tensor]:
    """(B, R) mask of the tokens up to and including the first EOS, and (B,) bool: an EOS was generated."""
    is_eos = torch.zeros_like(responses, dtype=torch.bool)
    for e in eos_ids:
        is_eos |= responses == e
    after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0
    mask = ~after_eos
    if pad_id not in eos_ids:
        mask &= responses != pad_id
    return mask.long(), is_eos.any(-1)


@torch.no_grad()
def generate_experience(
    policy, ref_policy, critic, tokenizer, items: list[PromptItem], cfg: PPOConfig, scheme
) -> Experience:
    """Samples responses (KV cache), scores them with `scheme` (tl_fast.reward.schemes), records log-probs
    and, with a critic, values.

    `ref_policy=None` means LoRA: the reference is the same model with its adapters disabled; `critic=None`
    (GRPO and relatives) leaves `values` None.
    """
    device = next(policy.parameters()).device
    tokenizer.padding_side = "left"
    enc = tokenizer([it.prompt for it in items], return_tensors="pt", padding=True, add_special_tokens=False)
    prompt_ids, prompt_mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
    lm = causal_lm(policy)
    was_training = lm.training
    lm.eval()
    gen_kwargs = (
        {"do_sample": False}
        if cfg.greedy
        else {"do_sample": True, "temperature": cfg.temperature, "top_k": 0, "top_p": 1.0}
    )
    out = lm.generate(
        input_ids=prompt_ids,
        attention_mask=prompt_mask,
        max_new_tokens=cfg.max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        use_cache=True,
        **gen_kwargs,
    )
    lm.train(was_training)
    responses = out[:, prompt_ids.shape[1] :]
    response_mask, finished = _response_mask(responses, {tokenizer.eos_token_id}, tokenizer.pad_token_id)
    # a response that is all padding (generation ended at once) still gets one scored token
    response_mask[:, 0] = 1
    attention_mask = torch.cat([prompt_mask, response_mask], dim=1)
    texts = [
        tokenizer.decode(r[m.bool()], skip_special_tokens=True)
        for r, m in zip(responses, response_mask, strict=True)
    ]
    scored = scheme.score(texts, [it.tools for it in items], [it.gold for it in items])
    scores = torch.tensor([s.reward for s in scored], dtype=torch.float32, device=device)

    R = responses.shape[1]
    logprobs = response_logprobs(policy, out, attention_mask, R)
    if ref_policy is None:
        with policy.disable_adapter():
            ref_logprobs = response_logprobs(policy, out, attention_mask, R)
    else:
        ref_logprobs = response_logprobs(ref_policy, out, attention_mask, R)
    m = response_mask.float()
    values = None if critic is None else response_values(critic, out, attention_mask, R).float() * m
    return Experience(
        out,
        attention_mask,
        response_mask,
        logprobs * m,
        ref_logprobs * m,
        values,
        scores,
        [s.verdict.category for s in scored],
        texts,
        finished,
    )
