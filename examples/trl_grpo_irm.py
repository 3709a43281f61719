"""GRPO with TRL's GRPOTrainer on the IRM rule reward: each sampled call is scored by its error category.

    pip install 'tl_fast[trl]'
    python examples/trl_grpo_irm.py                                  # CPU, ~1 min: tiny random Llama
    python examples/trl_grpo_irm.py --model runs/trl_sft_pkt/final   # after examples/trl_sft_pkt.py

A real model on a GPU (sampling with vLLM if installed: add --use-vllm):
    python examples/trl_grpo_irm.py --model runs/qwen-pkt-sft/final --data trajectories.jsonl.gz \\
        --max-steps 200 --batch-size 8 --num-generations 8 --max-completion-length 256 --lr 1e-6 \\
        --output-dir runs/qwen-grpo-irm

Prompts are the assistant turns with a tool call of the trajectories (MAE-split, rendered by tl_fast.data in
the syntax SFT trained on: TL-Training's template and `name(arg=...)` calls); the dataset's `tools` and `gold`
columns are JSON text, which IRMReward reads. TRL logs `rewards/irm/mean` and, through IRMReward, the share
of each error category (`irm/format_error`, `irm/wrong_tool`, ..., `irm/correct`) at every logging step.
The tiny random model writes no call, so every completion is a format error and the reward stays at -2: the
default run shows the wiring, not learning; start from a PKT-SFT model to see the categories move.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tl_fast._cli import UserError, check_model_path, run_cli


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="examples/trl_grpo_irm.py", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="HF causal LM (folder or Hub id); default: a tiny random Llama")
    p.add_argument("--data", help="trajectories (json/jsonl/.gz); default: the vendored RoTLLaMA sample")
    p.add_argument("--prompts", type=int, default=64, help="use at most N prompts (0 = all)")
    p.add_argument("--max-prompt-tokens", type=int, default=768, help="skip longer prompts")
    p.add_argument("--output-dir", default="runs/trl_grpo_irm")
    p.add_argument("--max-steps", type=int, default=8, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="completions per device and step")
    p.add_argument("--num-generations", type=int, default=4, help="completions per prompt (the GRPO group)")
    p.add_argument("--max-completion-length", type=int, default=32, help="generated tokens per completion")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--use-vllm", action="store_true", help="sample with vLLM (GPU)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.data and not Path(args.data).expanduser().exists():
        raise UserError(f"--data {args.data}: no such file or folder")
    for flag in ("max_steps", "batch_size", "num_generations", "max_completion_length", "max_prompt_tokens"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be at least 1")
    if args.num_generations < 2 or args.batch_size % args.num_generations:
        raise UserError(
            f"--num-generations {args.num_generations}: GRPO needs at least 2 per prompt, and --batch-size "
            f"({args.batch_size}) must be a multiple of it"
        )
    return args


def build_prompts(args, tokenizer) -> list[dict]:
    """One row per assistant call turn: the rendered prompt, the offered tools and the gold call (JSON)."""
    from tl_fast.data import SAMPLE_DATA, RenderConfig, load_trajectories, mae_split, ppo_prompt

    source = Path(args.data).expanduser() if args.data else SAMPLE_DATA
    trajs, report = load_trajectories(str(source))
    samples, _ = mae_split(trajs)
    rows = []
    for sample in samples:
        if not sample.target.calls:
            continue
        p = ppo_prompt(sample, RenderConfig(), tokenizer)
        if len(tokenizer(p.prompt, add_special_tokens=False)["input_ids"]) > args.max_prompt_tokens:
            continue
        rows.append({"prompt": p.prompt, "tools": json.dumps(p.tools), "gold": json.dumps(p.gold)})
        if args.prompts and len(rows) == args.prompts:
            break
    if not rows:
        raise UserError(f"no prompt of at most {args.max_prompt_tokens} tokens with a tool call in {source}")
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
    from trl import GRPOConfig, GRPOTrainer

    from tl_fast.data import SHIPPED_TOKENIZER
    from tl_fast.integrations.trl import IRMReward

    tokenizer = AutoTokenizer.from_pretrained(args.model or str(SHIPPED_TOKENIZER))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = build_prompts(args, tokenizer)
    cuda = torch.cuda.is_available()
    config = GRPOConfig(
        args.output_dir, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        num_generations=args.num_generations, max_completion_length=args.max_completion_length,
        learning_rate=args.lr, logging_steps=1, save_strategy="no", report_to=[], bf16=cuda,
        use_cpu=not cuda, seed=args.seed, use_vllm=args.use_vllm, temperature=1.0,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=build_model(args, tokenizer), reward_funcs=[IRMReward()], args=config,
        train_dataset=datasets.Dataset.from_list(prompts), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    trainer.save_model(str(Path(args.output_dir) / "final"))
    steps = [r for r in trainer.state.log_history if "rewards/irm/mean" in r]
    for r in steps:
        mix = {k[4:]: round(v, 2) for k, v in r.items() if k.startswith("irm/") and v > 0}
        print(f"step {r['step']:3d}  reward {r['rewards/irm/mean']:+.3f}  categories {mix}")
    print(
        f"{len(prompts)} prompts; reward {steps[0]['rewards/irm/mean']:+.3f} -> "
        f"{steps[-1]['rewards/irm/mean']:+.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, None, prog="examples/trl_grpo_irm.py"))
