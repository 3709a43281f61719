"""Python-call syntax for the Python twin (csrc/toolcall/format_python.cpp): `f(a=1)`, `[f(a=1), g.h('x')]`,
one call
per line or ';', through `ast.parse` (never `eval`); literal values only. Also the string-literal scanner
that the
twin's two Python readers (this one and _py_bfcl's decoder) share for what `ast` does not report."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from typing import Any

from tl_fast.reward._py_parse import MAX_DEPTH, SPACE, Fail, Reader, Text, has_surrogate, id_char

_INT_MAX = 2**63 - 1
_PREFIXES = {"r", "u", "b", "f", "br", "rb", "fr", "rf"}


def string_literals(s: str, b: int, e: int) -> Iterator[tuple[int, int, str, int, int]]:
    """(start, end, prefix, body_start, body_end) of each string literal in [b, e), comments skipped, as
    Python's
    tokenizer finds them in valid code (an unterminated literal runs to e)."""
    i = b
    while i < e:
        c = s[i]
        if c == "#":
            while i < e and s[i] not in "\n\r":
                i += 1
            continue
        if c not in "'\"":
            i += 1
            continue
        j = i
        while j > b and id_char(s[j - 1]) and i - j < 2:
            j -= 1
        prefix = s[j:i].lower()
        if prefix and (prefix not in _PREFIXES or (j > b and id_char(s[j - 1]))):
            prefix = "?"  # not a valid prefix: a syntax error in Python
        quote = s[i : i + 3] if s[i : i + 3] in ("'''", '"""') else c
        body = k = i + len(quote)
        closed = False
        while k < e:
            if s.startswith(quote, k):
                closed = True
                break
            if s[k] == "\\":
                k += 1
            elif len(quote) == 1 and s[k] in "\n\r":
                break
            k += 1
        k = min(k, e)
        end = k + len(quote) if closed else k
        yield j, end, prefix, body, k
        i = end


def named_escape(s: str, b: int = 0, e: int | None = None) -> bool:
    """A \\N{...} escape Python would decode (in a str or f-string literal that is not raw): the C++ core has
    no
    Unicode name table, so both backends refuse such text."""
    e = len(s) if e is None else e
    if "\\N" not in s[b:e]:
        return False
    for _, _, prefix, body, body_end in string_literals(s, b, e):
        if "r" in prefix or "b" in prefix:
            continue
        k = body
        while k < body_end:
            if s[k] == "\\":
                if s[k + 1 : k + 2] == "N":
                    return True
                k += 1
            k += 1
    return False


def surrogate_constant(tree: ast.AST, source: str) -> bool:
    """A str constant holding a lone surrogate (from a \\u / \\U escape): the C++ core rejects the escape."""
    if "\\u" not in source and "\\U" not in source:
        return False
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and has_surrogate(n.value)
        for n in ast.walk(tree)
    )


def _split_statements(t: Text, b: int, e: int) -> list[tuple[int, int]]:
    """[b, e) cut at newlines and ';' outside brackets and strings (what the C++ parser treats as statement
    ends);
    also enforces the bracket-depth limit."""
    s = t.s
    strings = {start: end for start, end, *_ in string_literals(s, b, e)}
    segments, start, depth, i = [], b, 0, b
    while i < e:
        c = s[i]
        if i in strings:
            i = strings[i]
            continue
        if c == "#":
            while i < e and s[i] not in "\n\r":
                i += 1
            continue
        if c == "\\" and i + 1 < e and s[i + 1] in "\n\r":
            i += 2
            continue
        if c in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise Fail(t.b(i), "nesting deeper than the limit")
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and c in "\n\r;":
            segments.append((start, i))
            start = i + 1
        i += 1
    segments.append((start, e))
    return segments


def read_python_calls(r: Reader, b: int, e: int) -> None:
    t = r.t
    s = t.s
    if named_escape(s, b, e):
        raise Fail(t.b(b), "\\N{...} escapes are not supported")
    for seg_b, seg_e in _split_statements(t, b, e):
        while seg_b < seg_e and (s[seg_b] in SPACE or s[seg_b] == "#"):  # leading blanks and comments
            if s[seg_b] == "#":
                while seg_b < seg_e and s[seg_b] not in "\n\r":
                    seg_b += 1
            else:
                seg_b += 1
        if seg_b == seg_e:
            continue
        source = s[seg_b:seg_e]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes warn, then keep the backslash (as C++ does)
                tree = ast.parse(source, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise Fail(t.b(seg_b), f"invalid Python call syntax ({getattr(exc, 'msg', exc)})") from None
        if surrogate_constant(tree, source):
            raise Fail(t.b(seg_b), "lone surrogate escape")
        line_starts = [0]
        for k, ch in enumerate(source):
            if ch == "\n":
                line_starts.append(k + 1)
        base = t.b(seg_b)
        src_bytes = Text(source)

        def offset(lineno: int, col: int, src_bytes=src_bytes, line_starts=line_starts, base=base) -> int:
            return base + src_bytes.b(line_starts[lineno - 1]) + col

        body = tree.body
        for node in body.elts if isinstance(body, ast.List) else [body]:
            r.add_bytes(*_call_from_node(node, offset))


def _call_from_node(node: ast.expr, offset) -> tuple[str, dict, list, tuple[int, int]]:
    begin = offset(node.lineno, node.col_offset)
    name = _dotted(node.func) if isinstance(node, ast.Call) else None
    if name is None:
        raise Fail(begin, "expected a call like name(arg=value)")
    seen = set()
    for kw in node.keywords:
        if kw.arg is None:
            raise Fail(begin, "** arguments are not supported")
        if kw.arg in seen:  # ast.parse accepts it; Python's compiler (and we) do not
            raise Fail(offset(kw.value.lineno, kw.value.col_offset), "keyword argument repeated")
        seen.add(kw.arg)
    positional = [_literal(a, offset) for a in node.args]
    arguments = {kw.arg: _literal(kw.value, offset) for kw in node.keywords}
    return name, arguments, positional, (begin, offset(node.end_lineno, node.end_col_offset))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _literal(node: ast.expr, offset, depth: int = 0) -> Any:
    """The literal subset: constants, signed numbers, lists, tuples, dicts; true/false/null as names."""

    def fail(reason: str):
        raise Fail(offset(node.lineno, node.col_offset), reason)

    if depth > MAX_DEPTH:
        fail("nesting deeper than the limit")
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, (float, str)):
            return v
        if isinstance(v, int):
            if v > _INT_MAX:
                fail("integer literal too large")
            return v
        fail("bytes, complex and '...' are not supported")
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[node.id]
        fail("a bare name is not a value (quote strings)")
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            fail("operators are not evaluated")
        if not isinstance(node.operand, (ast.Constant, ast.UnaryOp)):
            fail("a sign applies to numbers only")
        v = _literal(node.operand, offset, depth + 1)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail("a sign applies to numbers only")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.List):
        return [_literal(x, offset, depth + 1) for x in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(x, offset, depth + 1) for x in node.elts)
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                fail("unpacking in a dict is not supported")
            key = _literal(k, offset, depth + 1)
            if isinstance(key, (list, dict)) or (isinstance(key, tuple) and not _hashable(key)):
                raise Fail(offset(k.lineno, k.col_offset), "unhashable dict key")
            out[key] = _literal(v, offset, depth + 1)
        return out
    fail(f"{type(node).__name__} is not a literal value")


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True
