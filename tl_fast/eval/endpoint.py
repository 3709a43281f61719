"""A client for OpenAI-compatible servers (vLLM, SGLang, `transformers serve`, hosted APIs), stdlib only.

    python -m tl_fast.eval --benchmark bfcl --endpoint http://127.0.0.1:8000/v1 --served-model NAME \
        --mode chat --output runs/bfcl.json

    client = Client("http://127.0.0.1:8000", api_key=None, timeout_s=60)
    served = preflight(client, None)                      # one clear UserError when nothing answers
    store = ResponsesFile.open(path, header, resume=True)
    run_requests(client, bodies, store, concurrency=8, retries=3, backoff_s=1.0)

Requests go out from a thread pool (bounded concurrency), each with a timeout. Connection errors, timeouts,
429 and 5xx are retried with exponential backoff (429 honours Retry-After); when they run out the item is
recorded as an error, except that a server that stops accepting connections stops the run (what it answered
is saved). 401/403/404/405 stop the run at once. Every response is appended, raw, to the responses file
(JSONL: a header line with the request settings, then one line per request), which `--resume` reads so that
an answered item is never asked again. The API key is read from an environment variable, sent as a bearer
token, and masked in every message; it is never written to a file.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tl_fast._cli import UserError
from tl_fast.eval._progress import Progress

FORMAT_VERSION = 1
# Status codes that mean the whole run is misconfigured (wrong key, wrong URL, wrong method): stop at once.
FATAL_STATUS = {
    401: "the server refused the API key",
    403: "the server refused the API key",
    404: "not found",
    405: "method not allowed",
}
# Without one success, this many failed items in a row stop the run (a bad request parameter, a wrong model).
FAILURES_BEFORE_GIVING_UP = 5
_CONNECTION_ERRORS = (
    ConnectionError,
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    http.client.BadStatusLine,
    socket.gaierror,
)


class ServerLost(Exception):
    """The server stopped accepting connections in the middle of a run (answers so far are saved)."""


def base_url(url: str) -> str:
    """The API base: `http://host:8000` -> `http://host:8000/v1`; a URL with a path is kept as given."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserError(f"--endpoint {url!r}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
    base = url.strip().rstrip("/")
    return base + "/v1" if parsed.path in ("", "/") else base


@dataclass
class Reply:
    status: int | None  # None: no HTTP answer (connection error or timeout)
    body: Any = None  # parsed JSON, or None
    text: str = ""
    retry_after: float | None = None
    connection_error: bool = False


class Client:
    def __init__(self, url: str, *, api_key: str | None, timeout_s: float = 120.0):
        self.base = base_url(url)
        self.api_key = api_key or None
        self.timeout_s = timeout_s

    def mask(self, text: str) -> str:
        """`text` without the API key in it (server errors may echo request headers)."""
        text = str(text)
        return text.replace(self.api_key, "***") if self.api_key else text

    def request(
        self, method: str, path: str, body: dict | None = None, timeout_s: float | None = None
    ) -> Reply:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s) as resp:
                return _reply(resp.status, resp.read(), resp.headers)
        except urllib.error.HTTPError as err:
            return _reply(err.code, err.read(), err.headers)
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return Reply(None, text=f"no answer within {timeout_s or self.timeout_s:g} s")
            return Reply(None, text=self.mask(_describe(reason)), connection_error=True)
        except TimeoutError:
            return Reply(None, text=f"no answer within {timeout_s or self.timeout_s:g} s")
        except _CONNECTION_ERRORS as err:
            return Reply(None, text=self.mask(_describe(err)), connection_error=True)


def _describe(err: Any) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _reply(status: int, raw: bytes, headers) -> Reply:
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        body = None
    retry_after = None
    value = headers.get("Retry-After") if headers is not None else None
    if value is not None and value.strip().isdigit():
        retry_after = float(value.strip())
    return Reply(status, body, text, retry_after)


def server_message(reply: Reply) -> str:
    """The server's error message (OpenAI's {"error": {"message"}}, FastAPI's {"detail"}) or its text."""
    body = reply.body
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return reply.text.strip()[:300] or "(empty body)"


