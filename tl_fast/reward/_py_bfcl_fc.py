"""Pure-Python twin of csrc/bfcl_fc.cpp: one BFCL function-calling (FC) mode result, decoded.

    from tl_fast.reward._py_bfcl_fc import decode_fc
    decode_fc('[{"get_weather": "{\\"city\\": \\"Paris\\"}"}]')  # ("calls", [{"get_weather": {...}}], False)

BFCL's OpenAI-style FC handlers (ShishirPatil/gorilla, bfcl_eval/model_handler/api_inference/
openai_completion.py, OpenAICompletionsHandler.decode_ast with is_fc_model; the Claude, Mistral and OSS FC
handlers run the same loop) decode a result as

    for invoked_function in result:
        name = list(invoked_function.keys())[0]
        params = json.loads(invoked_function[name])
        decoded_output.append({name: params})

and the AST runner (eval_checker/eval_runner.py, _evaluate_single_ast_entry) rejects a decoded entry whose
params are not a dict (is_function_calling_format_output). A string result is the model's text message:
iterating it fails unless it is empty. Read beyond BFCL, where its loop would raise: OpenAI tool calls, an
assistant message and a whole chat-completions response (csrc/bfcl.h lists the shapes).

JSON is read with the limits of the C++ core (64-bit integers, nesting 64, no NaN / Infinity, no lone
surrogates), where json.loads itself would accept more.
"""

from __future__ import annotations

from typing import Any

from tl_fast.reward._py_json import decode as decode_json
from tl_fast.reward._py_parse import MAX_INPUT_BYTES

_JSON_SPACE = " \t\n\r"


def loads(s: str) -> Any:
    """json.loads within the core's limits (the parser's JSON reader); ValueError where the C++ parse_json
    fails."""
    return decode_json(s)


class _State:
    def __init__(self) -> None:
        self.calls: list[dict[str, dict]] = []
        self.wrong_format = False

    def add(self, name: str, params: Any) -> None:
        if not isinstance(params, dict):
            self.wrong_format = True
        else:
            self.calls.append({name: params})

    def add_json(self, name: str, arguments: str) -> bool:
        try:
            params = loads(arguments)
        except ValueError:
            return False  # json.loads raises
        self.add(name, params)
        return True

    def decoded(self) -> tuple[str, list, bool]:
        return ("wrong_format", [], False) if self.wrong_format else ("calls", self.calls, False)


_FAILED = ("failed", [], False)


def _text_message(empty: bool) -> tuple[str, list, bool]:
    return ("calls", [], True) if empty else ("failed", [], True)


def _openai_call(v: dict, st: _State) -> int:
    """1 read, 0 broken, -1 not an OpenAI tool call ({"function": {...}} or a flat {"name", "arguments"})."""
    fn = v.get("function")
    if not (isinstance(fn, dict) and isinstance(fn.get("name"), str)):
        if len(v) < 2 or "arguments" not in v or not isinstance(v.get("name"), str):
            return -1
        fn = v
    args = fn.get("arguments")
    if isinstance(args, str):
        return int(st.add_json(fn["name"], args))
    if isinstance(args, dict):
        st.add(fn["name"], args)
        return 1
    return 0


def _entry(entry: Any, st: _State) -> bool:
    if not isinstance(entry, dict):
        return False  # a str has no .keys()
    r = _openai_call(entry, st)
    if r >= 0:
        return r == 1
    if not entry:
        return False  # IndexError
    name, arguments = next(iter(entry.items()))
    if not isinstance(arguments, str):
        return False  # json.loads of a non-string: TypeError
    return st.add_json(name, arguments)


def _decode_value(v: Any, top: bool) -> tuple[str, list, bool]:
    if isinstance(v, str):
        return _text_message(v == "")
    st = _State()
    if isinstance(v, list):
        all_text = all(isinstance(e, str) for e in v)  # Claude keeps a text answer as a list of strings
        for entry in v:
            if not _entry(entry, st):
                return ("failed", [], all_text)
        return st.decoded()
    if not isinstance(v, dict):
        return _FAILED  # iterating a number, bool or None
    if not v:
        return st.decoded()  # iterating an empty dict gives []
    if "choices" in v and top:
        choices = v["choices"]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return _FAILED
        message = choices[0].get("message")
        return _decode_value(message, False) if isinstance(message, dict) else _FAILED
    if "tool_calls" in v or "role" in v or "content" in v:
        calls = v.get("tool_calls")
        if isinstance(calls, list) and calls:
            for call in calls:
                if not isinstance(call, dict) or _openai_call(call, st) != 1:
                    return _FAILED
            return st.decoded()
        if calls is not None and not isinstance(calls, list):
            return _FAILED
        content = v.get("content")
        if content is None:
            return _text_message(True)
        if isinstance(content, (str, list)):
            return _text_message(len(content) == 0)
        return _FAILED
    return st.decoded() if _openai_call(v, st) == 1 else _FAILED


def decode_fc(text: str) -> tuple[str, list[dict[str, dict]], bool]:
    """(status, calls, is_text_message); status "calls", "failed" (decode_ast raised) or "wrong_format"."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES or "\0" in text:
        return _FAILED
    if any("\ud800" <= c <= "\udfff" for c in text):
        return _FAILED
    try:
        value = loads(text)
    except ValueError:
        stripped = text.lstrip(_JSON_SPACE)
        if stripped[:1] in ("[", "{"):
            return _FAILED  # a result cut short, not a message
        return _text_message(text == "")
    return _decode_value(value, True)
