// The fast path: the shape nearly every tool call has, `name(.name)*(args)` with plain literal arguments (str,
// number, True/False/None, '-' number, and lists / tuples / dicts of these), read straight into ToolCalls with no
// Expr tree. See PyParser in python_parser.h for the contract with the general path.
#include <array>
#include <cerrno>
#include <cstdlib>

#include "python_parser.h"

namespace tl_fast {

using lex::hex_value;
using lex::id_byte;
using lex::is_digit;

// ---- tokens the fast path reads, here so that they inline into it ----

bool PyParser::plain_identifier(std::string_view* out) {
    if (!lex::id_start_byte(peek()) || peek() >= 0x80) return false;
    const size_t start = pos_;
    const char* text = src_.data();  // locals: a store to pos_ per byte would be needed otherwise (char aliasing)
    size_t end = start + 1;
    while (end < src_.size() && lex::ascii_id_byte((unsigned char)text[end])) ++end;
    pos_ = end;
    if (peek() >= 0x80) return false;  // not ASCII: the general path normalizes it
    *out = src_.substr(start, end - start);
    return true;
}

// digitpart := digit (["_"] digit)*
bool PyParser::digits(bool (*ok)(unsigned char), std::string* out) {
    if (!ok(peek())) return false;
    for (;;) {
        out->push_back(char(peek()));
        ++pos_;
        if (peek() == '_' && ok(peek(1))) ++pos_;
        if (!ok(peek())) return true;
    }
}

namespace {

bool decimal(unsigned char c) { return is_digit(c); }

}  // namespace

// A number token: an int / float value, or *imaginary with the imaginary part. What may follow it is CPython's
// verify_end_of_number: a keyword that can follow a number ("1if x else y", "[1for x in y]") or no name
// character at all.
bool PyParser::scan_number(Value* out, bool* imaginary) {
    *imaginary = false;
    const size_t start = pos_;
    if (small_decimal(out)) return true;
    std::string text;
    auto end_of_number = [&](const char* reason) {
        const unsigned char c = peek();
        const std::string_view rest = pos_ < src_.size() ? src_.substr(pos_ + 1) : std::string_view();
        const bool keyword = (c == 'a' && rest.substr(0, 2) == "nd") || (c == 'e' && rest.substr(0, 3) == "lse") ||
                             (c == 'f' && rest.substr(0, 2) == "or") || (c == 'o' && rest.substr(0, 1) == "r") ||
                             (c == 'n' && rest.substr(0, 2) == "ot") ||
                             (c == 'i' && (peek(1) == 'f' || peek(1) == 'n' || peek(1) == 's'));
        return keyword || !id_byte(c) || fail_at(start, reason);
    };
    const unsigned char c1 = peek(1) | 0x20;
    if (peek() == '0' && (c1 == 'x' || c1 == 'o' || c1 == 'b')) {
        pos_ += 2;
        if (peek() == '_') ++pos_;
        const int base = c1 == 'x' ? 16 : c1 == 'o' ? 8 : 2;
        auto ok = base == 16 ? +[](unsigned char c) { return hex_value(c) >= 0; }
                  : base == 8 ? +[](unsigned char c) { return c >= '0' && c <= '7'; }
                              : +[](unsigned char c) { return c == '0' || c == '1'; };
        if (!digits(ok, &text)) return fail_at(start, "invalid number literal");
        if (!end_of_number("invalid number literal")) return false;
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, base);
        if (errno == ERANGE || v > 0x7FFFFFFFFFFFFFFFull) return fail_at(start, "integer literal too large");
        *out = Value::integer(int64_t(v));
        return true;
    }
    bool is_float = false;
    digits(decimal, &text);
    if (peek() == '.') {
        is_float = true;
        text += '.';
        ++pos_;
        digits(decimal, &text);
    }
    if ((peek() | 0x20) == 'e') {
        const size_t save = pos_;
        std::string exp = "e";
        ++pos_;
        if (peek() == '+' || peek() == '-') exp += char(peek()), ++pos_;
        if (digits(decimal, &exp)) {
            is_float = true;
            text += exp;
        } else {
            pos_ = save;
        }
    }
    if ((peek() | 0x20) == 'j') {  // an imaginary literal: parses, never a value
        ++pos_;
        if (!end_of_number("invalid imaginary literal")) return false;
        *imaginary = true;
        *out = Value::real(std::strtod(text.c_str(), nullptr));
        return true;
    }
    if (!end_of_number("invalid decimal literal")) return false;
    if (is_float) {
        *out = Value::real(std::strtod(text.c_str(), nullptr));
        return true;
    }
    if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
        return fail_at(start, "leading zeros in a decimal integer literal");
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE || v > 0x7FFFFFFFFFFFFFFFull) return fail_at(start, "integer literal too large");
    *out = Value::integer(int64_t(v));
    return true;
}