def preflight(client: Client, served_model: str | None) -> str:
    """Checks that the server answers (GET /models) and returns the model name to send."""
    reply = client.request("GET", "/models", timeout_s=min(client.timeout_s, 15.0))
    if reply.status is None:
        raise UserError(
            f"--endpoint {client.base}: cannot reach the server ({reply.text}); is it running, and is this "
            "its URL (e.g. http://127.0.0.1:8000/v1)?"
        )
    if reply.status in (401, 403):
        raise UserError(
            f"--endpoint {client.base}: HTTP {reply.status}, {client.mask(server_message(reply))}; set the "
            "API key in the variable --api-key-env names"
        )
    listed = []
    if reply.status == 200 and isinstance(reply.body, dict) and isinstance(reply.body.get("data"), list):
        listed = [str(m.get("id")) for m in reply.body["data"] if isinstance(m, dict) and m.get("id")]
    if served_model:
        return served_model
    if len(listed) == 1:
        return listed[0]
    if listed:
        shown = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
        raise UserError(f"--served-model is needed: the server lists {len(listed)} models ({shown})")
    raise UserError("--served-model is needed: the server does not list its models (GET /models)")


def ask(client: Client, path: str, body: dict, *, retries: int, backoff_s: float, stop: threading.Event):
    """One request with retries. Returns the record to save (None when the run stopped before it was sent)."""
    started = time.monotonic()
    record: dict[str, Any] = {"request": body}
    for attempt in range(retries + 1):
        if stop.is_set():
            return None
        reply = client.request("POST", path, body)
        record.update(status=reply.status, attempts=attempt + 1)
        if reply.status == 200 and _has_choice(reply.body):
            record.update(response=reply.body, elapsed_s=round(time.monotonic() - started, 3))
            return record
        if reply.status == 200:
            record["error"] = f"unexpected response body: {client.mask(reply.text[:300])}"
            return record
        if reply.status in FATAL_STATUS:
            record.update(error=f"HTTP {reply.status}: {client.mask(server_message(reply))}", fatal=True)
            return record
        retryable = reply.status is None or reply.status == 429 or reply.status >= 500
        if reply.status is None:
            record["error"] = reply.text
            record["connection_error"] = reply.connection_error
        else:
            record["error"] = f"HTTP {reply.status}: {client.mask(server_message(reply))}"
            record.pop("connection_error", None)
        if not retryable or attempt == retries:
            break
        delay = backoff_s * 2**attempt * (1.0 + 0.25 * random.random())
        if reply.retry_after is not None:
            delay = max(delay, min(reply.retry_after, 60.0))
        stop.wait(delay)
    record["elapsed_s"] = round(time.monotonic() - started, 3)
    return record


