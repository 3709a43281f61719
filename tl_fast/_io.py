"""File helpers shared by tl_fast.data and tl_fast.eval; no heavy imports (eval scoring stays torch-free)."""

from __future__ import annotations

import gzip
from pathlib import Path


def read_text(path: Path) -> str:
    """A UTF-8 text file, gunzipped when its name ends in .gz."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text(encoding="utf-8")
