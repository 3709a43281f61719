"""PKT-SFT with TRL's SFTTrainer: MAE-split tool-use trajectories, key tool-name tokens weighted, fused loss.

    pip install 'tl_fast[trl]'
    python examples/trl_sft_pkt.py                    # CPU, ~1 min: tiny random Llama, vendored data
    python examples/trl_sft_pkt.py --max-steps 2 --output-dir /tmp/sft   # a quick check

A real model on a GPU (local folder or Hub id; bf16, LoRA optional):
    python examples/trl_sft_pkt.py --model Qwen/Qwen2.5-7B-Instruct --data trajectories.jsonl.gz \\
        --max-steps 500 --batch-size 4 --grad-accum 8 --lr 1e-5 --max-length 4096 --packing \\
        --output-dir runs/qwen-pkt-sft
    accelerate launch --num_processes 8 examples/trl_sft_pkt.py --model ... # DDP: same loss as one big batch

Rows are the vendored RoTLLaMA trajectories or any file `tl_fast.data.load_trajectories` reads (RoTLLaMA,
TL-Training raw, OpenAI chat with tool_calls). PKTCollator renders them with the tokenizer's chat template
(the tiny demo uses the shipped tokenizer and TL-Training's template), drops the turns whose call failed (MAE)
and weighs the key tokens; PKTSFTTrainer computes sum(w * l) / sum(w) over each optimizer step without logits.
The trained model is saved to <output-dir>/final.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tl_fast._cli import UserError, check_model_path, run_cli


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="examples/trl_sft_pkt.py", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="HF causal LM (folder or Hub id); default: a tiny random Llama")
    p.add_argument("--data", help="trajectories (json/jsonl/.gz); default: the vendored RoTLLaMA sample")
    p.add_argument("--rows", type=int, default=64, help="use the first N trajectories (default 64; 0 = all)")
    p.add_argument("--output-dir", default="runs/trl_sft_pkt", help="checkpoints and the final model")
    p.add_argument("--max-steps", type=int, default=20, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=2, help="rows per device and micro-batch")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (tiny model default)")
    p.add_argument("--max-length", type=int, default=1536, help="drop (never cut) longer samples")
    p.add_argument("--packing", action="store_true", help="padding-free packed batches")
    p.add_argument("--no-mae", action="store_true", help="train every assistant turn, failed calls included")
    p.add_argument("--lora-r", type=int, default=0, help="LoRA rank via peft (0 = full fine-tune)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.data and not Path(args.data).expanduser().exists():
        raise UserError(f"--data {args.data}: no such file or folder")
    for flag in ("max_steps", "batch_size", "grad_accum"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be at least 1")
    if args.rows < 0:
        raise UserError(f"--rows {args.rows}: must be 0 (all) or more")
    return args


def load_rows(path: str | None, n: int) -> list[dict]:
    """Raw records (any format tl_fast.data reads); PKTCollator parses, splits and counts them."""
    from tl_fast.data import SAMPLE_DATA
    from tl_fast.data.formats import MalformedRecord, iter_records

    source = Path(path).expanduser() if path else SAMPLE_DATA
    rows, bad = [], 0
    for record in iter_records(source):
        if isinstance(record, MalformedRecord) or not isinstance(record, dict):
            bad += 1
            continue
        rows.append(dict(record))
        if n and len(rows) == n:
            break
    if bad:
        print(f"{bad} undecodable records in {source} skipped", file=sys.stderr)
    if not rows:
        raise UserError(f"--data {path}: no records")
    return rows


def build_model(args, tokenizer):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if args.model:
        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        return AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)
    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.model:
        args.model = check_model_path(args.model)
    import datasets
    import torch
    from transformers import AutoTokenizer
    from trl import SFTConfig

    from tl_fast.data import SHIPPED_TOKENIZER
    from tl_fast.integrations.transformers import PKTCollator
    from tl_fast.integrations.trl import PKTSFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(args.model or str(SHIPPED_TOKENIZER))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = load_rows(args.data, args.rows)
    collator = PKTCollator(tokenizer, mae=not args.no_mae, max_length=args.max_length, packing=args.packing)
    model = build_model(args, tokenizer)
    peft_config = None
    if args.lora_r:
        from peft import LoraConfig

        peft_config = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, target_modules="all-linear")
    cuda = torch.cuda.is_available()
    config = SFTConfig(
        args.output_dir, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum, learning_rate=args.lr, lr_scheduler_type="cosine",
        warmup_steps=0.01, weight_decay=0.01, adam_beta2=0.95, logging_steps=max(1, args.max_steps // 10),
        save_strategy="no", report_to=[], bf16=cuda, use_cpu=not cuda, seed=args.seed,
        gradient_checkpointing=bool(args.model), dataloader_num_workers=0,
    )  # fmt: skip
    trainer = PKTSFTTrainer(
        model, args=config, data_collator=collator, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer, peft_config=peft_config,
    )  # fmt: skip
    trainer.train()
    final = Path(args.output_dir) / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(final)
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    weights = [r["pkt/mean_weight"] for r in trainer.state.log_history if "pkt/mean_weight" in r]
    report = dict(trainer.pkt_report)
    mean_weight = sum(weights) / len(weights)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} over {args.max_steps} steps; mean PKT weight per "
          f"trained token {mean_weight:.3f}; data: {report}; model saved to {final}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, None, prog="examples/trl_sft_pkt.py"))
