"""Planted bugs in tl_fast.integrations (issue 13), each caught by the test named with it."""

from __future__ import annotations

from . import Mutation

T = "tests/integrations/"
TRANSFORMERS = "tl_fast/integrations/transformers.py"
HEAD = "tl_fast/integrations/_head.py"
REWARD = "tl_fast/integrations/_reward.py"

MUTATIONS = [
    # ---- the PKT loss over a whole optimizer step
    Mutation(
        id="step-total-counts-tokens-not-weights",
        file=TRANSFORMERS,
        old="totals[0] += weights.sum().to(device, torch.float64)",
        new="totals[0] += (weights > 0).sum().to(device, torch.float64)",
        tests=[T + "test_pkt_trainer.py::test_grad_accumulation_equals_one_big_batch_and_the_fp64_reference"],
        why="the step's denominator counts trained tokens instead of summing PKT weights",
    ),
    Mutation(
        id="micro-batch-scale-dropped",
        file=TRANSFORMERS,
        old="loss = loss * torch.where(step_weight > 0, local / step_weight.clamp(min=1e-12), 0.0)",
        new="loss = loss / 2",
        tests=[T + "test_pkt_trainer.py::test_grad_accumulation_equals_one_big_batch_and_the_fp64_reference"],
        why="each micro-batch is its own weighted mean divided by the accumulation steps (Trainer's default)",
    ),
    Mutation(
        id="ddp-world-size-factor-dropped",
        file=TRANSFORMERS,
        old="            loss = loss * self.args.world_size",
        new="            loss = loss",
        tests=[T + "test_pkt_trainer.py::test_ddp_equals_one_big_batch"],
        why="DDP averages gradients over processes; without the factor the step is world-size times small",
    ),
    Mutation(
        id="ddp-step-weight-not-gathered",
        file=TRANSFORMERS,
        old="        if self.args.world_size > 1:\n            totals = self.accelerator.gather",
        new="        if False:\n            totals = self.accelerator.gather",
        tests=[T + "test_pkt_trainer.py::test_ddp_equals_one_big_batch"],
        why="each process normalizes by its own weight instead of the weight of the whole step",
    ),
    Mutation(
        id="hidden-not-shifted",
        file=TRANSFORMERS,
        old="h, w, b, softcap = head_projection(model, hidden[:, :-1])",
        new="h, w, b, softcap = head_projection(model, hidden[:, 1:])",
        tests=[T + "test_pkt_trainer.py::test_gradients_equal_the_reference"],
        why="position t+1's hidden state predicts token t+1 (no causal shift)",
    ),
    Mutation(
        id="eval-loss-scaled-like-training",
        file=TRANSFORMERS,
        old="return self._pkt_loss(model, inputs, None).detach(), None, None",
        new="return self._pkt_loss(model, inputs, torch.tensor(100.0)).detach(), None, None",
        tests=[T + "test_pkt_trainer.py::test_evaluate_and_save"],
        why="evaluation batches are scaled by a training step's total, not their own weighted mean",
    ),
    Mutation(
        id="signature-columns-not-extended",
        file=TRANSFORMERS,
        old="self._signature_columns = list(dict.fromkeys([*self._signature_columns, *extra]))",
        new="self._signature_columns = list(self._signature_columns)",
        tests=[T + "test_trl.py::test_conversational_columns_survive_trls_column_selection"],
        why="TRL's column selection drops messages/tools before the collator sees them",
    ),
    Mutation(
        id="trl-prepares-the-dataset-itself",
        file="tl_fast/integrations/trl.py",
        old='args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}',
        new="args.dataset_kwargs = args.dataset_kwargs",
        tests=[T + "test_trl.py::test_conversational_columns_survive_trls_column_selection"],
        why="SFTTrainer tokenizes the rows with its own template and the PKT weights never exist",
    ),
    # ---- the lm_head projection
    Mutation(
        id="lora-head-scale-dropped",
        file=HEAD,
        old="hs.append((lora_a(x) * scale).to(hidden.dtype))",
        new="hs.append(lora_a(x).to(hidden.dtype))",
        tests=[T + "test_pkt_trainer.py::test_gradients_equal_the_reference"],
        why="LoRA's alpha/r scaling is left out of the adapted lm_head",
    ),
    Mutation(
        id="lora-head-dropout-dropped",
        file=HEAD,
        old="x = head.lora_dropout[name](hidden.to(lora_a.weight.dtype))",
        new="x = hidden.to(lora_a.weight.dtype)",
        tests=[T + "test_pkt_trainer.py::test_lora_dropout_on_lm_head_is_the_modules_own"],
        why="the LoRA branch of the head trains without its dropout",
    ),
    Mutation(
        id="modules-to-save-copy-ignored",
        file=HEAD,
        old="        return head.modules_to_save[active[0]]",
        new="        return head.original_module",
        tests=[T + "test_pkt_trainer.py::test_gradients_equal_the_reference"],
        why="the frozen original head is used instead of peft's trainable copy",
    ),
    Mutation(
        id="softcap-ignored",
        file=HEAD,
        old='return (1.0 if scale is None else float(scale)), getattr(cfg, "final_logit_softcapping", None)',
        new="return (1.0 if scale is None else float(scale)), None",
        tests=[T + "test_pkt_trainer.py::test_softcapped_model_matches_its_own_loss"],
        why="Gemma's final logit softcap is not applied in the fused loss",
    ),
    Mutation(
        id="projection-check-never-fails",
        file=HEAD,
        old="if not err <= tol * max(1.0, theirs.abs().max().item()):",
        new="if False:",
        tests=[T + "test_pkt_trainer.py::test_a_model_with_unknown_logit_transform_is_refused"],
        why="a model that transforms its logits trains on the wrong loss silently",
    ),
    # ---- the collator
    Mutation(
        id="arrow-nulls-kept",
        file=REWARD,
        old="return {k: drop_nulls(v) for k, v in value.items() if v is not None}",
        new="return {k: drop_nulls(v) for k, v in value.items()}",
        tests=[T + "test_collator.py::test_arrow_null_padding_does_not_add_phantom_parameters"],
        why="Arrow's null padding becomes phantom tool parameters and call arguments",
    ),
    Mutation(
        id="too-long-samples-kept",
        file=TRANSFORMERS,
        old='if self.max_length is not None and len(enc["input_ids"]) > self.max_length:',
        new="if False:",
        tests=[T + "test_collator.py::test_drops_are_counted_and_logged_once"],
        why="samples over max_length are trained on (and not counted)",
    ),
    Mutation(
        id="dropped-rows-not-counted",
        file=TRANSFORMERS,
        old='stats["rows_dropped"] += not kept',
        new='stats["rows_dropped"] += 0',
        tests=[T + "test_collator.py::test_drops_are_counted_and_logged_once"],
        why="rows that give no sample vanish without a count",
    ),
    Mutation(
        id="mae-off-by-default",
        file=TRANSFORMERS,
        old="            self.mae = MAEConfig()\n",
        new="            self.mae = MAEConfig(error_patterns=(), structured_errors=False)\n",
        tests=[T + "test_collator.py::test_drops_are_counted_and_logged_once"],
        why="turns whose tool call failed are trained on with mae=True",
    ),
    Mutation(
        id="template-errors-crash-the-run",
        file=TRANSFORMERS,
        old="except (ValueError, TemplateError) as exc:",
        new="except ValueError as exc:",
        tests=[T + "test_collator.py::test_a_template_that_refuses_the_data_fails_clearly"],
        why="one sample the chat template refuses ends the run with a jinja traceback",
    ),
    # ---- the rewards
    Mutation(
        id="content-before-tool-calls",
        file=REWARD,
        old="            if tool_calls:\n                return _call_json(tool_calls)",
        new="            if tool_calls and not msg.get('content'):\n"
        "                return _call_json(tool_calls)",
        tests=[T + "test_rewards.py::test_irm_reward_conversational_completions_and_object_columns"],
        why="an assistant message with text and tool_calls is scored on its text",
    ),
    Mutation(
        id="category-share-not-normalized",
        file=REWARD,
        old="return {c: counts[c] / n for c in CATEGORIES}",
        new="return {c: float(counts[c]) for c in CATEGORIES}",
        tests=[T + "test_rewards.py::test_irm_reward_plain_completions_and_metric_logging"],
        why="the logged category metrics are counts, not shares",
    ),
    Mutation(
        id="pad-tokens-not-stripped",
        file=REWARD,
        old='_EXTRA_SPECIAL = ("<pad>", "<s>", "<unk>", "[PAD]")',
        new="_EXTRA_SPECIAL = ()",
        tests=[T + "test_rewards.py::test_openrlhf_reward_func_on_decoded_queries"],
        why="a correct call followed by <pad> tokens is scored as a format error",
    ),
    Mutation(
        id="reasoning-scored-with-the-answer",
        file=REWARD,
        old="    cut = text.rfind(_THINK_END)\n",
        new="    cut = -1\n",
        tests=[T + "test_rewards.py::test_verl_compute_score_loaded_by_path"],
        why="a reasoning model's <think> block is parsed as part of its call (format error)",
    ),
    Mutation(
        id="openrlhf-prompt-kept-in-response",
        file="tl_fast/integrations/openrlhf.py",
        old="return query[at + len(prompt) :], True",
        new="return query[at:], True",
        tests=[T + "test_rewards.py::test_openrlhf_reward_func_on_decoded_queries"],
        why="the prompt is scored together with the response",
    ),
    Mutation(
        id="openrlhf-scores-are-rewards",
        file="tl_fast/integrations/openrlhf.py",
        old='"scores": torch.tensor([float(v.correct) for v in verdicts], dtype=torch.float32),',
        new='"scores": torch.tensor(rewards, dtype=torch.float32),',
        tests=[T + "test_rewards.py::test_openrlhf_reward_func_on_decoded_queries"],
        why="dynamic filtering gets unbounded rewards instead of 0/1 correctness",
    ),
    Mutation(
        id="verl-correct-always-one",
        file="tl_fast/integrations/verl.py",
        old='"correct": float(verdict.correct),',
        new='"correct": 1.0,',
        tests=[T + "test_rewards.py::test_verl_compute_score_loaded_by_path"],
        why="verl's reward_extra_info reports every response as correct",
    ),
]
