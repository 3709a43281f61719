"""Pure-Python twin of csrc/bfcl.cpp: BFCL's prompt-mode decoder, AST checker (Python language) and verdicts.

    from tl_fast.reward._py_bfcl import bfcl_check
    valid, error_type, category = bfcl_check("[f(a=1)]", problem)

Ported from ShishirPatil/gorilla (Apache-2.0), berkeley-function-call-leaderboard/bfcl_eval:
model_handler/utils.py (default_decode_ast_prompting, ast_parse, resolve_ast_call, resolve_ast_by_type),
eval_checker/ast_eval/ast_checker.py and eval_checker/eval_runner.py (_evaluate_single_ast_entry,
_evaluate_single_relevance_entry); FC mode's decoder is _py_bfcl_fc.py. Control flow and quirks are kept
(marked "BFCL:") so that validity and the first error_type match; the one change is that BFCL `eval`s
binary operations while this computes arithmetic on literals only (a name or call inside an operation
fails to decode).

Other known differences from BFCL (none occurs in the 2,351 vendored gemma4 outputs): integers are
64-bit; `**kwargs`, named-character escapes (`\\N{...}`), lone surrogate escapes and nesting deeper than 64
fail to decode; bytes constants as keyword values fail to decode (BFCL reports a type error); the
`ast.unparse` reproduction (calls without keywords, subscripts) copies f-strings as written; the C++
lower-casing of string normalization covers Latin, Greek, Cyrillic, Armenian and full-width letters only.
The C++ decoder reads Python 3.11's grammar with Unicode 14 tables; on another Python the twin follows that
Python's `ast`. Java and JavaScript categories are not supported.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from typing import Any

from tl_fast.reward._py_bfcl_fc import decode_fc
from tl_fast.reward._py_parse import MAX_DEPTH, MAX_INPUT_BYTES, Fail, check_input, parse
from tl_fast.reward._py_pycalls import named_escape, surrogate_constant

PYTHON_TYPE_MAPPING = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_STANDARDIZE = re.compile(r"[ \,\.\/\-\_\*\^]")


class _DecodeError(Exception):
    pass


# ---- decoder ----------------------------------------------------------------------------------------


def _depth(node: ast.AST, limit: int) -> int:
    stack, deepest = [(node, 0)], 0
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))
    return deepest


def bfcl_decode(text: str) -> list[dict[str, dict[str, Any]]] | None:
    """BFCL's decoded calls [{name: {param: value}}], or None where its decoder fails."""
    if check_input(text) is not None:
        return None
    result = text.strip("`\n ")
    if not result.startswith("["):
        result = "[" + result
    if not result.endswith("]"):
        result = result + "]"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = result.strip().strip("'")
            parsed = ast.parse(source, mode="eval")
        # \N{name} and lone surrogate escapes: the C++ core has no Unicode name table and UTF-8 strings, so
        # both
        # backends refuse them, wherever they are.
        if named_escape(source) or surrogate_constant(parsed, source):
            return None
        if _depth(parsed, 3 * MAX_DEPTH) > 3 * MAX_DEPTH:
            return None
        if not isinstance(parsed.body, ast.List):
            return None
        out = []
        for elem in parsed.body.elts:
            if not isinstance(elem, ast.Call):
                return None
            out.append(_resolve_call(elem))
        return out
    except (SyntaxError, ValueError, RecursionError, MemoryError, _DecodeError):
        return None


def _resolve_call(elem: ast.Call) -> dict[str, dict[str, Any]]:
    parts = []
    func = elem.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    args = {}
    for kw in elem.keywords:  # BFCL: positional arguments are dropped
        if kw.arg is None:
            raise _DecodeError("**kwargs")
        args[kw.arg] = _resolve(kw.value)
    return {".".join(reversed(parts)): args}


