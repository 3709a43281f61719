"""The endpoint client's behaviour on answers a healthy tiny model never gives: retries with backoff on
5xx / 429 (Retry-After), items recorded as errors after the last retry, a refused key, function calls in
`tool_calls` (names mapped back, arguments as JSON text). A scripted stdlib HTTP server plays the server."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tl_fast._cli import UserError
from tl_fast.eval import gold_predictions, load_items
from tl_fast.eval.__main__ import main
from tl_fast.eval.endpoint import Client, ResponsesFile, ask, preflight, run_requests
from tl_fast.reward.parse import parse_tool_calls

KEY = "sk-scripted-0123456789"


class Scripted:
    """reply(path, body, n) -> (status, body dict, headers) where n counts the requests so far."""

    def __init__(self, reply):
        self.reply, self.seen = reply, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body):
                outer.seen.append((self.command, self.path, dict(self.headers), body))
                status, payload, headers = outer.reply(self.path, body, len(outer.seen))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer(None)

            def do_POST(self):
                self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(reply):
        servers.append(Scripted(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def completion(text):
    return {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}


def models(path):
    return 200, {"object": "list", "data": [{"id": "m"}]}, {}


def test_retries_with_backoff_then_succeeds_and_sends_the_key(scripted):
    def reply(path, body, n):
        if path.endswith("/models"):
            return models(path)
        if n == 2:
            return 503, {"error": {"message": "warming up"}}, {}
        if n == 3:
            return 429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}
        return 200, completion("f(a=1)"), {}

    srv = scripted(reply)
    client = Client(srv.url, api_key=KEY, timeout_s=5)
    assert preflight(client, None) == "m"  # the only listed model
    started = time.monotonic()
    record = ask(client, "/completions", {"model": "m", "prompt": "x"}, retries=3, backoff_s=0.01,
                 stop=threading.Event())  # fmt: skip
    assert record["response"]["choices"][0]["text"] == "f(a=1)" and record["attempts"] == 3
    assert time.monotonic() - started >= 1.0  # Retry-After honoured over the 0.02 s backoff
    assert all(headers["Authorization"] == f"Bearer {KEY}" for _, _, headers, _ in srv.seen)


def test_exhausted_retries_record_the_item_as_an_error_and_the_run_goes_on(scripted, tmp_path, capsys):
    items = load_items("toolalpaca", "eval_real", limit=4)
    broken = items[1].messages[-1]["content"]  # the instruction, which the rendered prompt contains

    def reply(path, body, n):
        if path.endswith("/models"):
            return models(path)
        if broken in body["prompt"]:
            return 500, {"detail": "boom"}, {}
        return 200, completion("Action: getDetails\nAction Input: {}\nObservation: made up"), {}

    srv = scripted(reply)
    out = tmp_path / "r.json"
    argv = ["--benchmark", "toolalpaca", "--limit", "4", "--endpoint", srv.url, "--output", str(out)]
    assert main([*argv, "--retries", "2", "--backoff", "0.01", "--concurrency", "1"]) == 0
    report = json.loads(out.read_text())
    assert report["endpoint"]["errors"] == 1 and report["endpoint"]["retries"] == 2
    failed = next(i for i in report["items"] if i["id"] == items[1].id)
    assert failed["category"] == "missing" and failed["note"] == "request failed: HTTP 500: boom"
    assert report["categories"]["missing"] == 1 and report["metrics"]["n"] == 4
    answered = [i["prediction"] for i in report["items"] if i["id"] != items[1].id]
    assert answered == ["Action: getDetails\nAction Input: {}"] * 3  # cut at the stop string, as in-process
    assert any("1 requests failed after retries" in n for n in report["notes"])
    assert "1 items had no prediction (missing)" in capsys.readouterr().err
    posts = [p for c, p, _, _ in srv.seen if c == "POST"]
    assert len(posts) == 3 + 3  # three answered once, the broken one asked 1 + 2 times


def test_refused_key_stops_at_once_and_never_shows_the_key(scripted, tmp_path, monkeypatch, capsys):
    def reply(path, body, n):  # a server that echoes the header it refused
        return 401, {"error": {"message": f"invalid key: Bearer {KEY}"}}, {}

    srv = scripted(reply)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "r.json"
    assert main(["--benchmark", "rotbench", "--endpoint", srv.url, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "API key" in err and KEY not in err and "***" in err
    assert list(tmp_path.iterdir()) == []


def test_fatal_status_mid_run_keeps_what_was_answered(scripted, tmp_path):
    def reply(path, body, n):
        return (200, completion("x"), {}) if n <= 2 else (404, {"error": {"message": "no such model"}}, {})

    srv = scripted(reply)
    store = ResponsesFile.open(tmp_path / "r.jsonl", {"benchmark": "b"}, resume=False)
    bodies = {f"i{k}": {"model": "m", "prompt": str(k)} for k in range(6)}
    client = Client(srv.url, api_key=None, timeout_s=5)
    with pytest.raises(UserError, match="HTTP 404: no such model"):
        run_requests(client, "/completions", bodies, store, concurrency=1, retries=0, progress=False)
    store.close()
    again = ResponsesFile.open(tmp_path / "r.jsonl", {"benchmark": "b"}, resume=True)
    assert sorted(again.answered) == ["i0", "i1"]


def _fc_answer(gold_text: str, names: dict[str, str]) -> list[dict]:
    back = {orig: sent for sent, orig in names.items()}
    return [
        {"id": f"c{k}", "type": "function",
         "function": {"name": back[c.name], "arguments": json.dumps(c.arguments)}}
        for k, c in enumerate(parse_tool_calls(gold_text))
    ]  # fmt: skip


def test_chat_mode_scores_bfcl_tool_calls_in_fc_mode(scripted, tmp_path):
    """A server that answers every BFCL question with the gold calls in OpenAI tool_calls, named as they were
    sent ('.' -> '_'): BFCL's FC checker (underscore_to_dot) finds every answer valid. One answer's arguments
    are not JSON: that one is a decoder error, not a crash."""
    items = load_items("bfcl", "simple_python,parallel_multiple", limit=3)
    gold = gold_predictions("bfcl", items)
    by_question = {json.dumps(i.messages): i for i in items}
    bad = items[0].id

    def reply(path, body, n):
        if path.endswith("/models"):
            return models(path)
        item = by_question[json.dumps(body["messages"])]
        expected = {re.sub(r"[^a-zA-Z0-9_-]", "_", t["name"]): t["name"] for t in item.tools}
        assert {t["function"]["name"] for t in body["tools"]} == set(expected)
        calls = _fc_answer(gold[item.id], expected)
        if item.id == bad:
            calls[0]["function"]["arguments"] = "{number: five"
        message = {"content": None, "role": "assistant", "tool_calls": calls}
        return 200, {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}, {}

    srv = scripted(reply)
    out = tmp_path / "r.json"
    argv = [
        "--benchmark",
        "bfcl",
        "--split",
        "simple_python,parallel_multiple",
        "--limit",
        "3",
        "--mode",
        "chat",
    ]
    assert main([*argv, "--endpoint", srv.url, "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    verdicts = {i["id"]: i for i in report["items"]}
    assert [k for k, v in verdicts.items() if not v["cf"]] == [bad]
    assert verdicts[bad]["error_type"].startswith("ast_decoder")
    assert any(n.startswith("BFCL FC mode") and "underscore_to_dot True" in n for n in report["notes"])
    answer = json.loads(verdicts[items[1].id]["prediction"])  # the assistant message, names as sent
    assert answer["tool_calls"][0]["function"]["name"] == "math_factorial"
