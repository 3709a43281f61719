"""A tiny random Llama with the shipped tokenizer, and a real `transformers serve` of it on 127.0.0.1.

The model's weights are drawn wide (initializer_range 0.2) so that its greedy answer depends on the prompt:
equal answers from two paths then mean equal prompts. Its chat template writes the offered tools into the
prompt, so a chat request that lost its tools gives other answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SHIPPED_TOKENIZER = Path(__file__).resolve().parents[2] / "tl_fast" / "assets" / "tokenizer"
CHAT_TEMPLATE = (
    "{{ bos_token }}{% if tools %}System: Tools: {% for t in tools %}{{ t['function']['name'] }}("
    "{{ t['function']['parameters']['properties'] | list | join(', ') }}) {% endfor %}\n{% endif %}"
    "{% set names = {'system': 'System', 'user': 'User', 'assistant': 'Assistant', 'tool': 'Output'} %}"
    "{% for message in messages %}{{ names[message['role']] + ': ' + message['content'] }}"
    "{% if loop.last %}{% if add_generation_prompt %}{{ '\\nAssistant:' }}{% endif %}{% else %}{{ '\\n' }}"
    "{% endif %}{% endfor %}"
)


def save_tiny_llama(path: Path, max_position_embeddings: int = 4096) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_TOKENIZER)
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_position_embeddings,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_llama_shipped_tok"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`transformers serve MODEL --host 127.0.0.1 --port N` as a child process; its log counts requests."""

    def __init__(self, model: Path, log: Path):
        self.model, self.log = model, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = Path(sys.executable).with_name("transformers")
        argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "transformers.cli.transformers"]
        argv += ["serve", str(model), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def wait_healthy(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"transformers serve exited ({self.proc.returncode}):\n{self.log.read_text()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"transformers serve not healthy after {timeout_s} s:\n{self.log.read_text()}")

    def posts(self, path: str) -> int:
        """How many POSTs to `path` the server has logged (uvicorn's access log)."""
        return self.log.read_text().count(f'"POST {path} HTTP')

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._log_file.close()


@pytest.fixture
def tiny_llama_factory():
    """save_tiny_llama(path, max_position_embeddings=...) for a test that needs another context length."""
    return save_tiny_llama


@pytest.fixture
def make_server():
    """Server(model, log) for a test that needs a server of its own (to kill it)."""
    return Server


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="module")  # started once; only test_eval_endpoint.py asks for it, and it ends with it
def server(tiny_llama, tmp_path_factory):
    srv = Server(tiny_llama, tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.kill()
