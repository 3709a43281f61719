// Python tokens as CPython 3.11's tokenizer reads them: whitespace and comments, names (PEP 3131), numbers,
// string literals with their escapes, and the f-string checks of Parser/string_parser.c.

#include "python_parser.h"

namespace tl_fast {

using lex::hex_value;
using lex::id_byte;
using lex::is_digit;

// Python's keywords, by first letter: a switch finds the two or three candidates of a name at once.
bool is_keyword(std::string_view id) {
    if (id.size() < 2 || id.size() > 8) return false;
    switch (id[0]) {
        case 'a': return id == "and" || id == "as" || id == "assert" || id == "async" || id == "await";
        case 'b': return id == "break";
        case 'c': return id == "class" || id == "continue";
        case 'd': return id == "def" || id == "del";
        case 'e': return id == "elif" || id == "else" || id == "except";
        case 'f': return id == "finally" || id == "for" || id == "from";
        case 'g': return id == "global";
        case 'i': return id == "if" || id == "import" || id == "in" || id == "is";
        case 'l': return id == "lambda";
        case 'n': return id == "nonlocal" || id == "not";
        case 'o': return id == "or";
        case 'p': return id == "pass";
        case 'r': return id == "raise" || id == "return";
        case 't': return id == "try";
        case 'w': return id == "while" || id == "with";
        case 'y': return id == "yield";
        default: return false;
    }
}

// 1: a valid name (name_ holds its NFKC form, *out its source text); 0: no name here; -1: a name that PEP 3131
// rejects (an error is set), e.g. one holding U+1F600 or U+200B.
int PyParser::identifier(std::string_view* out) {
    if (!lex::id_start_byte(peek())) return 0;
    const size_t start = pos_;
    bool ascii = peek() < 0x80;
    while (++pos_ < src_.size() && id_byte((unsigned char)src_[pos_])) ascii = ascii && (unsigned char)src_[pos_] < 0x80;
    *out = src_.substr(start, pos_ - start);
    if (ascii) {
        name_.assign(out->data(), out->size());
        return 1;
    }
    if (!lex::python_identifier(*out, &name_)) return fail_at(start, "invalid character in a name"), -1;
    return 1;
}

// One or more adjacent string literals, concatenated (Python's implicit concatenation): Const, Bytes or FString.
bool PyParser::strings(Expr* out) {
    std::string text;
    const size_t start = pos_;
    char kind = 's';
    bool u_prefix = false;
    if (!string_run(&text, &kind, &u_prefix)) return false;
    if (kind == 'f') {
        out->kind = Expr::Kind::FString;
        out->value = Value::str(std::string(src_.substr(start, pos_ - start)));  // source text, for unparse
    } else {
        out->kind = kind == 'b' ? Expr::Kind::Bytes : Expr::Kind::Const;
        out->value = Value::str(std::move(text));
        if (u_prefix) out->id = "u";  // ast keeps kind='u' of the first literal
    }
    out->end = base_ + pos_;
    return true;
}

// The adjacent literals of strings(): their concatenated text and *kind 's', 'b' (bytes) or 'f' (holds an
// f-string; the text is then not a value).
bool PyParser::string_run(std::string* text, char* result_kind, bool* u_prefix) {
    const size_t start = pos_;
    int bytes = 0, parts = 0;
    bool fstring = false;
    for (;;) {
        char kind = 's';
        bool u = false;
        if (!string_literal(text, &kind, &u)) return false;
        if (parts == 0) *u_prefix = u;
        ++parts;
        bytes += kind == 'b';
        fstring = fstring || kind == 'f';
        const size_t save = pos_;
        skip(false);
        size_t p = pos_;
        while (p < src_.size() && p - pos_ < 3 && ((src_[p] | 0x20) == 'r' || (src_[p] | 0x20) == 'u' ||
                                                    (src_[p] | 0x20) == 'b' || (src_[p] | 0x20) == 'f'))
            ++p;
        if (p < src_.size() && (src_[p] == '\'' || src_[p] == '"')) continue;
        pos_ = save;
        break;
    }
    if (bytes != 0 && bytes != parts) return fail_at(start, "cannot mix bytes and str literals");
    *result_kind = bytes ? 'b' : fstring ? 'f' : 's';
    return true;
}

// *kind: 's' (str), 'b' (bytes) or 'f' (f-string). Valid prefixes: r, u, b, f, br/rb, fr/rf (any case).
bool PyParser::string_literal(std::string* out, char* kind, bool* u_prefix) {
    const size_t start = pos_;
    bool raw = false, u = false;
    while (id_byte(peek())) {
        const unsigned char p = peek() | 0x20;
        if (p == 'r' && !raw) raw = true;
        else if ((p == 'b' || p == 'f') && *kind == 's') *kind = char(p);
        else if (p == 'u' && !u) u = true;
        else return fail_at(start, "invalid string prefix");
        ++pos_;
    }
    if (u && pos_ - start > 1) return fail_at(start, "invalid string prefix");
    *u_prefix = u && src_[start] == 'u';
    const char quote = char(peek());
    const bool triple = peek(1) == (unsigned char)quote && peek(2) == (unsigned char)quote;
    pos_ += triple ? 3 : 1;
    const size_t body = pos_;
    const bool bytes = *kind == 'b';
    for (;;) {
        if (at_end()) return fail_at(start, "unterminated string literal");
        const char c = src_[pos_];
        if (c == quote) {
            if (!triple || (peek(1) == (unsigned char)quote && peek(2) == (unsigned char)quote)) {
                const size_t body_end = pos_;
                pos_ += triple ? 3 : 1;
                if (*kind != 'f') return true;
                size_t at = body;
                return fstring_body(body, body_end, raw, 0, &at, start);
            }
            *out += c;
            ++pos_;
        } else if ((c == '\n' || c == '\r') && !triple) {
            return fail_at(start, "unterminated string literal");
        } else if (c == '\\') {
            if (pos_ + 1 >= src_.size()) return fail_at(start, "unterminated string literal");
            if (raw) {  // the backslash stays; it only keeps the next character from closing the string
                *out += c;
                *out += src_[pos_ + 1];
                pos_ += 2;
                continue;
            }
            if (!escape(out, bytes)) return false;
        } else {
            if (bytes && (unsigned char)c >= 0x80) return fail_at(start, "bytes can only contain ASCII literal characters");
            // This character and those after it that need no attention, in one append.
            const size_t run = pos_;
            while (++pos_ < src_.size()) {
                const unsigned char d = (unsigned char)src_[pos_];
                if (d == (unsigned char)quote || d == '\\' || ((d == '\n' || d == '\r') && !triple) || (bytes && d >= 0x80))
                    break;
            }
            out->append(src_.data() + run, pos_ - run);
        }
    }
}

// The replacement fields of an f-string body [b, e), as CPython 3.11's fstring_find_literal / fstring_find_expr
// read them: "{{" and "}}" are escapes at the top level, a field is an expression (parsed as "(" expr ")"), then
// an optional "=", "!r|s|a" and ":" format spec whose own fields nest one level at most.
bool PyParser::fstring_body(size_t b, size_t e, bool raw, int level, size_t* at, size_t start) {
    size_t s = *at;
    while (s < e) {
        char ch = src_[s++];
        if (!raw && ch == '\\' && s < e) {
            ch = src_[s++];
            if (ch == 'N') {  // \N{NAME}: a named escape, not a field (escape() rejects it elsewhere)
                if (s < e && src_[s++] == '{')
                    while (s < e && src_[s++] != '}') {
                    }
                continue;
            }
        }
        if (ch != '{' && ch != '}') continue;
        if (level == 0 && s < e && src_[s] == ch) {
            ++s;
            continue;
        }
        if (ch == '}') {
            if (level == 0) return fail_at(start, "f-string: single '}' is not allowed");
            *at = s - 1;  // the end of a nested format spec
            return true;
        }
        *at = s - 1;
        if (!fstring_field(e, raw, level, at, start)) return false;
        s = *at;
    }
    (void)b;
    *at = s;
    if (level > 0) return fail_at(start, "f-string: expecting '}'");
    return true;
}

bool PyParser::fstring_field(size_t e, bool raw, int level, size_t* at, size_t start) {
    if (level >= 2) return fail_at(start, "f-string: expressions nested too deeply");
    size_t s = *at + 1;
    const size_t expr_b = s;
    char quote = 0;
    int string_type = 0;
    std::vector<char> parens;
    for (; s < e; ++s) {
        const char ch = src_[s];
        if (ch == '\\') return fail_at(start, "f-string expression part cannot include a backslash");
        if (quote) {
            if (ch == quote) {
                if (string_type == 3) {
                    if (s + 2 < e && src_[s + 1] == ch && src_[s + 2] == ch) s += 2, quote = 0, string_type = 0;
                } else {
                    quote = 0, string_type = 0;
                }
            }
        } else if (ch == '\'' || ch == '"') {
            if (s + 2 < e && src_[s + 1] == ch && src_[s + 2] == ch) string_type = 3, s += 2;
            else string_type = 1;
            quote = ch;
        } else if (ch == '[' || ch == '{' || ch == '(') {
            if (parens.size() >= 200) return fail_at(start, "f-string: too many nested parenthesis");
            parens.push_back(ch);
        } else if (ch == '#') {
            return fail_at(start, "f-string expression part cannot include '#'");
        } else if (parens.empty() && (ch == '!' || ch == ':' || ch == '}' || ch == '=' || ch == '>' || ch == '<')) {
            if (s + 1 < e) {
                const char next = src_[s + 1];
                if ((ch == '!' || ch == '=' || ch == '<' || ch == '>') && next == '=') {
                    ++s;
                    continue;
                }
                if (ch == '>' || ch == '<') continue;
            }
            break;
        } else if (ch == ']' || ch == '}' || ch == ')') {
            if (parens.empty()) return fail_at(start, "f-string: unmatched bracket");
            const char open = parens.back();
            parens.pop_back();
            if (!((open == '(' && ch == ')') || (open == '[' && ch == ']') || (open == '{' && ch == '}')))
                return fail_at(start, "f-string: closing parenthesis does not match");
        }
    }
    if (quote) return fail_at(start, "f-string: unterminated string");
    if (!parens.empty()) return fail_at(start, "f-string: unmatched bracket");
    if (s >= e) return fail_at(start, "f-string: expecting '}'");
    bool blank = true;
    for (size_t k = expr_b; k < s && blank; ++k)
        blank = src_[k] == ' ' || src_[k] == '\t' || src_[k] == '\n' || src_[k] == '\f';
    if (blank) return fail_at(start, "f-string: empty expression not allowed");
    {  // the expression, parsed in parentheses (fstring_compile_expr): star_expressions, yield allowed
        Depth guard(*this);
        if (!deeper()) return false;
        const std::string inner = "(" + std::string(src_.substr(expr_b, s - expr_b)) + ")";
        PyParser sub(inner, base_ + expr_b - 1);
        sub.nesting_ = nesting_;
        Expr ignored;
        if (!sub.parse_single(&ignored)) return fail_at(start, "f-string: invalid expression");
    }
    if (src_[s] == '=') {
        ++s;
        while (s < e && lex::is_space((unsigned char)src_[s])) ++s;
        if (s >= e) return fail_at(start, "f-string: expecting '}'");
    }
    if (src_[s] == '!') {
        if (++s >= e) return fail_at(start, "f-string: expecting '}'");
        const char conversion = src_[s++];
        if (conversion != 's' && conversion != 'r' && conversion != 'a')
            return fail_at(start, "f-string: invalid conversion character");
    }
    if (s >= e) return fail_at(start, "f-string: expecting '}'");
    if (src_[s] == ':') {
        if (++s >= e) return fail_at(start, "f-string: expecting '}'");
        if (!fstring_body(s, e, raw, level + 1, &s, start)) return false;
    }
    if (s >= e || src_[s] != '}') return fail_at(start, "f-string: expecting '}'");
    *at = s + 1;
    return true;
}

bool PyParser::escape(std::string* out, bool bytes) {
    const size_t at = pos_;
    const char e = src_[pos_ + 1];
    pos_ += 2;
    switch (e) {
        case '\n': return true;
        case '\r':
            if (peek() == '\n') ++pos_;
            return true;
        case '\\': *out += '\\'; return true;
        case '\'': *out += '\''; return true;
        case '"': *out += '"'; return true;
        case 'a': *out += '\a'; return true;
        case 'b': *out += '\b'; return true;
        case 'f': *out += '\f'; return true;
        case 'n': *out += '\n'; return true;
        case 'r': *out += '\r'; return true;
        case 't': *out += '\t'; return true;
        case 'v': *out += '\v'; return true;
        case 'x':
        case 'u':
        case 'U': {
            if (bytes && e != 'x') break;  // not escapes in bytes
            const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < n; ++k) {
                const int h = hex_value(peek());
                if (h < 0) return fail_at(at, "truncated \\x, \\u or \\U escape");
                cp = cp * 16 + uint32_t(h);
                ++pos_;
            }
            if (bytes) return *out += char(cp), true;
            if (cp > 0x10FFFF) return fail_at(at, "escape beyond U+10FFFF");
            if (cp >= 0xD800 && cp <= 0xDFFF) return fail_at(at, "lone surrogate escape");
            lex::append_utf8(*out, cp);
            return true;
        }
        case 'N':
            if (bytes) break;
            return fail_at(at, "\\N{...} escapes are not supported");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = uint32_t(e - '0');
                for (int k = 0; k < 2 && peek() >= '0' && peek() <= '7'; ++k) cp = cp * 8 + (peek() - '0'), ++pos_;
                if (bytes) return *out += char(cp & 0xFF), true;
                lex::append_utf8(*out, cp);
                return true;
            }
            break;
    }
    *out += '\\';  // unknown escapes keep the backslash (Python warns, then does the same)
    pos_ = at + 1;
    return true;
}

}  // namespace tl_fast
