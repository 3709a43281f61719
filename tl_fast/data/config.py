"""Configuration of the data pipeline: one dataclass per stage, each field documented once.

    data = DataConfig(data="trajs.jsonl.gz", max_length=4096)
    mae = MAEConfig(keep_error_history=False)        # cut a trajectory at its first failed call
    render = RenderConfig(call_style="json", tool_style="json", chat_template="tokenizer")
    pkt = PKTConfig(w_max=9.0, arg_name_keys=True)

The fields carry `metadata={"help": ..., "choices": ...}`; `tl_fast._flags` turns them into the flags of both
`python -m tl_fast.train` and `python -m tl_fast.data prepare`, so the two CLIs share names and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The authors' error list (Junjie-Ye/TL-Training code/mae/mae.py), each pattern rewritten as a regular
# expression that must match at the start of a plain-text tool output (re.match, case-sensitive), in the shape
# of the message it comes from. The authors instead strip all punctuation, lower-case and search anywhere, so
# '"error":' and "'error'" become "error" and flag every output that mentions the word. Those two (and
# "400 Client Error") are covered by the structured checks in tl_fast.data.mae (error fields, HTTP statuses).
PAPER_ERROR_PATTERNS: tuple[str, ...] = (
    r"name '[^']*' is not defined",  # 'is not defined' (NameError)
    r"[\w.]+\(\) (?:missing \d+ required |takes \d+ |takes from \d+ to \d+ )positional argument",  # TypeError
    r"[\w.]+\(\) got an unexpected keyword argument",  # 'unexpected keyword' (TypeError)
    r"'[^'\s]+'\s*\Z",  # "'related_searches'": a KeyError's message is the bare quoted key
    r"(?:requests\.exceptions\.)?ConnectionError\b|HTTPS?ConnectionPool\(",  # 'ConnectionError'
    r"[^\n]*\bnot supported\b",  # 'not supported' (first line only)
    r"Invalid API call\b",
    r"Response error\b",
    r"Object of type \w+ is not JSON serializable",  # generalizes '... SerpResults ...'
    r"slice indices must be integers or None or have an __index__ method",
    r"[Cc]onnection error\b",  # 'connection error'
)


@dataclass
class DataConfig:
    """Which trajectories are read, how they are decontaminated, and which samples are long enough to keep."""

    data: str | None = field(
        default=None,
        metadata={
            "help": "trajectories: json / jsonl (.gz) or a datasets folder; unset = the vendored sample"
        },
    )
    data_format: str = field(
        default="auto",
        metadata={
            "help": "record format (auto detects per record)",
            "choices": ("auto", "rotllama", "tl_raw", "openai"),
        },
    )
    max_samples: int | None = field(
        default=None, metadata={"help": "use at most this many samples (after MAE)"}
    )
    max_length: int | None = field(
        default=None,
        metadata={
            "help": "drop SFT samples longer than this many tokens; 0 keeps all; unset = the model's context "
            "(trainer: --model's max_position_embeddings, tiny demo 2048; data prepare: the tokenizer's "
            "model_max_length)"
        },
    )
    strict: bool = field(default=False, metadata={"help": "stop at the first malformed record, naming it"})
    eval_sets: str | None = field(
        default="shipped",
        metadata={
            "help": "eval files whose queries are removed from training: comma-separated paths, or 'shipped' "
            "(the RoTBench, ToolAlpaca and BFCL sets tl_fast ships)"
        },
    )
    decontaminate: bool = field(
        default=True,
        metadata={"help": "drop training trajectories whose normalized user query is an eval query"},
    )
    decontam_rule: str = field(
        default="exact",
        metadata={
            "help": "exact: same normalized query; near: shingle overlap",
            "choices": ("exact", "near"),
        },
    )


@dataclass
class MAEConfig:
    """Mitigating adverse effects: which assistant turns become samples."""

    keep_error_history: bool = field(
        default=True,
        metadata={
            "help": "keep failed earlier calls (and their outputs) in the history, as the paper does; "
            "False cuts the trajectory at its first failed call"
        },
    )
    error_patterns: tuple[str, ...] = field(
        default=PAPER_ERROR_PATTERNS,
        metadata={
            "help": "regexes matched (re.match, case-sensitive) at the start of plain-text tool outputs"
        },
    )
    structured_errors: bool = field(
        default=True,
        metadata={
            "help": "also detect error fields, exception names and HTTP error statuses in tool outputs"
        },
    )
    drop_unanswered: bool = field(
        default=True,
        metadata={"help": "drop a non-final call that got no answer (the next turn is the assistant again)"},
    )


@dataclass
class RenderConfig:
    """How a sample becomes text: tool list, call syntax and chat template."""

    call_style: str = field(
        default="python",
        metadata={
            "help": 'python: name(a=\'v\') | json: {"name", "arguments"}',
            "choices": ("python", "json"),
        },
    )
    tool_style: str = field(
        default="python",
        metadata={
            "help": "python: signatures with docstrings | json: schemas",
            "choices": ("python", "json"),
        },
    )
    chat_template: str = field(
        default="paper",
        metadata={
            "help": "paper: System:/User:/Assistant:/Output: | tokenizer: its own template",
            "choices": ("paper", "tokenizer"),
        },
    )

    def __post_init__(self):
        for name, allowed in (
            ("call_style", ("python", "json")),
            ("tool_style", ("python", "json")),
            ("chat_template", ("paper", "tokenizer")),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"RenderConfig.{name}={value!r}; expected one of {allowed}")


@dataclass
class PKTConfig:
    """Prioritizing key tokens: the per-token weights of the SFT loss."""

    enabled: bool = field(
        default=True, metadata={"help": "False gives every trained token weight 1 (plain SFT)"}
    )
    w_max: float = field(
        default=9.0, metadata={"help": "cap of the key-token weight |non-key|/|key| (paper: 9)"}
    )
    arg_name_keys: bool = field(
        default=False, metadata={"help": "also count argument-name tokens as key tokens"}
    )

    def __post_init__(self):
        if self.w_max < 1:
            raise ValueError(f"PKTConfig.w_max={self.w_max} must be >= 1")