def _resolve(value: ast.expr) -> Any:
    if isinstance(value, ast.Constant):
        if value.value is Ellipsis:
            return "..."
        if isinstance(value.value, (bytes, complex)):
            raise _DecodeError("constant type")
        if isinstance(value.value, int) and not isinstance(value.value, bool) and value.value > 2**63 - 1:
            raise _DecodeError("integer literal too large")
        return value.value
    if isinstance(value, ast.UnaryOp):  # BFCL: `-value.operand.value`, whatever the operator
        if not isinstance(value.operand, ast.Constant):
            raise _DecodeError("unary operand")
        v = value.operand.value
        if isinstance(v, bool):
            return -int(v)
        if not isinstance(v, (int, float)) or isinstance(v, complex):
            raise _DecodeError("unary operand")
        if isinstance(v, int) and v > 2**63 - 1:
            raise _DecodeError("integer literal too large")
        return -v
    if isinstance(value, ast.List):
        return [_resolve(v) for v in value.elts]
    if isinstance(value, ast.Dict):
        out = {}
        for k, v in zip(value.keys, value.values, strict=True):
            if k is None:
                raise _DecodeError("dict unpacking")
            key = _resolve(k)
            try:
                hash(key)
            except TypeError:
                raise _DecodeError("unhashable key") from None
            out[key] = _resolve(v)
        return out
    if isinstance(value, ast.BinOp):
        return _arith(value)
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Call):
        if len(value.keywords) == 0:
            return ast.unparse(value)
        return _resolve_call(value)
    if isinstance(value, ast.Tuple):
        return tuple(_resolve(v) for v in value.elts)
    if isinstance(value, ast.Subscript):
        return ast.unparse(value.value) + "[" + ast.unparse(value.slice) + "]"
    raise _DecodeError(f"Unsupported AST type: {type(value)}")  # Attribute, Set, Lambda, ...


