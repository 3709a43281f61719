"""`--endpoint` against a real `transformers serve` (started once per session on 127.0.0.1): the scores and
answers equal `--model` in-process on the same checkpoint (greedy, same prompts) on the three benchmarks in
both modes; a server killed mid-run, then `--resume`, completes without re-asking; an unreachable URL is one
clear error; the API key never reaches a file or a log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tl_fast.eval import load_items
from tl_fast.eval.__main__ import main

SPLITS = {
    "rotbench": "clean,union",
    "bfcl": "simple_python,parallel_multiple",
    "toolalpaca": "eval_real,eval_simulated",
}
SECRET = "sk-tl-fast-test-0123456789abcdef"


def cli(*argv: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tl_fast.eval", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def records(path: Path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["tl_fast_responses"] == 1
    return lines[1:]


@pytest.mark.parametrize("mode", ["completions", "chat"])
@pytest.mark.parametrize("benchmark", sorted(SPLITS))
def test_endpoint_equals_in_process(server, tiny_llama, tmp_path, capfd, benchmark, mode, monkeypatch):
    from transformers import AutoTokenizer

    from tl_fast.eval.generate import render_chat_prompt, render_prompt

    common = ["--benchmark", benchmark, "--split", SPLITS[benchmark], "--limit", "2", "--mode", mode]
    common += ["--max-new-tokens", "12"]
    before = server.posts("/v1/chat/completions" if mode == "chat" else "/v1/completions")
    served = tmp_path / "served.json"
    monkeypatch.setenv("TL_FAST_KEY", SECRET)
    argv = [*common, "--endpoint", server.url, "--output", str(served), "--api-key-env", "TL_FAST_KEY"]
    assert main(argv) == 0
    printed = capfd.readouterr()
    local = tmp_path / "local.json"
    assert main([*common, "--model", str(tiny_llama), "--output", str(local), "--dtype", "fp32"]) == 0

    got, want = json.loads(served.read_text()), json.loads(local.read_text())
    items = load_items(benchmark, SPLITS[benchmark], limit=2)
    assert [i["id"] for i in got["items"]] == [i.id for i in items]
    assert got["items"] == want["items"]  # answers and verdicts, item by item
    assert got["metrics"] == want["metrics"] and got["categories"] == want["categories"]
    answers = [i["prediction"] for i in got["items"]]
    assert len(set(answers)) > 1, "the model must answer prompts differently for this test to mean anything"
    assert got["endpoint"]["asked"] == len(items) and got["endpoint"]["errors"] == 0
    assert got["config"]["temperature"] == 0.0 and got["endpoint"]["request"]["max_tokens"] == 12
    after = server.posts("/v1/chat/completions" if mode == "chat" else "/v1/completions")
    assert after - before == len(items)

    # The server tokenized exactly the prompt the in-process path generated from (tools included in chat
    # mode; no second BOS in completions mode).
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    saved = {r["id"]: r for r in records(served.with_suffix(".responses.jsonl"))}
    for item in items:
        prompt = (
            render_chat_prompt(benchmark, item, tokenizer)
            if mode == "chat"
            else render_prompt(item, tokenizer)
        )
        n_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert saved[item.id]["response"]["usage"]["prompt_tokens"] == n_tokens, item.id
        if mode == "chat":
            names = [t["function"]["name"] for t in saved[item.id]["request"]["tools"]]
            assert names and all("." not in n for n in names)
            assert names[0] in prompt  # the chat template wrote the tools into the prompt
    # the key was in the environment of the run; it must not be anywhere it wrote or printed
    for path in tmp_path.iterdir():
        assert SECRET not in path.read_text(), path
    assert SECRET not in printed.out + printed.err
    assert (
        f"wrote {served}, {served.with_suffix('.md')}, {served.with_suffix('.responses.jsonl')}"
        in printed.err
    )


def test_server_killed_mid_run_then_resume_never_reasks(server, make_server, tiny_llama, tmp_path, capsys):
    out = tmp_path / "bfcl.json"
    responses = out.with_suffix(".responses.jsonl")
    argv = ["--benchmark", "bfcl", "--split", "simple_python", "--limit", "30", "--max-new-tokens", "8"]
    argv += ["--output", str(out), "--concurrency", "2", "--retries", "1", "--backoff", "0.1"]
    doomed = make_server(tiny_llama, tmp_path / "doomed.log")
    try:
        doomed.wait_healthy()
        run = subprocess.Popen(
            [sys.executable, "-m", "tl_fast.eval", *argv, "--endpoint", doomed.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if responses.exists() and len(responses.read_text().splitlines()) > 5:
                break
            time.sleep(0.05)
        doomed.kill()
        _, stderr = run.communicate(timeout=120)
    finally:
        doomed.kill()
    assert run.returncode == 1, stderr
    assert "stopped answering" in stderr and "--resume" in stderr
    assert not out.exists()  # no report from a half run
    first = records(responses)
    answered = {r["id"] for r in first if "response" in r}
    assert 4 <= len(answered) < 30

    before = server.posts("/v1/completions")
    assert main([*argv, "--endpoint", server.url, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resume: {len(answered)} of 30 items already answered, asking {30 - len(answered)}" in err
    assert server.posts("/v1/completions") - before == 30 - len(answered)  # counted by the server itself
    after = records(responses)
    assert after[: len(first)] == first  # the saved answers are kept as they were
    ok = [r["id"] for r in after if "response" in r]
    assert sorted(ok) == sorted(set(ok)) and len(ok) == 30  # each item answered exactly once
    report = json.loads(out.read_text())
    assert report["metrics"]["n"] == 30 and report["endpoint"]["resumed"] == len(answered)
    assert "missing" not in report["categories"]


def test_unreachable_url_is_one_clear_error(tmp_path, unused_port):
    url = f"http://127.0.0.1:{unused_port}/v1"
    started = time.monotonic()
    proc = cli("--benchmark", "rotbench", "--endpoint", url, "--output", str(tmp_path / "r.json"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the server" in lines[0] and url in lines[0], proc.stderr
    assert time.monotonic() - started < 60
    assert list(tmp_path.iterdir()) == []


def test_endpoint_flag_errors(server, tmp_path):
    """Each refusal comes before torch is imported (these runs take well under a second each unloaded)."""
    out = tmp_path / "r.json"
    proc = cli("--benchmark", "rotbench", "--endpoint", server.url)
    assert proc.returncode == 2 and "--endpoint needs --output" in proc.stderr
    proc = cli("--benchmark", "rotbench", "--endpoint", "ftp://x", "--output", str(out))
    assert proc.returncode == 2 and "expected an http(s) URL" in proc.stderr
    argv = ["--benchmark", "toolalpaca", "--limit", "1", "--endpoint", server.url, "--output", str(out)]
    assert main([*argv, "--max-new-tokens", "4"]) == 0
    proc = cli(*argv, "--max-new-tokens", "4")
    assert proc.returncode == 2 and "pass --resume" in proc.stderr  # an earlier run's answers are not lost
    proc = cli(*argv, "--max-new-tokens", "5", "--resume")
    assert proc.returncode == 2 and "other settings" in proc.stderr and "max_tokens" in proc.stderr
    proc = cli(*argv, "--max-new-tokens", "4", "--api-key-env", "TL_FAST_UNSET_VARIABLE")
    assert proc.returncode == 2 and "TL_FAST_UNSET_VARIABLE" in proc.stderr


def test_tokenizer_chat_template_prompts_lose_their_bos_text_for_the_server(server, tiny_llama, tmp_path):
    """--chat-template tokenizer renders `<s>User: ...` (the template writes the BOS); a server adds the BOS
    itself, so the text sent must not carry it, or the model sees two."""
    from transformers import AutoTokenizer

    from tl_fast.data.config import RenderConfig
    from tl_fast.eval.generate import render_prompt

    common = ["--benchmark", "rotbench", "--split", "clean", "--limit", "2", "--max-new-tokens", "12"]
    common += ["--chat-template", "tokenizer"]
    served, local = tmp_path / "served.json", tmp_path / "local.json"
    argv = [*common, "--endpoint", server.url, "--tokenizer", str(tiny_llama), "--output", str(served)]
    assert main(argv) == 0
    assert main([*common, "--model", str(tiny_llama), "--output", str(local)]) == 0
    assert json.loads(served.read_text())["items"] == json.loads(local.read_text())["items"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    item = load_items("rotbench", "clean", limit=1)[0]
    prompt = render_prompt(item, tokenizer, RenderConfig(chat_template="tokenizer"))
    assert prompt.startswith(tokenizer.bos_token)
    # responses are written as they arrive (concurrent requests): pick the item's own
    (record,) = [r for r in records(served.with_suffix(".responses.jsonl")) if str(r["id"]) == str(item.id)]
    assert record["request"]["prompt"] == prompt[len(tokenizer.bos_token) :]
    assert record["response"]["usage"]["prompt_tokens"] == len(
        tokenizer(prompt, add_special_tokens=False)["input_ids"]
    )
