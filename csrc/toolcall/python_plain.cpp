// The fast path: the shape nearly every tool call has, `name(.name)*(args)` with plain literal arguments (str,
// number, True/False/None, '-' number, and lists / tuples / dicts of these), read straight into ToolCalls with no
// Expr tree. See PyParser in python_parser.h for the contract with the general path.
#include "python_parser.h"

namespace tl_fast {

using lex::is_digit;

bool PyParser::plain_statements(std::vector<ToolCall>* out) {
    for (;;) {
        skip(true);
        while (pos_ < src_.size() && src_[pos_] == ';') {
            ++pos_;
            skip(true);
        }
        if (pos_ >= src_.size()) return true;
        if (!(peek() == '[' ? plain_call_list(out) : plain_call(out))) return false;
        skip(false);
        if (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r' && src_[pos_] != ';') return false;
    }
}

bool PyParser::plain_single_list(std::vector<ToolCall>* out) {
    skip(true);
    if (peek() != '[' || !plain_call_list(out)) return false;
    skip(true);
    return pos_ == src_.size();
}

// An ASCII name that may start an expression (no keyword, no True/False/None), or false.
bool PyParser::plain_name(std::string_view* id) {
    if (!plain_identifier(id) || is_keyword(*id) || *id == "True" || *id == "False" || *id == "None") return false;
    return peek() != '\'' && peek() != '"';  // else a prefixed string such as r"..."
}

// After an element of a bracketed display: skips to `close` or past a ',' (false on anything else).
bool PyParser::plain_separator(char close) {
    skip(false);
    if (peek() == ',') return ++pos_, true;
    return peek() == (unsigned char)close;
}

// `[call, ...]` with its trailing comma allowed.
bool PyParser::plain_call_list(std::vector<ToolCall>* out) {
    ++pos_;  // '['
    ++brackets_;
    for (;;) {
        skip(false);
        if (peek() == ']') break;
        if (!plain_call(out) || !plain_separator(']')) return false;
    }
    ++pos_;
    --brackets_;
    return true;
}

// name(.name)*(positional..., keyword=value...) with literal arguments; appended to *out.
bool PyParser::plain_call(std::vector<ToolCall>* out) {
    const size_t start = pos_;
    std::string_view id;
    if (!plain_name(&id)) return false;
    std::string name(id);
    for (int parts = 1;; ++parts) {
        skip(false);
        if (peek() == '(') break;
        if (peek() != '.' || parts >= kPlainMaxDepth) return false;  // most non-calls end here, cheaply
        ++pos_;
        skip(false);
        if (!plain_name(&id)) return false;
        name += '.';
        name += id;
    }
    ToolCall call;
    call.name = std::move(name);
    ++pos_;  // '('
    ++brackets_;
    for (;;) {
        skip(false);
        if (peek() == ')') break;
        const size_t arg_start = pos_;
        if (plain_identifier(&id)) {
            skip(false);
            if (peek() == '=' && peek(1) != '=') {
                ++pos_;
                skip(false);
                if (is_keyword(id) || id == "True" || id == "False" || id == "None") return false;
                for (const auto& kw : call.arguments)
                    if (kw.first == id) return false;  // repeated: the general path decides
                if (call.arguments.empty()) call.arguments.reserve(4);
                call.arguments.emplace_back(std::string(id), Value());
                if (!plain_literal(&call.arguments.back().second, 0) || !plain_separator(')')) return false;
                continue;
            }
            pos_ = arg_start;
        } else if (peek() >= 0x80) {
            return false;  // a non-ASCII name: the general path normalizes it
        }
        if (!call.arguments.empty()) return false;  // positional after keyword: the general path reports it
        call.positional.emplace_back();
        if (!plain_literal(&call.positional.back(), 0) || !plain_separator(')')) return false;
    }
    ++pos_;
    --brackets_;
    call.begin = base_ + start;
    call.end = base_ + pos_;
    out->push_back(std::move(call));
    return true;
}

// A plain literal, as to_literal() / resolve() would make it of the Expr the general path builds.
// The caller checks that a delimiter follows (an operator or trailer would make it something else).
bool PyParser::plain_literal(Value* out, int depth) {
    if (depth > kPlainMaxDepth) return false;
    const unsigned char c = peek();
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number_value(out);
    if (c == '-') {  // '-' then a number: both resolvers negate it
        ++pos_;
        skip(false);
        if (!(is_digit(peek()) || (peek() == '.' && is_digit(peek(1)))) || !number_value(out)) return false;
        if (out->kind == Value::Kind::Int) out->i = -out->i;
        else out->f = -out->f;
        return true;
    }
    if (c == '\'' || c == '"' || (lex::id_start_byte(c) && c < 0x80)) {
        const size_t start = pos_;
        std::string_view id;
        if (plain_identifier(&id) && peek() != '\'' && peek() != '"') {
            if (id == "True" || id == "False") *out = Value::boolean(id == "True");
            else if (id == "None") *out = Value::none();
            else return false;  // a name: its value depends on the resolver
            return true;
        }
        pos_ = start;
        out->kind = Value::Kind::Str;
        char kind = 's';
        bool u_prefix = false;
        return string_run(&out->s, &kind, &u_prefix) && kind == 's';
    }
    if (c == '[' || c == '(') return plain_sequence(out, c == '[' ? ']' : ')', depth);
    if (c == '{') return plain_dict(out, depth);
    return false;
}

// [a, b] -> List, (a, b) / (a,) / () -> Tuple, (a) -> a.
bool PyParser::plain_sequence(Value* out, char close, int depth) {
    ++pos_;
    ++brackets_;
    std::vector<Value> elements;
    bool comma = false;
    for (;;) {
        skip(false);
        if (peek() == (unsigned char)close) break;
        elements.emplace_back();
        if (!plain_literal(&elements.back(), depth + 1)) return false;
        skip(false);
        if (peek() == ',') {
            ++pos_;
            comma = true;
        } else if (peek() != (unsigned char)close) {
            return false;
        }
    }
    ++pos_;
    --brackets_;
    if (close == ')' && elements.size() == 1 && !comma) {
        *out = std::move(elements[0]);
        return true;
    }
    *out = Value::seq(close == ']' ? Value::Kind::List : Value::Kind::Tuple, std::move(elements));
    return true;
}

// {key: value, ...} with hashable literal keys; later duplicates overwrite (Value::set).
bool PyParser::plain_dict(Value* out, int depth) {
    ++pos_;
    ++brackets_;
    out->kind = Value::Kind::Dict;
    for (;;) {
        skip(false);
        if (peek() == '}') break;
        Value key, value;
        if (!plain_literal(&key, depth + 1) || !py_hashable(key)) return false;
        skip(false);
        if (peek() != ':' || peek(1) == '=') return false;
        ++pos_;
        skip(false);
        if (!plain_literal(&value, depth + 1) || !plain_separator('}')) return false;
        out->set(std::move(key), std::move(value));
    }
    ++pos_;
    --brackets_;
    return true;
}

bool parse_plain_call_list(std::string_view text, std::vector<ToolCall>* out) {
    return PyParser(text, 0).plain_single_list(out);
}

}  // namespace tl_fast