def _arith(node: ast.expr) -> Any:
    """Arithmetic on literals (+ - * / // % ** and unary - + ~; str + str, str * int), 64-bit ints."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, (int, float, str)) and not isinstance(v, complex):
            return _int64(v)
        raise _DecodeError("operand")
    if isinstance(node, ast.UnaryOp):
        v = _arith(node.operand)
        if isinstance(v, str) or isinstance(node.op, ast.Not):
            raise _DecodeError("operand")
        if isinstance(node.op, ast.Invert):
            if isinstance(v, float):
                raise _DecodeError("operand")
            return ~v
        return _int64(-v if isinstance(node.op, ast.USub) else v)
    if not isinstance(node, ast.BinOp):
        raise _DecodeError("operand")
    a, b, op = _arith(node.left), _arith(node.right), node.op
    if isinstance(a, str) or isinstance(b, str):
        if isinstance(op, ast.Add) and isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(op, ast.Mult) and (isinstance(a, int) or isinstance(b, int)):
            s, n = (a, b) if isinstance(a, str) else (b, a)
            if n > 0 and len(s.encode()) * n > MAX_INPUT_BYTES:
                raise _DecodeError("string too long")
            return s * n
        raise _DecodeError("operand")
    try:
        if isinstance(op, ast.Add):
            r = a + b
        elif isinstance(op, ast.Sub):
            r = a - b
        elif isinstance(op, ast.Mult):
            r = a * b
        elif isinstance(op, ast.Div):
            r = a / b
        elif isinstance(op, ast.FloorDiv):
            r = a // b
        elif isinstance(op, ast.Mod):
            r = a % b
        elif isinstance(op, ast.Pow):
            if isinstance(a, int) and isinstance(b, int) and b > 64 and abs(a) > 1:
                raise _DecodeError("integer too large")
            if isinstance(a, float) or isinstance(b, float):
                if a < 0 and b != math.floor(b):
                    raise _DecodeError("complex result")
                r = math.pow(a, b)
            else:
                r = a**b
        else:
            raise _DecodeError("operator")
    except (ZeroDivisionError, OverflowError):
        raise _DecodeError("arithmetic") from None
    return _int64(r)


def _int64(v: Any) -> Any:
    if isinstance(v, int) and not -(2**63) <= v <= 2**63 - 1:
        raise _DecodeError("integer outside the 64-bit range")
    return v


# ---- checker ----------------------------------------------------------------------------------------

# IRM categories reported beside BFCL's labels (names as in tl_fast.reward.table.CATEGORIES)
_VALUE = "value_error"


def _invalid(error_type: str, category: str = _VALUE) -> dict[str, Any]:
    return {"valid": False, "error_type": error_type, "category": category}


def standardize_string(s: str) -> str:
    return _STANDARDIZE.sub("", s).lower().replace("'", '"')


def _get_possible_answer_type(possible_answer: list) -> type | None:
    for answer in possible_answer:
        if answer != "":
            return type(answer)
    return None


def _type_checker(value, possible_answer, expected_type, nested_type) -> dict[str, Any]:
    result = {"valid": True, "is_variable": False, "error_type": "type_error:simple", "category": _VALUE}
    possible_answer_type = _get_possible_answer_type(possible_answer)
    is_variable = possible_answer_type is not None and possible_answer_type != expected_type
    if type(value) == expected_type:  # noqa: E721 (BFCL compares exact types)
        if nested_type is None:
            result["is_variable"] = is_variable
            return result
        for item in possible_answer:
            flag = True
            if type(item) == list:  # noqa: E721
                for value_item in value:
                    if not _type_checker(value_item, item, nested_type, None)["valid"]:
                        flag = False
                        break
            if flag:
                return {"valid": True, "is_variable": is_variable}
        result["valid"] = False
        result["error_type"] = "type_error:nested"
    if possible_answer_type is not None and type(value) == possible_answer_type:  # noqa: E721
        result["is_variable"] = True  # BFCL: returned as is, invalid when the nested check failed
        return result
    return _invalid("type_error:simple")


def _elements(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        return list(v)
    return []


def _std(v: Any) -> Any:
    return standardize_string(v) if type(v) == str else v  # noqa: E721


def _string_checker(value, possible_answer) -> dict[str, Any]:
    if standardize_string(value) not in [standardize_string(p) for p in possible_answer if type(p) == str]:  # noqa: E721
        return _invalid("value_error:string")
    return {"valid": True}


def _list_checker(value, possible_answer) -> dict[str, Any]:
    model = [_std(v) for v in value]
    if model not in [[_std(x) for x in _elements(p)] for p in possible_answer]:
        return _invalid("value_error:list/tuple")
    return {"valid": True}


def _dict_checker(model: dict, possible_answers: list) -> dict[str, Any]:
    result = _invalid("dict_checker:unclear")
    for answer in possible_answers:
        if answer == "":
            continue
        result = _invalid("dict_checker:unclear")
        flag = True
        for key, value in model.items():
            if not isinstance(answer, dict) or key not in answer:
                result = _invalid("value_error:dict_key")
                flag = False
                break
            if _std(value) not in [_std(x) for x in _elements(answer[key])]:
                result = _invalid("value_error:dict_value")
                flag = False
                break
        if isinstance(answer, dict):
            for key, value in answer.items():
                if key not in model and "" not in _elements(value):
                    result = _invalid("value_error:dict_key")
                    flag = False
                    break
        if flag:
            return {"valid": True}
    return result


def _list_dict_checker(model: list, possible_answers: list) -> dict[str, Any]:
    result = _invalid("list_dict_checker:unclear")
    for answer in possible_answers:
        dicts = _elements(answer)
        if len(model) != len(dicts):
            result = _invalid("value_error:list_dict_count")
            continue
        flag = True
        for item, expected in zip(model, dicts, strict=True):
            if not isinstance(item, dict):
                result = _invalid("list_dict_checker:unclear")
                flag = False
                break
            result = _dict_checker(item, [expected])
            if not result["valid"]:
                flag = False
                break
        if flag:
            return {"valid": True}
    return result


def _simple_function_checker(tool, model_output: dict, answer, problem) -> dict[str, Any]:
    if tool is None:
        return _invalid("checker:function_not_in_tools", "tool_hallucination")
    ((model_name, model_params),) = model_output.items()
    if model_name != bfcl_name(tool.name, problem):  # BFCL: convert_func_name(func_description["name"])
        known = find_bfcl_tool(problem, model_name) is not None
        return _invalid(
            "simple_function_checker:wrong_func_name", "wrong_tool" if known else "tool_hallucination"
        )
    for param in tool.required:
        if param not in model_params:
            return _invalid("simple_function_checker:missing_required", "param_missing")
    for param, value in model_params.items():
        schema = tool.params.get(param)
        gold = answer.params.get(param)
        if schema is None or gold is None:
            category = "param_redundant" if schema is not None else "param_hallucination"
            return _invalid("simple_function_checker:unexpected_param", category)
        type_name, item_type = schema
        expected = PYTHON_TYPE_MAPPING.get(type_name)
        if expected is None:
            return _invalid("checker:unsupported_type")
        nested = None
        if type_name in ("array", "tuple"):
            nested = PYTHON_TYPE_MAPPING.get(item_type) if item_type is not None else None
            if nested is None:
                return _invalid("checker:unsupported_type")
        if type_name == "tuple" and type(value) == tuple:  # noqa: E721
            value = list(value)
        if type_name == "float" and type(value) == int:  # noqa: E721
            value = float(value)
        accepted = gold.accepted
        tc = _type_checker(value, accepted, expected, nested)
        if not tc["valid"]:
            tc.setdefault("category", _VALUE)
            return tc
        if not tc["is_variable"]:
            if expected is dict:
                checked = _dict_checker(value, accepted)
            elif expected is list and nested is dict:
                checked = _list_dict_checker(value, accepted)
            elif expected is str:
                checked = _string_checker(value, accepted)
            elif expected is list:
                checked = _list_checker(value, accepted)
            else:
                checked = None
            if checked is not None:
                if not checked["valid"]:
                    return checked
                continue
        if value not in accepted:
            return _invalid("value_error:others")
    for g in answer.params.values():
        if g.name not in model_params and not g.optional:
            return _invalid("simple_function_checker:missing_optional", "param_missing")
    return {"valid": True}


def _parallel_no_order(model: list, problem) -> dict[str, Any]:
    if len(model) != len(problem.gold):
        return _invalid("parallel_function_checker_no_order:wrong_count", "count_mismatch")
    matched: set[int] = set()
    for answer in problem.gold:
        tool = problem.find_tool(answer.name)
        first_error = None
        for index, output in enumerate(model):
            if index in matched:
                continue
            r = _simple_function_checker(tool, output, answer, problem)
            if r["valid"]:
                matched.add(index)
                break
            first_error = first_error or r
        else:
            category = first_error["category"] if first_error else "count_mismatch"
            return _invalid("parallel_function_checker_no_order:cannot_find_match", category)
    return {"valid": True}


def bfcl_name(name: str, problem) -> str:
    """BFCL's convert_func_name: "a.b" -> "a_b" for models whose tool names may not hold '.'."""
    return name.replace(".", "_") if problem.underscore_to_dot else name