// The common number, a decimal int of up to 18 digits without '_' or leading zeros, read without copying it;
// false (pos_ unchanged) for every other number, which scan_number reads in full.
bool PyParser::small_decimal(Value* out) {
    size_t end = pos_;
    int64_t v = 0;
    while (end < src_.size() && end - pos_ < 18 && is_digit((unsigned char)src_[end])) v = v * 10 + (src_[end++] - '0');
    const size_t digits = end - pos_;
    if (digits == 0 || (digits > 1 && src_[pos_] == '0')) return false;
    const unsigned char next = end < src_.size() ? (unsigned char)src_[end] : 0;
    // More digits, anything that could continue the number, any name character (a keyword after it or an error).
    if (is_digit(next) || next == '.' || next == '_' || id_byte(next)) return false;
    pos_ = end;
    *out = Value::integer(v);
    return true;
}

bool PyParser::number(Expr* out) {
    bool imaginary;
    if (!scan_number(&out->value, &imaginary)) return false;
    out->kind = imaginary ? Expr::Kind::Complex : Expr::Kind::Const;
    return true;
}

bool PyParser::number_value(Value* out) {
    bool imaginary;
    return scan_number(out, &imaginary) && !imaginary;
}


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
            else if (names_as_strings_ && !is_keyword(id)) *out = Value::str(std::string(id));
            else return false;  // a name: its value depends on the resolver
            return true;
        }
        pos_ = start;
        out->kind = Value::Kind::Str;
        if (plain_quoted(&out->s)) return true;
        char kind = 's';
        bool u_prefix = false;
        return string_run(&out->s, &kind, &u_prefix) && kind == 's';
    }
    if (c == '[' || c == '(') return plain_sequence(out, c == '[' ? ']' : ')', depth);
    if (c == '{') return plain_dict(out, depth);
    return false;
}

// Bytes that end a plain_quoted scan: its quote, or one that needs string_run (an escape, a line break).
enum : uint8_t { kSingleQuote = 1, kDoubleQuote = 2, kStringBreak = 4 };
constexpr std::array<uint8_t, 256> kStringStop = [] {
    std::array<uint8_t, 256> t{};
    t[size_t('\'')] = kSingleQuote;
    t[size_t('"')] = kDoubleQuote;
    t[size_t('\\')] = t[size_t('\n')] = t[size_t('\r')] = kStringBreak;
    return t;
}();

// The usual string argument: '...' or "..." with no escape or line break in it and a delimiter after it (no
// string that would concatenate with it), sliced out in one copy. False leaves pos_ for string_run.
bool PyParser::plain_quoted(std::string* out) {
    const char quote = char(peek());
    if (quote != '\'' && quote != '"') return false;
    const size_t body = pos_ + 1;
    const uint8_t stop = kStringStop[(unsigned char)quote] | kStringBreak;
    size_t end = body;
    while (end < src_.size() && !(kStringStop[(unsigned char)src_[end]] & stop)) ++end;
    if (end >= src_.size() || src_[end] != quote) return false;
    if (end == body && end + 1 < src_.size() && src_[end + 1] == quote) return false;  // ''' opens a triple
    size_t after = end + 1;
    while (after < src_.size() && (src_[after] == ' ' || src_[after] == '\t')) ++after;
    const char next = after < src_.size() ? src_[after] : '\0';
    if (next != ',' && next != ')' && next != ']' && next != '}' && next != ':') return false;
    out->assign(src_.data() + body, end - body);
    pos_ = end + 1;
    return true;
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

bool parse_plain_call_list(std::string_view text, std::vector<ToolCall>* out, bool names_as_strings) {
    PyParser parser(text, 0);
    parser.plain_names_as_strings(names_as_strings);
    return parser.plain_single_list(out);
}

}  // namespace tl_fast
