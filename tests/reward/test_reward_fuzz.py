"""A seeded slice of the differential fuzz (scripts/fuzz_parser.py runs the million): mutated real gemma4
BFCL outputs, in every format the parser reads, get the same parse, BFCL decode and verdict from the C++ core
and the Python twin. Seeded, so CI sees the same inputs on every run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tl_fast._native_glue import native_available

pytestmark = pytest.mark.skipif(not native_available(), reason="native core not built")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_parser.py"


def _fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_parser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("protocol", ["tl", "bfcl"])
def test_native_and_twin_agree_on_mutated_outputs(protocol):
    fuzz = _fuzz()
    items = fuzz.load_items()
    checker = fuzz.Checker(items, protocol)
    found, seen, formats = [], 0, set()
    for i, k, text in fuzz.inputs(items, seed=2024, start=0, count=4000):
        seen += 1
        formats.update(m for m in ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", '"choices"') if m in text)
        what = checker.disagreement(text, k)
        if what is not None:
            found.append((i, text, what))
    assert seen == 4000 and len(formats) == 4  # the slice mutates every format, not only Python calls
    assert not found, found[:5]


def test_mutations_stay_in_range_and_vary():
    fuzz = _fuzz()
    items = fuzz.load_items()
    texts = [t for _, _, t in fuzz.inputs(items, seed=2024, start=0, count=500)]
    assert texts == [t for _, _, t in fuzz.inputs(items, seed=2024, start=0, count=500)]  # reproducible
    assert len(set(texts)) > 450
    assert any(any(ord(c) > 127 for c in t) for t in texts) and any("\0" in t for t in texts)
