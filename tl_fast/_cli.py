"""What every tl_fast command line shares: one-line user errors (exit status 2), dtype names, model paths.

    from tl_fast._cli import UserError, run_cli
    def main(argv=None) -> int:
        return run_cli(_main, argv, prog="python -m tl_fast.eval")

A `UserError` is a mistake the user can fix (a bad flag value, a missing file, unusable data): the CLI prints
`<prog>: error: <message>` on one line and exits with status 2, as argparse does for a bad flag. Any other
exception is a bug and keeps its traceback. `--debug` shows the traceback for user errors too.

Torch and transformers are imported only inside the functions that need them, so `--help` stays fast.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse


class UserError(Exception):
    """A mistake the user can fix; the message names the bad value and what to do instead."""


def run_cli(main: Callable[[list[str]], int], argv: Sequence[str] | None, *, prog: str) -> int:
    """Runs `main(argv)`; a UserError becomes one line on stderr and exit status 2 (unless --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        return main(args)
    except UserError as exc:
        if debug:
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr, flush=True)
        return 2


# Accepted spellings -> canonical short name. Trainer and evaluator take the same ones.
_DTYPES = {
    "auto": "auto",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
}
DTYPE_CHOICES = "auto, bf16 (bfloat16), fp16 (float16), fp32 (float32)"


def dtype_name(name: str, flag: str = "--dtype") -> str:
    """Canonical dtype name ('auto' | 'bf16' | 'fp16' | 'fp32') for any accepted spelling."""
    canonical = _DTYPES.get(str(name).strip().lower())
    if canonical is None:
        raise UserError(f"{flag} {name!r}: expected one of {DTYPE_CHOICES}")
    return canonical


def torch_dtype(name: str, device_type: str, flag: str = "--dtype"):
    """The torch dtype for a name; 'auto' is bf16 on CUDA and fp32 elsewhere."""
    import torch

    canonical = dtype_name(name, flag)
    if canonical == "auto":
        return torch.bfloat16 if device_type == "cuda" else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[canonical]


def check_device(name: str, flag: str = "--device") -> str:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N', checked against what this machine has."""
    value = str(name).strip().lower()
    if value == "auto":
        return value
    if value != "cpu" and not (value == "cuda" or value.startswith("cuda:")):
        raise UserError(f"{flag} {name!r}: expected auto, cpu, cuda or cuda:N")
    if value.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"{flag} {name}: no CUDA device is visible here; use --device cpu or auto")
        index = value.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise UserError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return value


def looks_local(path: str) -> bool:
    """True when `path` can only mean a folder on disk, never a Hugging Face Hub id (`org/name`)."""
    if path.startswith(("/", "./", "../", "~", ".\\")) or path in (".", "..") or "\\" in path:
        return True
    parts = Path(path).parts
    if len(parts) > 2 or path.endswith("/"):
        return True
    # `runs/x` whose first folder exists here is a local path with a typo, not a Hub organisation
    return len(parts) == 2 and Path(parts[0]).is_dir()


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub (HF_ENDPOINT, default huggingface.co) answers a TCP connect within `timeout` s."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout).close()
    except OSError:
        return False
    return True


def check_model_path(path: str, flag: str = "--model") -> str:
    """`path` if it is an existing folder or a Hub id worth asking for; else a UserError at once.

    A path that looks local and does not exist fails here instead of after transformers' network retries;
    a Hub id is refused when it is not in the local cache and the Hub cannot be reached.
    """
    if Path(path).expanduser().exists():
        if not Path(path).expanduser().is_dir():
            raise UserError(f"{flag} {path}: expected a model folder (config.json + weights), got a file")
        return str(Path(path).expanduser())
    if looks_local(path):
        raise UserError(f"{flag} {path}: no such folder")
    if _in_hub_cache(path) or hub_reachable():
        return path
    raise UserError(
        f"{flag} {path}: not a local folder, not in the Hugging Face cache, and the Hub is unreachable "
        "(set HF_ENDPOINT, or give a local path)"
    )


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id the Hub would reject (bad characters) is not cached either
        return False
