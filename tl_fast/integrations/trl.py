"""tl_fast in TRL: PKT-SFT as an `SFTTrainer`, the IRM rule reward as a `GRPOTrainer` reward function.

    pip install 'tl_fast[trl]'
    from tl_fast.integrations.trl import IRMReward, PKTSFTTrainer
    PKTSFTTrainer(model, args=SFTConfig("out"), train_dataset=ds, processing_class=tokenizer).train()
    GRPOTrainer(model, reward_funcs=[IRMReward()], args=GRPOConfig("out"), train_dataset=prompts).train()

PKTSFTTrainer is TRL's SFTTrainer with tl_fast's loss (tl_fast.integrations.transformers.PKTLossMixin: fused
lm_head cross-entropy, PKT weights, sum(w * l) / sum(w) over the whole optimizer step) and PKTCollator as its
collator. TRL's own dataset preparation (chat-template tokenization, truncation, packing) is skipped
(`dataset_kwargs={"skip_prepare_dataset": True}`): PKTCollator renders, weighs and packs instead
(`PKTCollator(tokenizer, packing=True)` for padding-free batches), and the columns it reads survive TRL's
column selection. TRL refuses a LoRA adapter on lm_head in SFTTrainer's constructor; PKTTrainer (the plain
transformers one) trains that case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    import trl
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("tl_fast.integrations.trl needs TRL: pip install 'tl_fast[trl]'") from exc

from tl_fast.integrations._reward import (
    RewardScheme,
    Scorer,
    category_shares,
    completion_text,
    read_gold,
    read_tools,
)
from tl_fast.integrations.transformers import PKTCollator, PKTLossMixin
from tl_fast.reward import RewardTable

__all__ = ["IRMReward", "PKTSFTTrainer"]


class PKTSFTTrainer(PKTLossMixin, trl.SFTTrainer):
    """`trl.SFTTrainer` with the PKT loss. `data_collator` defaults to `PKTCollator(processing_class)`;
    pass your own PKTCollator for MAE, rendering, max_length or packing options."""

    def __init__(self, model, args: trl.SFTConfig | None = None, data_collator=None, *posargs, **kwargs):
        tokenizer = kwargs.get("processing_class")
        if data_collator is None:
            if tokenizer is None:
                raise ValueError("PKTSFTTrainer needs processing_class=<a fast tokenizer> or a PKTCollator")
            data_collator = PKTCollator(tokenizer)
        if args is None:
            name = model if isinstance(model, str) else model.config._name_or_path or "model"
            args = trl.SFTConfig(f"{str(name).rstrip('/').split('/')[-1]}-PKT-SFT")
        if args.packing or args.padding_free:
            raise ValueError(
                "SFTConfig(packing=True / padding_free=True) is TRL's own collation, which drops "
                "token_weights; use PKTCollator(tokenizer, packing=True) instead"
            )
        if args.assistant_only_loss or args.completion_only_loss:
            raise ValueError(
                "assistant_only_loss / completion_only_loss are TRL's masks; PKTCollator already trains the "
                "assistant turn only (its labels), so leave them unset"
            )
        args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
        super().__init__(model, args, data_collator, *posargs, **kwargs)


class IRMReward:
    """The IRM rule reward for `GRPOTrainer(reward_funcs=[IRMReward()])` (and RLOOTrainer, same contract).

    TRL calls `reward(prompts=, completions=, completion_ids=, **columns)`; `columns` holds every dataset
    column (one value per completion) plus `trainer_state`, `log_metric` and `log_extra`. The offered tools
    come from `columns[tools_column]` (JSON-schema tools, or their JSON text), the gold call from
    `columns[gold_column]` (a call string such as "get_weather(city='Paris')", {"name", "arguments"}, a
    list of them, or their JSON text). Completions are plain text or conversational (a list of messages:
    the first assistant message is scored, its `tool_calls` when present, else its content).

    protocol: "tl" (TL-Training's error categories) or "bfcl"; table: the reward of each category (default:
    the authors' values, `tl_fast.reward.RewardTable`); reward: a RewardScheme callable `(verdicts,
    predictions, tools_list, golds) -> rewards` that replaces the table lookup (binary, ToolRL, ...);
    further keywords (string_match, bfcl_category, num_threads) go to `categorize_batch`, which scores the
    whole batch in C++ threads. With `log_metric` it logs `irm/<category>` (the share of each category) and
    with `log_extra` a `category` column in the completions table. Unusable tools or gold raise ValueError
    (a data bug); an unreadable completion is a `format_error`.
    """

    def __init__(
        self,
        tools_column: str = "tools",
        gold_column: str = "gold",
        protocol: str = "tl",
        table: RewardTable | None = None,
        *,
        reward: RewardScheme | None = None,
        name: str = "irm",
        **categorize_kwargs,
    ):
        self.tools_column, self.gold_column = tools_column, gold_column
        self.scorer = Scorer(protocol, table, reward, **categorize_kwargs)
        self.__name__ = name  # TRL names the reward's metrics after it: rewards/irm/mean

    def _column(self, columns: dict, name: str, n: int) -> Sequence[Any]:
        if name not in columns:
            have = sorted(k for k in columns if k not in ("trainer_state", "log_metric", "log_extra"))
            raise ValueError(f"IRMReward: the dataset has no {name!r} column (columns: {have})")
        values = columns[name]
        if len(values) != n:
            raise ValueError(f"IRMReward: column {name!r} has {len(values)} values for {n} completions")
        return values

    def __call__(self, prompts=None, completions=None, **columns) -> list[float]:
        if completions is None:
            raise ValueError("IRMReward: TRL passes completions=...; got none")
        n = len(completions)
        tools = [
            read_tools(t, f"row {i} of column {self.tools_column!r}")
            for i, t in enumerate(self._column(columns, self.tools_column, n))
        ]
        golds = [
            read_gold(g, f"row {i} of column {self.gold_column!r}")
            for i, g in enumerate(self._column(columns, self.gold_column, n))
        ]
        texts = [completion_text(c) for c in completions]
        verdicts, rewards = self.scorer(
            texts, tools, golds, f"row {{}} of columns {self.tools_column!r}/{self.gold_column!r}"
        )
        log_metric, log_extra = columns.get("log_metric"), columns.get("log_extra")
        if callable(log_metric):
            for category, share in category_shares(verdicts).items():
                log_metric(f"{self.__name__}/{category}", share)
        if callable(log_extra):
            log_extra("category", [v.category for v in verdicts])
        return rewards
