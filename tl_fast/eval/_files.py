"""Finding and reading benchmark files: the vendored gzipped copies, or a `--data-dir` with plain ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tl_fast._io import read_text

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "benchmarks"


def find(data_dir: str | Path | None, *relative: str) -> Path:
    """The first of `relative` (as is, then with .gz) under data_dir (default: the vendored copies)."""
    root = Path(data_dir) if data_dir is not None else ASSETS
    for rel in relative:
        for candidate in (root / rel, root / f"{rel}.gz"):
            if candidate.is_file():
                return candidate
    tried = ", ".join(str(root / r) + "[.gz]" for r in relative)
    raise FileNotFoundError(f"benchmark file not found; tried {tried}")


def read_json(path: Path) -> Any:
    return json.loads(read_text(path))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_text(path).splitlines() if line.strip()]
