"""Where a generated answer ends: the next turn's markers, cut on our side for every answer source (servers
differ on whether a `stop` string is included in what they return). Torch-free."""

from __future__ import annotations

from collections.abc import Sequence


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest stop string (exclusive)."""
    cut = len(text)
    for s in stop:
        pos = text.find(s)
        if 0 <= pos < cut:
            cut = pos
    return text[:cut]


# A first-turn answer ends where the model starts writing the next turn itself (paper template or ReAct).
STOP_STRINGS = ("\nOutput:", "\nUser:", "\nSystem:", "\nObservation:")
