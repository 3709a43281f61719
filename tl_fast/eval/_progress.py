"""Progress of long evaluation work on stderr: a tqdm bar on a terminal, a plain line every few seconds
elsewhere (CI logs, `2> file`), and always a last line with the total time.

    with Progress(200, "generate") as bar:
        bar.update(16)
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str, *, every_s: float = 10.0, enabled: bool = True):
        self.total, self.desc, self.every_s, self.enabled = total, desc, every_s, enabled
        self.done = 0
        self.start = self.last = time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="item", file=sys.stderr)
        elif enabled:
            print(f"{desc}: {total} items", file=sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every_s and self.done < self.total:
            self.last = now
            print(f"{self.desc}: {self._status(now)}", file=sys.stderr, flush=True)

    def _status(self, now: float) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"{self.done}/{self.total} items ({pct:.0f}%), {now - self.start:.1f} s"

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        print(f"{self.desc}: {self._status(time.monotonic())}", file=sys.stderr, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
