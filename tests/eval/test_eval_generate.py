"""Generation: a tiny random Llama with a tokenizer trained here, batched left-padded greedy decoding, CLI."""

from __future__ import annotations

import json

import pytest
import torch

from tl_fast.eval.__main__ import main
from tl_fast.eval.generate import cut_at_stop, generate, load_model

TEXTS = [
    "System: Tools.\nUser: Country info for China?\nAssistant: CountryCountryInfo(countryCode='CN')",
    "User: Translate 'See you later' into Japanese.\nAssistant: get_translation_nllb(text='hi')",
    'def get_weather(city: str) -> dict:\n    """Weather of a city."""\nOutput: {"temp": 3}',
]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TEXTS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=16384,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny_llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_batched_left_padded_greedy_equals_one_at_a_time(tiny_model_dir):
    model, tokenizer = load_model(str(tiny_model_dir), dtype="float32", device="cpu")
    assert tokenizer.padding_side == "left"
    prompts = ["User: hi", TEXTS[0], "Assistant: get_", TEXTS[2]]  # different lengths -> padding
    batched = generate(model, tokenizer, prompts, batch_size=4, max_new_tokens=6)
    single = [generate(model, tokenizer, [p], batch_size=1, max_new_tokens=6)[0] for p in prompts]
    assert batched == single
    assert all(isinstance(t, str) for t in batched) and any(batched)


@pytest.mark.gpu
def test_batched_left_padded_greedy_on_cuda(tiny_model_dir):
    prompts = ["User: hi", TEXTS[0], "Assistant: get_", TEXTS[2]] * 4
    model, tokenizer = load_model(str(tiny_model_dir), dtype="float32", device="cuda")
    batched = generate(model, tokenizer, prompts, batch_size=16, max_new_tokens=16)
    assert batched == [generate(model, tokenizer, [p], batch_size=1, max_new_tokens=16)[0] for p in prompts]


def test_cut_at_stop():
    assert cut_at_stop("f(a=1)\nOutput: 3\nUser: x", ["\nUser:", "\nOutput:"]) == "f(a=1)"
    assert cut_at_stop("f(a=1)", ["\nOutput:"]) == "f(a=1)"
    assert cut_at_stop("", []) == ""


@pytest.mark.parametrize(("benchmark", "split"), [("toolalpaca", "eval_real"), ("rotbench", "clean")])
def test_cli_generates_and_scores_end_to_end(tiny_model_dir, tmp_path, benchmark, split):
    out, preds = tmp_path / "report.json", tmp_path / "preds.jsonl"
    argv = ["--benchmark", benchmark, "--split", split, "--model", str(tiny_model_dir), "--limit", "3"]
    argv += ["--batch-size", "2", "--max-new-tokens", "8", "--dtype", "float32"]
    assert main([*argv, "--output", str(out), "--save-predictions", str(preds)]) == 0
    report = json.loads(out.read_text())
    assert report["metrics"]["n"] == 3 and len(report["items"]) == 3
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"{split}_{i}" for i in range(3)]
    # re-scoring the saved predictions gives the same verdicts
    rescored = tmp_path / "rescored.json"
    rescore = ["--predictions", str(preds), "--limit", "3", "--output", str(rescored)]
    assert main(["--benchmark", benchmark, "--split", split, *rescore]) == 0
    assert json.loads(rescored.read_text())["items"] == report["items"]  # predictions and verdicts


def test_context_rule_skips_and_shortens(tiny_llama_factory, tmp_path):
    """A prompt of `context` tokens or more is skipped (None); one that leaves fewer than max_new_tokens is
    generated alone with the room that is left; the rest are batched with the full max_new_tokens."""
    model, tokenizer = load_model(str(tiny_llama_factory(tmp_path, max_position_embeddings=40)), device="cpu")
    prompts = ["User: hi", "User: " + "word " * 37, "User: " + "word " * 31, "Assistant: get_"]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    assert lengths[1] == 40 and 40 - 16 < lengths[2] < 40 and max(lengths[0], lengths[3]) + 16 <= 40
    calls = []
    real = model.generate

    def recording(**kwargs):
        calls.append((kwargs["input_ids"].shape[0], kwargs["max_new_tokens"]))
        return real(**kwargs)

    model.generate = recording
    stats = {}
    out = generate(model, tokenizer, prompts, batch_size=4, max_new_tokens=16, context=40, stats=stats)
    assert out[1] is None and all(isinstance(out[i], str) for i in (0, 2, 3))
    assert stats["skipped"] == [1] and stats["shortened"] == [2]
    assert sorted(calls) == sorted([(2, 16), (1, 40 - lengths[2])])
