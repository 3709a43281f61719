"""PKT-SFT inside the HF `Trainer`: a collator that renders tool-use rows with PKT weights, and a Trainer
whose loss is tl_fast's fused, token-weighted cross-entropy over the whole optimizer step.

    from tl_fast.integrations.transformers import PKTCollator, PKTTrainer
    collator = PKTCollator(tokenizer)                    # rows -> input_ids, labels, token_weights (+ stats)
    trainer = PKTTrainer(model=model, args=TrainingArguments("out"), train_dataset=ds, data_collator=collator)
    trainer.train()

The loss. `Trainer(compute_loss_func=...)` only sees the model's outputs (full logits) and labels, so it
can neither skip the logits nor see per-token weights. PKTTrainer overrides `compute_loss`: the model's own
forward runs with `logits_to_keep` set to no position, a hook takes the backbone's final hidden states, and
`tl_fast.fused_linear_cross_entropy(hidden, lm_head.weight, labels, token_weights)` computes the loss without
the (N, V) logits. As transformers does with `num_items_in_batch` for token counts, `get_batch_samples` sums
the PKT weights of every micro-batch of the optimizer step (and, with `average_tokens_across_devices`, of
every process), so each micro-batch contributes sum(w * l) / W_step: gradient accumulation and DDP give the
gradient of one big batch, sum(w * l) / sum(w) over the whole step.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import torch
from jinja2 import TemplateError
from torch import Tensor
from transformers import Trainer

from tl_fast.data import (
    IGNORE_INDEX,
    MAEConfig,
    PKTConfig,
    RenderConfig,
    Sample,
    collate_packed,
    collate_padded,
)
from tl_fast.data.formats import MalformedRecord, parse_record
from tl_fast.data.mae import mae_split
from tl_fast.data.pkt import _check_fast, encode_sample
from tl_fast.integrations._head import check_projection, final_hidden_states, head_projection
from tl_fast.integrations._reward import drop_nulls, read_json_field
from tl_fast.losses import fused_linear_cross_entropy

__all__ = ["STATS", "PKTCollator", "PKTLossMixin", "PKTTrainer"]

logger = logging.getLogger(__name__)

# Counters every collated batch carries in `pkt_stats` (in this order), so drops are seen by the trainer even
# when the collator runs in DataLoader worker processes.
STATS = (
    "rows",  # rows collated
    "rows_dropped",  # rows that gave no trainable sample (any reason below)
    "rows_malformed",  # unreadable records (tl_fast.data.formats reasons)
    "rows_no_sample",  # no assistant turn left to train (MAE dropped them all, or none)
    "samples",  # samples trained on
    "samples_too_long",  # longer than max_length: dropped, never truncated (a cut call teaches nothing)
    "samples_unrenderable",  # the chat template or call syntax cannot render it
    "turns_mae_dropped",  # assistant turns MAE removed (their call came back as an error)
)
_GIVE_UP = 8  # unrenderable samples before the first rendered one that make the collator stop
# Batch keys that are ours, not the model's.
_OWN_KEYS = ("labels", "token_weights", "pkt_stats", "cu_seqlens", "max_seqlen", "id")


class PKTCollator:
    """Rows -> {input_ids, labels, token_weights, attention_mask | position_ids + cu_seq_lens_*, pkt_stats}.

    Rows may be (any mix):
      - TRL conversational rows: {"messages": [...OpenAI messages with tool_calls and tool turns...],
        "tools": [JSON-schema tools]} or {"prompt": [...], "completion": [...], "tools": [...]};
      - tl_fast trajectory records (RoTLLaMA, TL-Training raw, OpenAI chat: tl_fast.data.formats);
      - tl_fast samples (`Sample.to_dict()`: already MAE-split) or rows of `tl_fast.data.build_sft_dataset`
        (input_ids, labels, token_weights), passed through.
    Each kept assistant turn becomes one sample (history + that turn): with `mae=True` turns whose tool call
    came back as an error are dropped (tl_fast.data.mae_split); `mae=False` keeps every turn, as the trainer
    does without its MAE stage. Samples are rendered with `render` (default: the tokenizer's own chat template
    when it has one, else TL-Training's), PKT weights come from offset mappings (tl_fast.data.encode_sample).
    Samples over `max_length` tokens and rows that cannot be rendered are dropped, counted in `pkt_stats` (see
    STATS) and logged once per reason; PKTTrainer / PKTSFTTrainer report the totals.

    Column selection: Trainer and TRL's SFTTrainer keep only the columns their signature names (SFTTrainer:
    input_ids, labels, seq_lengths), which would drop messages, tools and token_weights before the collator
    sees them. PKTTrainer and PKTSFTTrainer add this collator's `columns` to the kept ones (and SFTTrainer's
    own tokenization is skipped); with another trainer pass `remove_unused_columns=False`.
    """

    def __init__(
        self,
        tokenizer,
        render: RenderConfig | None = None,
        pkt: PKTConfig | None = None,
        *,
        mae: bool | MAEConfig = True,
        max_length: int | None = None,
        packing: bool = False,
        pad_to_multiple_of: int | None = None,
        format: str = "auto",
        tools_column: str = "tools",
    ):
        _check_fast(tokenizer)
        self.tokenizer = tokenizer
        if render is None:
            render = RenderConfig(chat_template="tokenizer" if tokenizer.chat_template else "paper")
        self.render, self.pkt = render, pkt or PKTConfig()
        if isinstance(mae, MAEConfig):
            self.mae = mae
        elif mae:
            self.mae = MAEConfig()
        else:  # every turn is trained on, as `python -m tl_fast.train` without the mae stage
            self.mae = MAEConfig(error_patterns=(), structured_errors=False)
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length={max_length}: a sample needs at least a prompt and a trained token")
        self.max_length, self.packing, self.pad_to_multiple_of = max_length, packing, pad_to_multiple_of
        self.format, self.tools_column = format, tools_column
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None and not packing:
            raise ValueError("the tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token")
        self.pad_token_id = 0 if pad is None else pad
        self.columns = (
            "messages", "prompt", "completion", tools_column, "conversations", "id", "source",
            "history", "target", "turn", "is_final", "input_ids", "labels", "token_weights",
        )  # fmt: skip
        self.stats: Counter = Counter()  # this process's totals
        self._warned: set[str] = set()
        self._first_render_error = ""

    # ---------------------------------------------------------------------------------------- one row

    def _drop(self, stats: Counter, key: str, row_id: str, detail: str) -> None:
        stats[key] += 1
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(
                "PKTCollator: %s (%s: %s); further ones are counted in pkt_stats, not logged",
                key,
                row_id,
                detail,
            )

    def _record(self, row: dict, where: str) -> tuple[dict, str]:
        if "messages" in row or ("prompt" in row and "completion" in row):
            if "messages" in row:
                messages = read_json_field(row["messages"], "messages", where)
            else:
                prompt = read_json_field(row["prompt"], "prompt", where)
                completion = read_json_field(row["completion"], "completion", where)
                if not isinstance(prompt, list) or not isinstance(completion, list):
                    raise MalformedRecord("bad_structure", "prompt/completion rows must be conversational")
                messages = prompt + completion
            tools = row.get(self.tools_column)
            tools = [] if tools is None else read_json_field(tools, "tools", where)
            return {"id": row.get("id", ""), "messages": drop_nulls(messages), "tools": tools}, "openai"
        return drop_nulls(row), self.format

    def samples_of(self, row: dict, stats: Counter, index: int = 0) -> list[Sample]:
        where = str(row.get("id") or f"row {index}")
        try:
            if "history" in row and "target" in row:
                return [Sample.from_dict(row)]
            record, fmt = self._record(row, where)
            traj, _ = parse_record(record, fmt)
        except (MalformedRecord, ValueError, KeyError, TypeError) as exc:
            self._drop(stats, "rows_malformed", where, f"{type(exc).__name__}: {exc}")
            return []
        traj.id = traj.id or where
        samples, report = mae_split([traj], self.mae)
        stats["turns_mae_dropped"] += sum(report.dropped.values())
        if not samples:
            self._drop(
                stats, "rows_no_sample", where, f"no trainable assistant turn ({dict(report.dropped)})"
            )
        return samples

    def encode(self, row: dict, stats: Counter | None = None, index: int = 0) -> list[dict[str, Any]]:
        """The encoded samples of one row (input_ids, labels, token_weights lists); drops go into `stats`."""
        stats = self.stats if stats is None else stats
        if "input_ids" in row:
            if "token_weights" not in row or "labels" not in row:
                raise ValueError(
                    "an encoded row needs labels and token_weights (as tl_fast.data.build_sft_dataset makes)"
                )
            encoded = [{k: row[k] for k in ("input_ids", "labels", "token_weights")}]
        else:
            encoded = []
            for sample in self.samples_of(row, stats, index):
                try:
                    enc = encode_sample(sample, self.tokenizer, self.render, self.pkt)
                except (ValueError, TemplateError) as exc:  # templates raise on role orders they refuse
                    self._drop(stats, "samples_unrenderable", sample.id, f"{type(exc).__name__}: {exc}")
                    self._first_render_error = self._first_render_error or f"{sample.id}: {exc}"
                    continue
                encoded.append(enc)
        kept = []
        for enc in encoded:
            if self.max_length is not None and len(enc["input_ids"]) > self.max_length:
                self._drop(
                    stats, "samples_too_long", str(enc.get("id", "")), f"{len(enc['input_ids'])} tokens"
                )
                continue
            kept.append({k: enc[k] for k in ("input_ids", "labels", "token_weights")})
        stats["rows"] += 1
        stats["samples"] += len(kept)
        stats["rows_dropped"] += not kept
        return kept

    # ---------------------------------------------------------------------------------------- a batch

    def __call__(self, rows: list[dict]) -> dict[str, Any]:
        stats: Counter = Counter()
        encoded = [e for i, row in enumerate(rows) for e in self.encode(row, stats, i)]
        self.stats.update(stats)
        if not self.stats["samples"] and self.stats["samples_unrenderable"] >= _GIVE_UP and stats:
            # not one sample rendered: the template or the call syntax suits none of the data
            raise ValueError(
                f"PKTCollator: the first {self.stats['samples_unrenderable']} samples could not be rendered "
                f"({self._first_render_error}); use a RenderConfig the chat template accepts, e.g. "
                "RenderConfig(chat_template='paper') or call_style='json'"
            )
        if (
            not encoded
        ):  # every row dropped: a batch that trains nothing (loss 0, no gradient) keeps DDP in step
            encoded = [
                {
                    "input_ids": [self.pad_token_id] * 2,
                    "labels": [IGNORE_INDEX] * 2,
                    "token_weights": [0.0] * 2,
                }
            ]
        if self.packing:
            batch = collate_packed(encoded)
            del batch["cu_seqlens"], batch["max_seqlen"]  # tl_fast's names; transformers reads cu_seq_lens_*
        else:
            batch = collate_padded(encoded, self.pad_token_id, self.pad_to_multiple_of)
        # (1, len(STATS)): batch-dimension concatenation (accelerate's dispatch_batches) still sums correctly
        batch["pkt_stats"] = torch.tensor([[stats[k] for k in STATS]], dtype=torch.long)
        return batch


# -------------------------------------------------------------------------------------------- the loss


def _shifted(batch: dict) -> tuple[Tensor, Tensor]:
    """(labels[:, 1:], weights[:, 1:] zeroed off the trained tokens): position t predicts token t+1."""
    labels = batch["labels"][..., 1:]
    valid = labels != IGNORE_INDEX
    weights = batch.get("token_weights")
    weights = valid.float() if weights is None else weights[..., 1:].float() * valid
    return labels, weights


class PKTLossMixin:
    """The PKT loss for a transformers Trainer subclass (PKTTrainer, tl_fast.integrations.trl.PKTSFTTrainer).

    After training, `pkt_report` holds the collator's STATS summed over steps and processes.
    """

    loss_is_scaled_for_ga = True  # compute_loss already divides by the whole step's weight
    _pkt_checked = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.n_gpu > 1:
            raise ValueError(
                f"{type(self).__name__} does not support nn.DataParallel (several GPUs in one process); "
                "launch with `accelerate launch` or `torchrun`, or make one GPU visible"
            )
        import transformers
        from packaging.version import Version

        if Version(transformers.__version__) < Version("5.19.0"):  # no loss_is_scaled_for_ga before 5.19
            self.model_accepts_loss_kwargs = True
        self.pkt_report: Counter = Counter()
        self._pkt_window = torch.zeros(2, dtype=torch.float64)  # (weight, trained tokens) since the last log
        self._pkt_warned_no_weights = False

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        extra = getattr(self.data_collator, "columns", ("token_weights",))
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *extra]))

    def get_batch_samples(self, epoch_iterator, num_batches, device=None):
        """The step's micro-batches and, as `num_items_in_batch`, their total PKT weight (summed over
        processes when `average_tokens_across_devices`)."""
        batches = []
        for _ in range(num_batches):
            try:
                batches.append(next(epoch_iterator))
            except StopIteration:
                break
        if not batches:
            return batches, None
        device = device or self.args.device
        totals = torch.zeros(2 + len(STATS), dtype=torch.float64, device=device)
        for batch in batches:
            _, weights = _shifted(batch)
            totals[0] += weights.sum().to(device, torch.float64)
            totals[1] += (weights > 0).sum().to(device, torch.float64)
            stats = batch.pop("pkt_stats", None)
            if stats is not None:
                totals[2:] += stats.reshape(-1, len(STATS)).sum(0).to(device, torch.float64)
        local_weight = totals[0].clone()
        if self.args.world_size > 1:
            totals = self.accelerator.gather(totals[None]).sum(0)
        self._pkt_window += totals[:2].cpu()
        self.pkt_report.update({k: int(v) for k, v in zip(STATS, totals[2:].tolist(), strict=True) if v})
        step_weight = totals[0] if self.args.average_tokens_across_devices else local_weight
        return batches, step_weight.float()

    def _pkt_loss(self, model, inputs: dict, step_weight: Tensor | None) -> Tensor:
        model_inputs = {k: v for k, v in inputs.items() if k not in _OWN_KEYS}
        if not self._pkt_checked:  # once: a model whose logits are transformed unknowingly fails here
            check_projection(model, model_inputs, mixed_precision=self.args.bf16 or self.args.fp16)
            self._pkt_checked = True
        if "token_weights" not in inputs and not self._pkt_warned_no_weights:
            self._pkt_warned_no_weights = True
            logger.warning("no token_weights in the batch: every trained token weighs 1 (plain SFT, not PKT)")
        hidden, _ = final_hidden_states(model, model_inputs)
        labels, weights = _shifted(inputs)
        h, w, b, softcap = head_projection(model, hidden[:, :-1])
        loss = fused_linear_cross_entropy(h, w, labels, weights, bias=b, softcap=softcap)  # sum(w l) / sum(w)
        if step_weight is None:
            return loss
        # sum(w l) / W_step for this micro-batch; DDP averages gradients over processes, hence * world size
        local = weights.sum()
        loss = loss * torch.where(step_weight > 0, local / step_weight.clamp(min=1e-12), 0.0)
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            loss = loss * self.args.world_size
        return loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs.pop("pkt_stats", None)
        step_weight = num_items_in_batch if model.training and torch.is_tensor(num_items_in_batch) else None
        loss = self._pkt_loss(model, inputs, step_weight)
        if return_outputs:  # callers that want logits (compute_metrics) pay one more forward, as in TRL
            with torch.no_grad():
                model_inputs = {k: v for k, v in inputs.items() if k not in _OWN_KEYS}
                outputs = model(**{**model_inputs, "use_cache": False})
            return loss, outputs
        return loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation: each batch's loss is its own weighted mean (no step total); logits on request."""
        inputs = self._prepare_inputs(inputs)
        inputs.pop("pkt_stats", None)
        labels = inputs.get("labels")
        with torch.no_grad(), self.compute_loss_context_manager():
            if prediction_loss_only:
                return self._pkt_loss(model, inputs, None).detach(), None, None
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
        return loss.detach(), outputs.logits, labels

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._pkt_window[1] > 0:  # training logs
            weight, tokens = self._pkt_window.tolist()
            logs["pkt/mean_weight"] = weight / tokens  # > 1 when key tokens weigh more
            logs["pkt/samples"] = float(self.pkt_report["samples"])
            logs["pkt/rows_dropped"] = float(self.pkt_report["rows_dropped"])
            self._pkt_window.zero_()
        super().log(logs, *args, **kwargs)

    def train(self, *args, **kwargs):
        result = super().train(*args, **kwargs)
        if self.pkt_report.get("rows_dropped") or self.pkt_report.get("samples_too_long"):
            lines = ", ".join(f"{k}={v}" for k, v in self.pkt_report.items())
            logger.warning("%s: rows or samples were dropped during training: %s", type(self).__name__, lines)
        return result


class PKTTrainer(PKTLossMixin, Trainer):
    """`transformers.Trainer` with the PKT loss (see the module docstring). Batches need `labels` and should
    carry `token_weights` (PKTCollator makes both); without weights every trained token weighs 1."""
