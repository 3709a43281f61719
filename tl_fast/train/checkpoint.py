"""Checkpoints in safetensors: the policy loads with `transformers.from_pretrained` (LoRA: peft's adapter
format),
plus trainer state (optimizer, scheduler, step, RNG) so `--resume` continues where a run stopped.

    run_dir/checkpoints/sft-step000050/{policy|adapter}/, trainer_state.pt
    run_dir/checkpoints/latest.json -> {"stage": "sft", "step": 50, "path": "..."}
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from tl_fast.train.model import causal_lm


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def save_policy(policy, tokenizer, path: Path) -> None:
    """LoRA models save their adapter (peft format); full models save the whole causal LM."""
    path.mkdir(parents=True, exist_ok=True)
    model = policy.module if hasattr(policy, "module") else policy
    if hasattr(model, "peft_config"):
        model.save_pretrained(path / "adapter", safe_serialization=True)
    else:
        causal_lm(model).save_pretrained(path / "policy", safe_serialization=True)
        tokenizer.save_pretrained(path / "policy")


def save_final(policy, tokenizer, path: Path, write: bool = True, base_model: str | None = None):
    """The run's result: `path/policy`, a whole causal LM + tokenizer that `from_pretrained` and
    `python -m tl_fast.eval --model` load. A LoRA policy also leaves its adapter in `path/adapter`
    (relative to the weights it was trained on: the base model after SFT, the merged SFT model after PPO)
    and is then merged into its weights; the merged model is returned. `write=False` only merges.

    `base_model`: where the adapter's base weights are (the `--model` it was trained on), written into
    adapter_config.json as base_model_name_or_path (absolute when local) so `--model path/adapter` loads;
    None when no saved model holds them (a random-init base, or merged SFT weights under a PPO adapter):
    the field is then null and the evaluator asks for --base-model or points to `path/policy`."""
    model = policy.module if hasattr(policy, "module") else policy
    if hasattr(model, "peft_config"):
        if write:
            if base_model and Path(base_model).expanduser().exists():
                base_model = str(Path(base_model).expanduser().resolve())
            save_policy(model, tokenizer, path)
            # peft fills a None base from the model's name_or_path, which after a merge still names the
            # checkpoint the merged weights came from: the file is rewritten so it never names a wrong base
            for config in (path / "adapter").glob("**/adapter_config.json"):
                data = json.loads(config.read_text(encoding="utf-8"))
                data["base_model_name_or_path"] = base_model or None
                config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        model = model.merge_and_unload()
    if write:
        save_policy(model, tokenizer, path)
    return model


def save_checkpoint(run_dir: Path, stage: str, step: int, policy, tokenizer, state: dict) -> Path:
    """Writes the checkpoint, then atomically points latest.json at it (a crash mid-save keeps the last)."""
    root = run_dir / "checkpoints"
    path = root / f"{stage}-step{step:06d}"
    save_policy(policy, tokenizer, path)
    torch.save({**state, "stage": stage, "step": step, "rng": _rng_state()}, path / "trainer_state.pt")
    tmp = root / "latest.json.tmp"
    tmp.write_text(json.dumps({"stage": stage, "step": step, "path": path.name}))
    tmp.replace(root / "latest.json")
    return path


def latest_checkpoint(run_dir: Path) -> dict | None:
    pointer = run_dir / "checkpoints" / "latest.json"
    if not pointer.exists():
        return None
    info = json.loads(pointer.read_text())
    info["path"] = run_dir / "checkpoints" / info["path"]
    return info


def load_policy_weights(policy, path: Path) -> None:
    """Loads saved weights into the live (possibly peft-wrapped) policy in place."""
    from safetensors.torch import load_file

    model = policy.module if hasattr(policy, "module") else policy
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        state = load_file(str(path / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(model, state)
    else:
        lm = causal_lm(model)
        files = sorted((path / "policy").glob("*.safetensors"))
        state = {}
        for f in files:
            state.update(load_file(str(f)))
        missing, unexpected = lm.load_state_dict(state, strict=False)
        # tied embeddings may be absent from the file; anything else is a mismatch
        if unexpected or [k for k in missing if "lm_head" not in k]:
            raise RuntimeError(
                f"checkpoint {path} does not match the model: missing {missing}, unexpected {unexpected}"
            )


def load_trainer_state(path: Path) -> dict:
    state = torch.load(path / "trainer_state.pt", weights_only=False)
    _set_rng_state(state["rng"])
    return state
