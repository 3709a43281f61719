// JSON values for the call readers and parse_json (see json.h).
#include "json.h"

#include <cerrno>
#include <cstdlib>

#include "lexer.h"

namespace tl_fast {

bool JsonParser::fail(const char* reason) {
    err_.offset = base_ + pos_;
    err_.reason = reason;
    return false;
}

void JsonParser::skip_ws() {
    while (pos_ < src_.size() && lex::is_json_space((unsigned char)src_[pos_])) ++pos_;
}

bool JsonParser::literal(std::string_view word) {
    if (src_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
}

bool JsonParser::value_at(size_t* pos, Value* out) {
    pos_ = *pos;
    const bool ok = value(out, 0);
    *pos = pos_;
    return ok;
}

bool JsonParser::value(Value* out, int depth) {
    skip_ws();
    if (depth > kMaxDepth) return fail("JSON nested deeper than the limit");
    const unsigned char c = peek();
    if (c == '{' || c == '[') {
        const bool object = c == '{';
        const char close = object ? '}' : ']';
        ++pos_;
        out->kind = object ? Value::Kind::Dict : Value::Kind::List;
        skip_ws();
        if (peek() == (unsigned char)close) return ++pos_, true;
        for (;;) {
            if (object) {
                skip_ws();
                if (peek() != '"') return fail("expected a string key in a JSON object");
                std::string key;
                if (!string(&key)) return false;
                skip_ws();
                if (peek() != ':') return fail("expected ':' in a JSON object");
                ++pos_;
                Value v;
                if (!value(&v, depth + 1)) return false;
                out->set(Value::str(std::move(key)), std::move(v));  // json.loads: the last duplicate wins
            } else {
                Value v;
                if (!value(&v, depth + 1)) return false;
                out->items.push_back(std::move(v));
            }
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == (unsigned char)close) return ++pos_, true;
            return fail(object ? "expected ',' or '}' in a JSON object" : "expected ',' or ']' in a JSON array");
        }
    }
    if (c == '"') {
        out->kind = Value::Kind::Str;
        return string(&out->s);
    }
    if (literal("true")) return *out = Value::boolean(true), true;
    if (literal("false")) return *out = Value::boolean(false), true;
    if (literal("null")) return *out = Value::none(), true;
    if (c == '-' || lex::is_digit(c)) return number(out);
    return fail(pos_ >= src_.size() ? "unexpected end of JSON" : "invalid JSON value");
}

bool JsonParser::number(Value* out) {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
        ++pos_;
    } else if (lex::is_digit(peek())) {
        while (lex::is_digit(peek())) ++pos_;
    } else {
        return fail("invalid JSON number");
    }
    bool is_float = false;
    if (peek() == '.' && lex::is_digit(peek(1))) {  // json.loads leaves "1." as 1 followed by '.'
        ++pos_;
        while (lex::is_digit(peek())) ++pos_;
        is_float = true;
    }
    if ((peek() | 0x20) == 'e') {
        size_t p = pos_ + 1;
        if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
        if (p < src_.size() && lex::is_digit((unsigned char)src_[p])) {  // else "1e" is 1 followed by 'e'
            pos_ = p;
            while (lex::is_digit(peek())) ++pos_;
            is_float = true;
        }
    }
    const std::string text(src_.substr(start, pos_ - start));
    if (!is_float) {
        errno = 0;
        const long long v = std::strtoll(text.c_str(), nullptr, 10);
        if (errno == ERANGE) {
            pos_ = start;
            return fail("JSON integer outside the 64-bit range");
        }
        *out = Value::integer(v);
    } else {
        *out = Value::real(std::strtod(text.c_str(), nullptr));
    }
    return true;
}

bool JsonParser::hex4(uint32_t* cp) {
    *cp = 0;
    for (int k = 0; k < 4; ++k) {
        const int h = lex::hex_value(peek());
        if (h < 0) return fail("invalid \\u escape in a JSON string");
        *cp = *cp * 16 + uint32_t(h);
        ++pos_;
    }
    return true;
}

bool JsonParser::string(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
        if (pos_ >= src_.size()) return fail("unterminated JSON string");
        const unsigned char c = peek();
        if (c == '"') return ++pos_, true;
        if (c < 0x20) return fail("control character in a JSON string");
        if (c != '\\') {
            const size_t run = pos_;  // this character and the ordinary ones after it, in one append
            while (++pos_ < src_.size() && src_[pos_] != '"' && src_[pos_] != '\\' && (unsigned char)src_[pos_] >= 0x20) {
            }
            out->append(src_.data() + run, pos_ - run);
            continue;
        }
        const unsigned char e = peek(1);
        pos_ += 2;
        switch (e) {
            case '"': *out += '"'; break;
            case '\\': *out += '\\'; break;
            case '/': *out += '/'; break;
            case 'b': *out += '\b'; break;
            case 'f': *out += '\f'; break;
            case 'n': *out += '\n'; break;
            case 'r': *out += '\r'; break;
            case 't': *out += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(&cp)) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
                    const size_t save = pos_;
                    pos_ += 2;
                    uint32_t low;
                    if (!hex4(&low)) return false;
                    if (low >= 0xDC00 && low <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    else pos_ = save;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) return fail("lone surrogate in a JSON string");
                lex::append_utf8(*out, cp);
                break;
            }
            default:
                pos_ -= 2;
                return fail("invalid escape in a JSON string");
        }
    }
}

bool parse_json(std::string_view text, size_t base, Value* out, ParseError* err) {
    JsonParser parser(text, base);
    size_t pos = 0;
    if (!parser.value_at(&pos, out)) {
        *err = parser.error();
        return false;
    }
    while (pos < text.size() && lex::is_json_space((unsigned char)text[pos])) ++pos;
    if (pos != text.size()) {
        *err = {base + pos, "text after the JSON value"};
        return false;
    }
    return true;
}

}  // namespace tl_fast
