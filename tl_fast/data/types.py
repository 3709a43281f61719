"""The typed records every input format is converted to: Tool, Call, Message, Trajectory, Sample.

    tool = Tool("get_weather", "Weather.", {"city": {"type": "string"}}, required=("city",))
    traj = Trajectory("t0", [tool], [Message("user", "Weather in Paris?"),
                                     Message("assistant", calls=(Call("get_weather", {"city": "Paris"}),))])

Roles are normalized to "user", "assistant" and "tool" (a tool's output). The system prompt is not a message:
its tool list becomes `Trajectory.tools` and the rest is dropped (the renderer writes its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("user", "assistant", "tool")


@dataclass(frozen=True)
class Tool:
    """One offered tool as a JSON schema: `properties` maps parameter name -> {"type", "description", ...}."""

    name: str
    description: str = ""
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> Tool:
        """Reads OpenAI ({"type": "function", "function": {...}}), BFCL and RoTLLaMA (top-level
        "required")."""
        if not isinstance(schema, dict):
            raise ValueError(f"tool schema must be an object, got {type(schema).__name__}")
        if isinstance(schema.get("function"), dict):
            schema = schema["function"]
        name = schema.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"tool schema without a string 'name': {str(schema)[:80]!r}")
        params = schema.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValueError(f"tool {name!r}: 'parameters' must be an object")
        props = params.get("properties") or {}
        if not isinstance(props, dict):
            raise ValueError(f"tool {name!r}: 'parameters.properties' must be an object")
        required = params.get("required", schema.get("required", [])) or []
        return cls(
            name=name,
            description=str(schema.get("description") or ""),
            properties={str(k): dict(v) if isinstance(v, dict) else {} for k, v in props.items()},
            required=tuple(str(r) for r in required if str(r) in props),
        )

    def to_schema(self) -> dict[str, Any]:
        """The OpenAI/BFCL JSON-schema dict the reward categorizer and chat templates take."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": self.properties, "required": list(self.required)},
        }


@dataclass(frozen=True)
class Call:
    """A tool call: name and keyword arguments (JSON values)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Message:
    """A turn. Assistant turns carry their `calls` (empty for a plain-text answer); `thought` is ReAct
    text."""

    role: str
    content: str = ""
    calls: tuple[Call, ...] = ()
    thought: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"message role {self.role!r} is not one of {ROLES}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "calls": [c.to_dict() for c in self.calls],
            "thought": self.thought,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        calls = tuple(Call(c["name"], dict(c["arguments"])) for c in d.get("calls") or ())
        return cls(d["role"], d.get("content", ""), calls, d.get("thought", ""))


@dataclass
class Trajectory:
    """One conversation: the offered tools and the user/assistant/tool turns, in order."""

    id: str
    tools: list[Tool]
    messages: list[Message]
    source: str = ""

    @property
    def query(self) -> str:
        """The first user message: the task the trajectory solves (decontamination keys on it)."""
        return next((m.content for m in self.messages if m.role == "user"), "")


@dataclass
class Sample:
    """One SFT/PPO sample: the history before an assistant turn and that turn as the target."""

    id: str
    tools: list[Tool]
    history: list[Message]
    target: Message
    turn: int  # 1-based index of the target among the trajectory's assistant turns
    is_final: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A flat, Arrow-friendly record (`datasets` stores tool schemas as JSON text)."""
        import json

        return {
            "id": self.id,
            "tools": json.dumps([t.to_schema() for t in self.tools], ensure_ascii=False),
            "history": json.dumps([m.to_dict() for m in self.history], ensure_ascii=False),
            "target": json.dumps(self.target.to_dict(), ensure_ascii=False),
            "turn": self.turn,
            "is_final": self.is_final,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        import json

        return cls(
            id=d["id"],
            tools=[Tool.from_schema(t) for t in json.loads(d["tools"])],
            history=[Message.from_dict(m) for m in json.loads(d["history"])],
            target=Message.from_dict(json.loads(d["target"])),
            turn=int(d["turn"]),
            is_final=bool(d["is_final"]),
        )