def _has_choice(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        return False
    choice = body["choices"][0]
    return isinstance(choice, dict) and ("text" in choice or isinstance(choice.get("message"), dict))


class ResponsesFile:
    """The raw responses of a run, JSONL: line 1 the header (request settings), then one record per request.

    Records are appended and flushed one by one, so a killed run keeps every answer it got; `answered`
    holds the last successful record per id.
    """

    def __init__(self, path: Path, header: dict, answered: dict[str, dict], errors_before: int):
        self.path, self.header, self.answered, self.errors_before = path, header, answered, errors_before
        self._file = None

    @classmethod
    def open(cls, path: Path, header: dict, *, resume: bool) -> ResponsesFile:
        header = {"tl_fast_responses": FORMAT_VERSION, **header}
        path = Path(path)
        if path.exists() and path.stat().st_size and not resume:
            raise UserError(
                f"{path} exists (raw responses of an earlier run); pass --resume to continue it, or choose "
                "another --output"
            )
        answered: dict[str, dict] = {}
        errors = 0
        if resume and path.exists() and path.stat().st_size:
            saved, answered, errors = _read_responses(path)
            _check_same_settings(path, saved, header)
        store = cls(path, header, answered, errors)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists() or not path.stat().st_size
        store._file = path.open("a", encoding="utf-8")
        if fresh:
            store.append(header)
        return store

    def append(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _read_responses(path: Path) -> tuple[dict, dict[str, dict], int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header, answered, errors = None, {}, 0
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # the last line of a killed run may be cut short; it is asked again
                break
            raise UserError(
                f"{path}:{n}: not JSON; the responses file is damaged (move it away to restart)"
            ) from None
        if n == 1:
            if not isinstance(record, dict) or record.get("tl_fast_responses") != FORMAT_VERSION:
                raise UserError(f"{path}: not a tl_fast responses file (line 1 is not its header)")
            header = record
        elif "response" in record:
            answered[str(record["id"])] = record
        else:
            errors += 1
    if header is None:
        raise UserError(f"{path}: empty responses file; delete it to start again")
    return header, answered, errors


def _check_same_settings(path: Path, saved: dict, header: dict) -> None:
    keys = sorted(k for k in set(saved) | set(header) if k != "endpoint" and saved.get(k) != header.get(k))
    if keys:
        diff = "; ".join(f"{k}: saved {saved.get(k)!r}, now {header.get(k)!r}" for k in keys)
        raise UserError(
            f"--resume: {path} was made with other settings ({diff[:400]}); use the same flags, or "
            "another --output"
        )


def run_requests(
    client: Client,
    path: str,
    bodies: dict[str, dict],
    store: ResponsesFile,
    *,
    concurrency: int = 8,
    retries: int = 3,
    backoff_s: float = 1.0,
    progress: bool = True,
) -> dict[str, dict]:
    """Sends every body (id -> request) and saves each record; returns {id: record} of this run.

    Raises ServerLost when the server stops accepting connections, UserError on a fatal status or when the
    first requests all fail; the records saved until then stay in the file for --resume.
    """
    stop = threading.Event()
    done: dict[str, dict] = {}
    fatal: list[dict] = []
    successes = failures_in_a_row = 0
    bar = Progress(len(bodies), "requests", enabled=progress)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {
            pool.submit(ask, client, path, body, retries=retries, backoff_s=backoff_s, stop=stop): item_id
            for item_id, body in bodies.items()
        }
        try:
            for future in as_completed(futures):
                record = future.result()
                if record is None:
                    continue
                item_id = futures[future]
                record = {"id": item_id, **record}
                store.append(record)
                done[item_id] = record
                bar.update(1)
                if "response" in record:
                    successes, failures_in_a_row = successes + 1, 0
                    continue
                failures_in_a_row += 1
                if record.get("fatal") or record.get("connection_error"):
                    fatal.append(record)
                    stop.set()
                elif not successes and failures_in_a_row >= min(FAILURES_BEFORE_GIVING_UP, len(bodies)):
                    fatal.append({**record, "every_one_failed": failures_in_a_row})
                    stop.set()
        finally:
            stop.set()  # KeyboardInterrupt included: queued requests are dropped, the file holds what came
            bar.close()
    if fatal:
        first = fatal[0]
        saved = sum("response" in r for r in done.values()) + len(store.answered)
        where = f"{saved} answers are saved in {store.path}; rerun with --resume to ask only the rest"
        if first.get("connection_error"):
            raise ServerLost(f"the server at {client.base} stopped answering ({first['error']}); {where}")
        if first.get("every_one_failed"):
            raise UserError(
                f"the first {first['every_one_failed']} requests to {client.base} all failed, the last with "
                f"{first['error']}; check --served-model and --request-param ({where})"
            )
        raise UserError(f"{client.base}{path}: {first['error']} ({where})")
    return done


def response_text(mode: str, response: dict, names: dict[str, str] | None = None) -> tuple[str, bool]:
    """(text to score, whether it came from tool_calls) of a saved response."""
    from tl_fast.eval.chat import answer_text

    choice = response["choices"][0]
    if mode == "completions":
        return str(choice.get("text") or ""), False
    message = choice.get("message") or {}
    return answer_text(message, names), bool(message.get("tool_calls"))


def count_errors(records: Iterable[dict]) -> int:
    return sum("response" not in r for r in records)
