"""MAE (mitigating adverse effects): one sample per assistant turn, minus turns whose call failed.

    samples, report = mae_split(trajectories, MAEConfig())
    tool_error("get_recipes() missing 1 required positional argument: 'from_'")  # ("pattern", ...)

A tool output signals an error when (the first rule that fires is the reason it is counted under):
  error_field  it is a JSON object (or a Python dict literal, or JSON cut off mid-way: the top-level pairs
               read before the cut) with a top-level error field (`error`, `errors`, `error_message`,
               `error_code`, `exception`, `*_error`, ...) that is not empty/null/0/false, a `status` of
               "error"/"fail", or `success`/`ok` false; the same keys inside a top-level `status`/`meta`
               object count too;
  http_status  such an object has `status`/`status_code`/`code`/`cod` 400-599; or plain text starts with an
               HTTP error status ("400 Client Error: ...", "404 Not Found", "Bad Request: ..."); or it is
               an HTML page whose <title>/<h1> names an error;
  exception    one of the first three lines of plain text starts with an exception name ("KeyError: ...",
               "requests.exceptions.HTTPError(...)", "Error: ...", "error: ...") or a traceback;
  pattern      plain text matches one of `MAEConfig.error_patterns` at its start (the paper's list,
               anchored and case-sensitive; see tl_fast.data.config.PAPER_ERROR_PATTERNS).
The final assistant turn is kept (no tool output follows it to judge), except with
`MAEConfig.keep_error_history=False`, where every turn after the first failed call is dropped, the final
one included. `authors_rule_flags` reproduces the released TL-Training rule for comparison
(scripts/mae_report.py).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tl_fast.data.config import MAEConfig
from tl_fast.data.types import Message, Sample, Trajectory

_ERROR_KEYS = {
    "error", "errors", "err", "error_message", "errormessage", "error_msg", "errmsg", "error_code",
    "errorcode", "error_description", "exception", "fault",
}  # fmt: skip
_KEY_SEP = re.compile(r"[\s\-]+")
_STATUS_KEYS = {"status", "status_code", "statuscode", "http_status", "httpstatus", "code", "cod"}
_NESTED_KEYS = {"status", "meta", "header"}
_FALSY_TEXT = {"", "0", "none", "null", "false", "ok", "success", "no error", "noerror"}
_FAIL_STATUS = {"error", "fail", "failed", "failure"}

# At the start of one of the first three lines: "Traceback ...", "KeyError: 'x'", "Error: ...",
# "error: 260004".
_EXCEPTION = re.compile(
    r"(?:Traceback \(most recent call last\)"
    r"|(?:[A-Za-z_]\w*\.)*(?:[A-Z]\w*)?(?:Error|Exception)(?=\s*(?::|\(|\Z))|error:)"
)
_HTML_ERROR = re.compile(r"<(title|h1)>[^<]*(?:\b(?i:error|not found)\b|\b[45]\d\d\b|Error\b)[^<]*</\1>")
_HTTP_PHRASES = (
    r"Bad Request|Unauthorized|Payment Required|Forbidden|Not Found|Method Not Allowed|Not Acceptable|"
    r"Request Timeout|Conflict|Gone|Unprocessable Entity|Too Many Requests|Internal Server Error|"
    r"Not Implemented|Bad Gateway|Service Unavailable|Gateway Timeout"
)
_HTTP_TEXT = re.compile(
    rf"\s*(?:HTTP(?:/[\d.]+)?\s+)?(?:[45]\d\d\s+(?:Client Error|Server Error|{_HTTP_PHRASES})\b"
    rf"|(?i:{_HTTP_PHRASES})\b)"
)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    return bool(value)


def _http_error(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return isinstance(value, int) and 400 <= value <= 599


def _top_level_pairs(text: str) -> dict[str, Any] | None:
    """The pairs of a JSON object read up to where it breaks (tool outputs are often cut off mid-payload)."""
    decoder = json.JSONDecoder()
    i = text.find("{")
    if i < 0 or text[:i].strip():
        return None
    pairs: dict[str, Any] = {}
    i += 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] != '"':
            return pairs
        try:
            key, i = decoder.raw_decode(text, i)
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            if i >= len(text) or text[i] != ":":
                return pairs
            i += 1
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return pairs
        pairs[key] = value


def _as_object(text: str) -> Any:
    """JSON, else a Python literal, else the readable prefix of a cut-off JSON object, else the text."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        pass
    if stripped[:1] in "{[" and stripped[:1]:
        try:
            with warnings.catch_warnings():  # payloads like "\/" raise SyntaxWarnings while being parsed
                warnings.simplefilter("ignore")
                return ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pairs = _top_level_pairs(stripped)
            if pairs:
                return pairs
    return text


def _object_error(obj: dict[str, Any], depth: int = 0) -> str | None:
    for key, value in obj.items():
        k = _KEY_SEP.sub("_", str(key).strip().lower())  # "Error Message", "error-message" -> error_message
        if (k in _ERROR_KEYS or k.endswith(("_error", "_errors"))) and _truthy(value):
            return "error_field"
        if k in _STATUS_KEYS and _http_error(value):
            return "http_status"
        if k == "status" and isinstance(value, str) and value.strip().lower() in _FAIL_STATUS:
            return "error_field"
        if k in ("success", "ok") and value is False:
            return "error_field"
        if depth == 0 and k in _NESTED_KEYS and isinstance(value, dict):
            nested = _object_error(value, depth + 1)
            if nested:
                return nested
    return None


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


