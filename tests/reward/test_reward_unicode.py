"""The C++ core's Unicode tables (csrc/toolcall/unicode_data.h, from scripts/gen_unicode_tables.py) against
the running Python: PEP 3131 names (XID_Start / XID_Continue, NFKC) and repr's escapes, code point by code
point."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tl_fast._native_glue import native_available, native_module

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.skipif(not native_available(), reason="native core not built"),
    pytest.mark.skipif(
        native_available() and native_module().UNICODE_VERSION != unicodedata.unidata_version,
        reason="this Python's Unicode version differs from the tables' (regenerate them to compare)",
    ),
]
CODE_POINTS = [cp for cp in range(0x80, 0x110000) if not 0xD800 <= cp <= 0xDFFF]


def test_generated_header_is_what_this_python_generates():
    script = ROOT / "scripts" / "gen_unicode_tables.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout


def test_every_code_point_as_a_name_start_and_continuation():
    parse = native_module().parse_tool_calls
    wrong = []
    for cp in CODE_POINTS:
        c = chr(cp)
        for name in ("a" + c, c + "a"):
            ok, calls, _ = parse(f"{name}(x=1)", "python")
            if name.isidentifier():
                expected = unicodedata.normalize("NFKC", name)
                if not ok or calls[0][0] != expected:
                    wrong.append((hex(cp), name, calls))
            elif ok:
                wrong.append((hex(cp), name, "accepted"))
    assert not wrong, wrong[:10]


def test_combining_sequences_compose_as_nfkc():
    parse = native_module().parse_tool_calls
    # reordering (marks of two classes), composition across a mark, Hangul jamo, compatibility forms
    for name in (
        "a\u0323\u0302b",
        "e\u0301\u0301",
        "\u1100\u1161\u11a8x",
        "ﬃ\u0301",
        "Å\u0301",
        "x\u0345\u0301",
    ):
        ok, calls, _ = parse(f"{name}()", "python")
        assert ok and calls[0][0] == unicodedata.normalize("NFKC", name), name


def test_repr_escapes_what_python_escapes():
    decode = native_module().bfcl_decode
    wrong = []
    for cp in CODE_POINTS[::3]:
        s = "x" + chr(cp)
        got = decode(f"[f(a=g({s!r}))]")
        if got != [{"f": {"a": f"g({s!r})"}}]:
            wrong.append((hex(cp), got))
    assert not wrong, wrong[:10]
