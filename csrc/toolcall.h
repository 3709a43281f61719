// Tool-call parser: reads a model's tool call(s) in Python-call syntax, JSON, <tool_call> tags or ReAct.
//
// Never evaluates model text. Every input yields either calls or a ParseError (byte offset + reason); no
// exception escapes and time and memory are bounded:
//   kMaxInputBytes  inputs longer than this are rejected at offset 0,
//   kMaxDepth       nesting of brackets / JSON containers,
//   kMaxCalls       calls per input.
// format=Auto: chat special tokens and whitespace are stripped at both ends; text that holds "<tool_call>" or
// a line starting "Action:" is read as tagged / ReAct unless it parses as a plain call; plain text is the
// body of the first code fence (if any), read as JSON when it starts with '{' or '[{', else as Python calls.
// The Python twin (tl_fast/reward/_py_parse.py) implements the same rules with `ast` and `json`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "value.h"

namespace tl_fast {

constexpr size_t kMaxInputBytes = 1 << 20;
constexpr int kMaxDepth = 64;
constexpr size_t kMaxCalls = 256;

struct ToolCall {
    std::string name;
    std::vector<std::pair<std::string, Value>> arguments;  // keyword arguments in source order
    std::vector<Value> positional;
    size_t begin = 0, end = 0;  // byte span in the input
};

struct ParseError {
    size_t offset = 0;
    std::string reason;
};

struct ParseResult {
    bool ok = false;
    std::vector<ToolCall> calls;
    ParseError error;
};

enum class Format { Auto, Python, Json, Tagged, ReAct };

// `format` names: "auto", "python", "json", "tool_call", "react". Returns false for an unknown name.
bool format_from_name(std::string_view name, Format* out);

ParseResult parse_tool_calls(std::string_view text, Format format = Format::Auto);

// ---- building blocks shared with the BFCL decoder ----

// A Python expression node: Python's expression grammar without lambdas, comprehensions, starred items,
// slices, f-strings and await (syntax errors here).
struct Expr {
    // Other: conditional, boolean, comparison, walrus and *starred expressions (id "ifexp", "or", "and",
    // "compare", "walrus", "starred"); they parse so that BFCL's decoder can skip them, and are never values.
    enum class Kind : uint8_t { Const, Name, Attr, Call, List, Tuple, Dict, Set, Unary, BinOp, Subscript, Ellipsis, Other };
    Kind kind = Kind::Const;
    Value value;             // Const
    std::string id;          // Name id, Attr attribute, Unary / BinOp operator
    std::vector<Expr> kids;  // Call: func, positional...; Attr/Unary: operand; BinOp: lhs, rhs; List/Tuple/Set:
                             // elements; Dict: values; Subscript: value, index
    std::vector<Expr> keys;  // Dict keys
    std::vector<std::pair<std::string, Expr>> keywords;  // Call keyword arguments; compare: (op, operand)
    size_t begin = 0, end = 0;
};

// Parses exactly one Python expression spanning `text` (surrounding whitespace and comments allowed), the
// way `ast.parse(text, mode="eval")` would for the supported subset. `base` is added to every offset.
bool parse_python_expression(std::string_view text, size_t base, Expr* out, ParseError* err);

// The common case of BFCL's decoder input, fast: `[call, ...]` spanning `text`, where each call is a dotted
// name with literal arguments only (str, number, True/False/None, '-' number, and lists / tuples / dicts of
// these); calls carry offsets into `text`. False for any other text, valid or not: parse it with
// parse_python_expression, which gives the same calls where this succeeds.
bool parse_plain_call_list(std::string_view text, std::vector<ToolCall>* out);

// Parses one JSON value spanning `text` (surrounding whitespace allowed); ints stay ints, as in json.loads.
bool parse_json(std::string_view text, size_t base, Value* out, ParseError* err);

// True when `bytes` is valid UTF-8 (no surrogates, no overlongs); else `*bad` is the first bad offset.
bool valid_utf8(std::string_view bytes, size_t* bad);

}  // namespace tl_fast
