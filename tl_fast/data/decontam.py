"""Decontamination: drop training trajectories whose user query is an evaluation query.

    queries = load_eval_queries(shipped_eval_files())  # RoTBench, ToolAlpaca, BFCL shipped with tl_fast
    kept, report = decontaminate(trajectories, queries, rule="exact")

Rule "exact": the normalized queries are equal. Normalization: Unicode NFKC, case-folded, the ReAct end marker
"Begin!" removed, every run of non-alphanumeric characters turned into one space, ends stripped.
Rule "near": "exact", or the Jaccard similarity of the two queries' word 3-gram sets (word sets for queries of
fewer than 3 words) is at least `threshold` (default 0.8): reworded punctuation, an added word or two.
A trajectory is keyed on its first user message (`Trajectory.query`), the task it solves.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_fast._io import read_text
from tl_fast.data.types import Trajectory

ASSETS = Path(__file__).resolve().parent.parent / "assets"
_NON_ALNUM = re.compile(r"[\W_]+")
_BEGIN = re.compile(r"\s*\bbegin!\s*\Z")


def normalize_query(text: str) -> str:
    text = _BEGIN.sub("", unicodedata.normalize("NFKC", text).casefold())
    return _NON_ALNUM.sub(" ", text).strip()


def _shingles(norm: str) -> frozenset:
    words = norm.split()
    if len(words) < 3:
        return frozenset(words)
    return frozenset(zip(words, words[1:], words[2:], strict=False))


# ---------------------------------------------------------------------------------------------- eval files


def shipped_eval_files() -> list[Path]:
    """The evaluation sets vendored under tl_fast/assets/benchmarks (question files, not answers)."""
    root = ASSETS / "benchmarks"
    files = sorted((root / "rotbench" / "First_Turn").glob("*.json*"))
    files += sorted((root / "toolalpaca").glob("eval_*.json*"))
    files += sorted((root / "bfcl").glob("BFCL_*.json*"))
    return files


def _user_turns(messages: Any) -> list[str]:
    out = []
    for m in messages if isinstance(messages, list) else []:
        if isinstance(m, list):  # BFCL: a list of turns, each a list of messages
            out += _user_turns(m)
        elif isinstance(m, dict):
            role, content = m.get("role", m.get("from")), m.get("content", m.get("value"))
            if role == "user" and isinstance(content, str):
                out.append(content)
    return out


def _queries_of(record: Any) -> list[str]:
    if not isinstance(record, dict):
        return []
    if isinstance(record.get("Instructions"), list):  # ToolAlpaca: one API with its instructions
        return [q for q in record["Instructions"] if isinstance(q, str)]
    if "conversations" in record:  # RoTBench First_Turn: the first user turn
        return _user_turns(record["conversations"])[:1]
    if "question" in record:  # BFCL
        q = record["question"]
        return [q] if isinstance(q, str) else _user_turns(q)
    if "messages" in record:
        return _user_turns(record["messages"])[:1]
    q = record.get("query", record.get("instruction"))
    return [q] if isinstance(q, str) else []


def load_eval_queries(paths: list[str | Path] | str | Path) -> dict[str, list[str]]:
    """Queries of each evaluation file (RoTBench First_Turn .json, ToolAlpaca eval .json, BFCL .json/.jsonl,
    optionally .gz), keyed by file name without extensions. Raises if a file yields no query."""
    if isinstance(paths, (str, Path)):
        paths = [p for p in str(paths).split(",") if p]
    out: dict[str, list[str]] = {}
    for path in map(Path, paths):
        text = read_text(path)
        try:
            data = json.loads(text)
            records = data if isinstance(data, list) else [data]
        except json.JSONDecodeError:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        queries = [q for r in records for q in _queries_of(r)]
        if not queries:
            raise ValueError(f"no evaluation queries found in {path} (expected RoTBench, ToolAlpaca or BFCL)")
        parent = "rotbench" if path.parent.name == "First_Turn" else path.parent.name
        name = path.name.split(".json")[0]
        key = f"{parent}/{name}" if parent else name
        out[key] = queries
    return out


# ---------------------------------------------------------------------------------------------- decontaminate


@dataclass
class DecontamReport:
    rule: str
    trajectories_in: int = 0
    removed: int = 0
    eval_queries: int = 0
    removed_by_source: Counter = field(default_factory=Counter)  # eval file -> trajectories it removed
    eval_hit: Counter = field(default_factory=Counter)  # eval file -> its distinct queries found in training
    matches: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (trajectory id, eval file, eval query)

    def rows(self) -> list[tuple[str, int]]:
        rows = [("trajectories in", self.trajectories_in)]
        rows += [
            (f"removed ({self.rule}), query in {k}", v) for k, v in sorted(self.removed_by_source.items())
        ]
        rows += [
            (f"removed ({self.rule}), any eval set", self.removed),
            ("kept", self.trajectories_in - self.removed),
        ]
        return rows


def decontaminate(
    trajectories: list[Trajectory],
    eval_queries: dict[str, list[str]] | list[str],
    rule: str = "exact",
    threshold: float = 0.8,
) -> tuple[list[Trajectory], DecontamReport]:
    """The trajectories whose query matches no eval query under `rule` ("exact" | "near"), and counts."""
    if rule not in ("exact", "near"):
        raise ValueError(f"unknown decontamination rule {rule!r}; expected 'exact' or 'near'")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold} must be in (0, 1]")
    if not isinstance(eval_queries, dict):
        eval_queries = {"eval": list(eval_queries)}
    exact: dict[str, set[str]] = defaultdict(set)  # normalized query -> sources
    entries: list[tuple[str, str, frozenset]] = []  # (source, normalized, shingles)
    index: dict[Any, list[int]] = defaultdict(list)
    for source, queries in eval_queries.items():
        for q in queries:
            norm = normalize_query(q)
            if not norm:
                continue
            exact[norm].add(source)
            if rule == "near":
                sh = _shingles(norm)
                for s in sh:
                    index[s].append(len(entries))
                entries.append((source, norm, sh))
    report = DecontamReport(rule, len(trajectories), eval_queries=sum(map(len, eval_queries.values())))
    hit: dict[str, set[str]] = defaultdict(set)
    kept = []
    for traj in trajectories:
        norm = normalize_query(traj.query)
        found = {(src, norm) for src in exact.get(norm, ())}
        if not found and rule == "near" and norm:
            sh = _shingles(norm)
            overlap = Counter(j for s in sh for j in index.get(s, ()))
            for j, inter in overlap.items():
                src, enorm, esh = entries[j]
                if inter / (len(sh) + len(esh) - inter) >= threshold:
                    found.add((src, enorm))
        if not found:
            kept.append(traj)
            continue
        report.removed += 1
        for src in sorted({s for s, _ in found}):
            report.removed_by_source[src] += 1
        for src, enorm in sorted(found):
            hit[src].add(enorm)
            report.matches.append((traj.id, src, enorm))
    report.eval_hit = Counter({src: len(v) for src, v in hit.items()})
    return kept, report
