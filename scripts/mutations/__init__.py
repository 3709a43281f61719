"""Planted bugs for scripts/mutation_check.py: one module per area, each defining MUTATIONS.

    MUTATIONS = [
        Mutation(
            id="pkt-clip-upper",                       # unique, kebab-case, names what is broken
            file="tl_fast/data/pkt.py",                # repository-relative
            old="min(ratio, w_max)",                   # must occur exactly once in `file`
            new="ratio",                               # the planted bug
            tests=["tests/data/test_data_pkt.py"],     # pytest paths / node ids expected to fail
            why="the upper clip bound of the PKT weight is never applied",
        ),
    ]

`native=True` marks a change under csrc/: the runner rebuilds the extension (and runs `ctest` when
`ctest=True`) before the tests. A mutation is *caught* when at least one of its tests fails; the runner
restores the file whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    tests: list[str] = field(default_factory=list)
    why: str = ""
    native: bool = False
    ctest: bool = False