def find_bfcl_tool(problem, called: str):
    return next((t for t in problem.tools if bfcl_name(t.name, problem) == called), None)


def relevance_category(category: str) -> bool:
    """BFCL's is_relevance_or_irrelevance: scored by whether the answer calls at all."""
    return "relevance" in category


def decode(text: str, mode: str) -> tuple[str, list, bool]:
    """(status, calls, is_text_message) of one result; status "calls", "failed" or "wrong_format"."""
    if mode == "fc":
        return decode_fc(text)
    calls = bfcl_decode(text)
    return ("failed", [], False) if calls is None else ("calls", calls, False)


def _no_call_category(status: str, message: bool, text: str, problem) -> str:
    """An abstention (a text message, an empty list, text not opening with "[" that the tool-call parser
    reads as holding no call) is "irrelevant"; anything else a format error."""
    if status == "wrong_format":
        return "format_error"
    if status == "calls" or message:
        return "irrelevant"
    if problem.bfcl_mode == "fc":
        return "format_error"
    if text.lstrip("`\n ").startswith("["):  # opens like BFCL's call list: a broken call, not a parse
        return "format_error"
    try:
        return "format_error" if parse(text) else "irrelevant"
    except Fail:
        return "format_error"


def _relevance_check(status, calls, message, text, problem) -> tuple[bool, str | None, str]:
    has_call = status == "calls" and bool(calls)  # is_empty_output: [] is no call
    want_call = problem.expect == "any_call"
    if has_call == want_call:
        return True, None, "correct"
    if want_call:
        return False, "relevance_error:decoder_failed", _no_call_category(status, message, text, problem)
    unoffered = any(find_bfcl_tool(problem, next(iter(c))) is None for c in calls)
    return False, "irrelevance_error:decoder_success", "tool_hallucination" if unoffered else "wrong_tool"


def bfcl_check(prediction: str, problem) -> tuple[bool, str | None, str]:
    """(valid, BFCL error_type or None, IRM category) of one answer (prompt text, or an FC result's JSON)."""
    status, model, message = decode(prediction, problem.bfcl_mode)
    if problem.expect != "calls":
        return _relevance_check(status, model, message, prediction, problem)
    if status != "calls":  # _evaluate_single_ast_entry's two decoder errors
        error = "ast_decoder:" + ("decoder_failed" if status == "failed" else "decoder_wrong_output_format")
        return False, error, _no_call_category(status, message, prediction, problem)
    category = problem.bfcl_category
    if "parallel" in category:
        r = _parallel_no_order(model, problem)
    elif "multiple" in category:
        if len(model) != len(problem.gold):
            r = _invalid("multiple_function_checker:wrong_count", "count_mismatch")
        else:
            gold = problem.gold[0]
            r = _simple_function_checker(problem.find_tool(gold.name), model[0], gold, problem)
    elif len(model) != 1:
        r = _invalid("simple_function_checker:wrong_count", "count_mismatch")
    else:
        tool = problem.tools[0] if problem.tools else None
        r = _simple_function_checker(tool, model[0], problem.gold[0], problem)
    if r["valid"]:
        return True, None, "correct"
    return False, r["error_type"], r.get("category", _VALUE) if model else "irrelevant"