def tool_error(output: str, cfg: MAEConfig | None = None) -> tuple[str, str] | None:
    """(reason, detail) when a tool output signals an error, else None. detail names the field or pattern."""
    cfg = cfg or MAEConfig()
    obj = _as_object(output)
    if isinstance(obj, dict):
        if cfg.structured_errors:
            reason = _object_error(obj)
            if reason:
                return reason, "object"
        return None
    if not isinstance(obj, str):
        return None  # a list, number, null or bool is a result
    text = obj.lstrip()
    if cfg.structured_errors:
        if _HTTP_TEXT.match(text):
            return "http_status", "text"
        if any(_EXCEPTION.match(line.lstrip()) for line in text.split("\n", 3)[:3]):
            return "exception", "text"
        if text.startswith("<") and _HTML_ERROR.search(text[:2000]):
            return "http_status", "html"
    for pattern, regex in zip(cfg.error_patterns, _compiled(tuple(cfg.error_patterns)), strict=True):
        if regex.match(text):
            return "pattern", pattern
    return None


# ------------------------------------------------------------------------------------------ the authors' rule

# Verbatim from Junjie-Ye/TL-Training code/mae/mae.py (data_split, is_mae=True).
AUTHORS_ERROR_LIST = (
    "is not defined", "positional argument", "unexpected keyword", "'related_searches'", "ConnectionError",
    '"error":', "not supported", "Invalid API call", "Response error",
    "Object of type SerpResults is not JSON serializable", "400 Client Error", "'error'",
    "slice indices must be integers or None or have an __index__ method", "connection error",
)  # fmt: skip
_NOT_WORD = re.compile("[^\u4e00-\u9fa5^a-z^A-Z^0-9]")  # the authors' class: also keeps '^'


def _authors_extract(sentence: str) -> str:
    return _NOT_WORD.sub("", sentence).lower()


_AUTHORS_KEYS = tuple(_authors_extract(k) for k in AUTHORS_ERROR_LIST)


def authors_rule_flags(output: str) -> str | None:
    """The first authors' pattern found after stripping punctuation and lower-casing both sides, else None."""
    text = _authors_extract(output)
    return next(
        (pat for pat, key in zip(AUTHORS_ERROR_LIST, _AUTHORS_KEYS, strict=True) if key in text), None
    )


# ---------------------------------------------------------------------------------------------- the split


@dataclass
class MAEReport:
    trajectories_in: int = 0
    assistant_turns: int = 0
    samples_out: int = 0
    final_turns: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> turns
    patterns: Counter = field(default_factory=Counter)  # pattern -> turns it dropped

    def rows(self) -> list[tuple[str, int]]:
        rows = [("trajectories in", self.trajectories_in), ("assistant turns", self.assistant_turns)]
        rows += [(f"dropped: {k}", v) for k, v in sorted(self.dropped.items())]
        rows += [("samples out", self.samples_out), ("  of which final turns", self.final_turns)]
        return rows


def turn_verdicts(traj: Trajectory, cfg: MAEConfig) -> list[tuple[int, str | None, str]]:
    """For each assistant turn: (message index, drop reason or None, detail)."""
    assistant = [i for i, m in enumerate(traj.messages) if m.role == "assistant"]
    out, cut = [], False
    for i in assistant:
        if i == assistant[-1]:
            out.append((i, "after_error_cut" if cut else None, ""))
            continue
        if cut:
            out.append((i, "after_error_cut", ""))
            continue
        nxt: Message | None = traj.messages[i + 1] if i + 1 < len(traj.messages) else None
        if nxt is None or nxt.role == "assistant":
            out.append((i, "unanswered" if cfg.drop_unanswered else None, ""))
            continue
        verdict = tool_error(nxt.content, cfg) if nxt.role == "tool" else None
        if verdict is None:
            out.append((i, None, ""))
        else:
            out.append((i, verdict[0], verdict[1]))
            cut = not cfg.keep_error_history
    return out


def mae_split(trajectories: list[Trajectory], cfg: MAEConfig | None = None) -> tuple[list[Sample], MAEReport]:
    """One Sample per kept assistant turn (history = every message before it); counts per drop reason."""
    cfg = cfg or MAEConfig()
    report, samples = MAEReport(trajectories_in=len(trajectories)), []
    for traj in trajectories:
        verdicts = turn_verdicts(traj, cfg)
        report.assistant_turns += len(verdicts)
        for turn, (i, reason, detail) in enumerate(verdicts, 1):
            if reason is not None:
                report.dropped[reason] += 1
                if reason == "pattern":
                    report.patterns[detail] += 1
                continue
            final = turn == len(verdicts)
            samples.append(
                Sample(f"{traj.id}#turn{turn}", traj.tools, traj.messages[:i], traj.messages[i], turn, final)
            )
            report.final_turns += final
    report.samples_out = len(samples)
    return samples, report
