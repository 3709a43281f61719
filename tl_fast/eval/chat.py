"""Chat mode (function calling): a benchmark item as OpenAI chat messages plus `tools=`, and the answer read
back from the assistant message. Shared by `--endpoint --mode chat` and `--model --mode chat`.

    request = chat_request("bfcl", item)     # ChatRequest(messages, tools, names)
    text = answer_text(response["choices"][0]["message"], request.names)

Tools follow BFCL's OpenAI handlers (berkeley-function-call-leaderboard, bfcl_eval/model_handler/utils.py
`convert_to_tool` with `GORILLA_TO_OPENAPI`): characters OpenAI forbids in a function name ("." in BFCL)
become "_", parameter types become JSON-schema types, a float parameter gets `format: float` and says so in
its description. On RoTBench and ToolAlpaca the names in returned `tool_calls` are mapped back to the
benchmark's; on BFCL they are kept, and its FC checker expects "a.b" as "a_b" (underscore_to_dot).

The answer is the message's `tool_calls` as JSON (`[{"type": "function", "function": {"name", "arguments"}}]`,
arguments as the server sent them), which `tl_fast.parse_tool_calls` reads; with no tool calls, its `content`.
On BFCL the whole assistant message is the answer (`fc_message`), scored in BFCL's FC mode.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

# bfcl_eval/constants/type_mappings.py GORILLA_TO_OPENAPI (the Java/JS-only names included)
GORILLA_TO_OPENAPI = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
}
_BAD_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")  # OpenAI: ^[a-zA-Z0-9_-]{1,64}$


@dataclass
class ChatRequest:
    """`messages` and `tools` as /v1/chat/completions takes them; `names`: sent name -> benchmark name."""

    messages: list[dict[str, str]]
    tools: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)


def chat_request(benchmark: str, item) -> ChatRequest:
    """The item as a function-calling chat: its messages, its tools as OpenAI `tools`.

    RoTBench's system prompt is its tool list and ReAct instructions, so it is left out (the tools go in
    `tools=`); ToolAlpaca's system line (the API's name and description) and BFCL's messages are kept.
    """
    messages = [dict(m) for m in item.messages]
    if benchmark == "rotbench":
        messages = [m for m in messages if m["role"] != "system"]
    tools, names = [], {}
    for tool in item.tools:
        function = _openai_function(tool)
        names.setdefault(function["name"], tool["name"])
        tools.append({"type": "function", "function": function})
    return ChatRequest(messages, tools, names)


def _openai_function(tool: dict[str, Any]) -> dict[str, Any]:
    function = copy.deepcopy(tool)
    function["name"] = _BAD_NAME_CHARS.sub("_", tool["name"])
    params = function.setdefault("parameters", {})
    params["type"] = "object"
    params["properties"] = _cast_types(params.get("properties") or {})
    return function


def _cast_types(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's _cast_to_openai_type, step for step (unknown or absent types become "string")."""
    for spec in properties.values():
        if not isinstance(spec, dict):
            continue
        given = spec.get("type")
        if given == "float":
            spec["format"] = "float"
            spec["description"] = spec.get("description", "") + " This is a float type value."
        spec["type"] = _openai_type(given)
        if spec["type"] not in ("array", "object"):
            continue
        if isinstance(spec.get("properties"), dict):
            spec["properties"] = _cast_types(spec["properties"])
        elif isinstance(spec.get("items"), dict):  # list of any / list of list / list of dict
            items = spec["items"]
            items["type"] = _openai_type(items.get("type"))
            if items["type"] == "array" and isinstance(items.get("items"), dict):
                items["items"]["type"] = _openai_type(items["items"].get("type"))
            elif items["type"] == "object" and isinstance(items.get("properties"), dict):
                items["properties"] = _cast_types(items["properties"])
    return properties


def _openai_type(given: Any) -> str:
    return GORILLA_TO_OPENAPI.get(given, "string") if isinstance(given, str) else "string"


def answer_text(message: dict[str, Any] | None, names: dict[str, str] | None = None) -> str:
    """The text to score from an OpenAI assistant message: its tool calls as JSON, else its content."""
    if not isinstance(message, dict):
        return ""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        return json.dumps([_rename(call, names or {}) for call in calls], ensure_ascii=False)
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def fc_message(message: dict[str, Any] | None, stop: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """An assistant message as BFCL's FC mode scores it: `{"role", "content"}` (content cut at the stop
    strings, as every answer is) plus the `tool_calls` as the server sent them, names as sent (BFCL's
    underscore_to_dot expects "a.b" as "a_b"). The same shape for served and in-process answers."""
    from tl_fast.eval.stops import cut_at_stop

    message = message if isinstance(message, dict) else {}
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    out: dict[str, Any] = {
        "role": "assistant",
        "content": cut_at_stop(content, stop) if isinstance(content, str) else "",
    }
    if isinstance(message.get("tool_calls"), list) and message["tool_calls"]:
        out["tool_calls"] = message["tool_calls"]
    return out


def _rename(call: Any, names: dict[str, str]) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    function = dict(call["function"])
    if function.get("name") in names:
        function["name"] = names[function["name"]]
    return {"type": call.get("type", "function"), "function": function}
