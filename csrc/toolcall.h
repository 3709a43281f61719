// Tool-call parser: reads a model's tool calls in the formats models emit, never evaluating model text.
//
// Formats (format=Auto detects them; each can be forced):
//   Python   Python-call syntax `f(a=1)`, `[f(a=1), g.h('x')]`, one call per line or `;` (BFCL prompt mode,
//            Llama-3.2 pythonic, TL-Training's syntax);
//   Json     {"name", "arguments" | "parameters"} objects (arguments as an object or a JSON string), lists of them,
//            OpenAI's {"function": {...}} tool calls, chat-completions assistant messages {"role", "content",
//            "tool_calls"} and whole responses {"choices": [{"message": ...}]}; objects may be separated by
//            whitespace or ';' (Llama-3.x);
//   Tagged   Hermes / Qwen `<tool_call>{json}</tool_call>` blocks, several per message;
//   Llama    Llama-3.x `<|python_tag|>` followed by JSON or Python calls, and `<function=name>{json}</function>`;
//   Mistral  `[TOOL_CALLS] [{...}]` (v3 tokenizers) and `[TOOL_CALLS]name{json}` / `[TOOL_CALLS]name[ARGS]{json}`;
//   ReAct    `Action: name` + `Action Input: {json}`.
// Auto: chat special tokens and whitespace are stripped at both ends; a text holding a format marker is read in
// that format unless it parses as a plain call; plain text is the body of its first code fence (if any), read as
// JSON when it starts with '{' or '[{', else as Python calls.
//
// "No call" (ok, no calls) is distinct from a malformed call (an error): an empty list, a message without tool
// calls, text without any marker or call syntax (lex::is_prose: prose, an empty answer) are no call.
// Every input yields calls, no call, or a ParseError (byte offset + reason); no exception escapes and time and memory
// are bounded: kMaxInputBytes (longer inputs are rejected at offset 0), kMaxDepth (nesting), kMaxCalls.
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
    // The keyword argument called `param`, or nullptr.
    const Value* argument(std::string_view param) const {
        for (const auto& [name, value] : arguments)
            if (name == param) return &value;
        return nullptr;
    }
};

struct ParseError {
    size_t offset = 0;
    std::string reason;
};

struct ParseResult {
    bool ok = false;
    std::vector<ToolCall> calls;  // empty when ok: no call
    ParseError error;
};

enum class Format { Auto, Python, Json, Tagged, Llama, Mistral, ReAct };

// `format` names: "auto", "python", "json" (alias "openai"), "tool_call" (alias "hermes"), "llama", "mistral",
// "react". Returns false for an unknown name.
bool format_from_name(std::string_view name, Format* out);

ParseResult parse_tool_calls(std::string_view text, Format format = Format::Auto);

// The checks every entry point makes first: at most kMaxInputBytes, valid UTF-8 (no surrogates, no overlongs),
// no NUL byte. False with the offending offset otherwise.
bool check_input(std::string_view text, ParseError* err);

// A call object: {"name", "arguments" | "parameters"} with the arguments an object, a JSON string of one, or
// null; OpenAI's {"type": "function", "function": {...}} is unwrapped. The one reader of call objects (JSON
// calls, messages, Hermes / Llama / Mistral bodies, gold calls). Spans are left to the caller.
bool read_call_object(const Value& v, ToolCall* out, std::string* error);

// ---- building blocks shared with the BFCL decoder ----

// A Python expression node, for Python 3.11's expression grammar (PEG: lambdas, comprehensions, slices, walrus,
// await / yield, f-strings checked as CPython 3.11 checks them). Only literals are ever values.
struct Expr {
    enum class Kind : uint8_t {
        Const,      // value (a str whose first literal has the u prefix: id "u")
        Name,       // id (NFKC-normalized, as ast gives it)
        Attr,       // kids[0].id
        Call,       // kids: func, positional (Starred for *x); keywords (name, value), name "" for **x
        List,       // kids
        Tuple,      // kids
        Dict,       // keys / kids; a {**x} entry has key Starred("**", x) and kid Missing
        Set,        // kids
        Unary,      // id "-", "+", "~", "not"; kids[0]
        BinOp,      // id operator; kids: lhs, rhs
        Subscript,  // kids: value, index (a Slice, a Tuple of items, or an expression)
        Ellipsis,
        Complex,    // value.f: the imaginary part of `1j`
        Bytes,      // value.s: the bytes of b'...'
        FString,    // value.s: the source text of the literal(s)
        Slice,      // kids: lower, upper, step (Missing where absent)
        Starred,    // id "*" or "**"; kids[0]
        Walrus,     // value.s: target name; kids[0]
        IfExp,      // kids: body, test, orelse
        BoolOp,     // id "and" / "or"; kids
        Compare,    // kids[0]: left; keywords (op, operand)
        Lambda,     // kids[0]: body; keywords (parameter, default or Missing), parameters "/", "*", "*a", "**k"
        Comp,       // id "list" / "set" / "dict" / "gen"; kids: element (dict: key, value); keywords: clauses
                    // ("for" | "async for", target), ("in", iterable), ("if", condition)
        Await,      // kids[0]
        Yield,      // id "yield" / "yield from"; kids: value (may be empty)
        Missing,
    };
    Kind kind = Kind::Const;
    Value value;
    std::string id;
    std::vector<Expr> kids;
    std::vector<Expr> keys;
    std::vector<std::pair<std::string, Expr>> keywords;
    size_t begin = 0, end = 0;
};

// Parses exactly one Python expression spanning `text` (surrounding whitespace and comments allowed), as
// `ast.parse(text, mode="eval")` would. `base` is added to every offset.
bool parse_python_expression(std::string_view text, size_t base, Expr* out, ParseError* err);

// ast.unparse(e) (Python 3.11), for the nodes this parser makes; f-strings are copied as written.
std::string unparse(const Expr& e);

// The common case of BFCL's decoder input, fast: `[call, ...]` spanning `text`, where each call is a dotted
// ASCII name with literal arguments only (str, number, True/False/None, '-' number, and lists / tuples / dicts of
// these); calls carry offsets into `text`. False for any other text, valid or not: parse it with
// parse_python_expression, which gives the same calls where this succeeds.
// names_as_strings: a bare name argument is the string of its name, as BFCL's resolver reads it
// (f(a=true) -> "true"); otherwise such calls are left to the general path.
bool parse_plain_call_list(std::string_view text, std::vector<ToolCall>* out, bool names_as_strings = false);

// Parses one JSON value spanning `text` (surrounding whitespace allowed); ints stay ints, as in json.loads.
bool parse_json(std::string_view text, size_t base, Value* out, ParseError* err);

// True when `bytes` is valid UTF-8 (no surrogates, no overlongs); else `*bad` is the first bad offset.
bool valid_utf8(std::string_view bytes, size_t* bad);

// The Unicode version of the identifier and repr tables (scripts/gen_unicode_tables.py).
const char* unicode_version();

}  // namespace tl_fast
