#include "value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "toolcall/lexer.h"

namespace tl_fast {

const Value* Value::get(const std::string& key) const {
    if (kind != Kind::Dict) return nullptr;
    for (size_t k = 0; k < keys.size(); ++k)
        if (keys[k].kind == Kind::Str && keys[k].s == key) return &items[k];
    return nullptr;
}

void Value::set(Value key, Value value) {
    for (size_t k = 0; k < keys.size(); ++k) {
        if (py_equal(keys[k], key)) {  // Python keeps the first key object and the last value
            items[k] = std::move(value);
            return;
        }
    }
    keys.push_back(std::move(key));
    items.push_back(std::move(value));
}

bool py_equal(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.kind != K::Float && b.kind != K::Float) {
            const int64_t x = a.kind == K::Int ? a.i : int64_t(a.b);
            const int64_t y = b.kind == K::Int ? b.i : int64_t(b.b);
            return x == y;
        }
        return a.as_double() == b.as_double();
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case K::None:
            return true;
        case K::Str:
            return a.s == b.s;
        case K::List:
        case K::Tuple:
            if (a.items.size() != b.items.size()) return false;
            for (size_t k = 0; k < a.items.size(); ++k)
                if (!py_equal(a.items[k], b.items[k])) return false;
            return true;
        case K::Dict:
            if (a.keys.size() != b.keys.size()) return false;
            for (size_t k = 0; k < a.keys.size(); ++k) {
                bool found = false;
                for (size_t m = 0; m < b.keys.size() && !found; ++m)
                    if (py_equal(a.keys[k], b.keys[m])) found = py_equal(a.items[k], b.items[m]);
                if (!found) return false;
            }
            return true;
        default:
            return false;
    }
}

bool py_hashable(const Value& v) {
    if (v.kind == Value::Kind::List || v.kind == Value::Kind::Dict) return false;
    for (const Value& item : v.items)
        if (!py_hashable(item)) return false;
    return true;
}

namespace {

std::string hex_escape(char kind, uint32_t cp, int digits) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\%c%0*x", kind, digits, unsigned(cp));
    return buf;
}

// Python's float repr: the shortest digits that round-trip, fixed notation for 1e-4 <= |x| < 1e16.
std::string float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
    char buf[40];
    int precision = 1;
    for (; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*e", precision - 1, x);
        if (std::strtod(buf, nullptr) == x) break;
    }
    std::string sci(buf);
    const size_t e = sci.find('e');
    const int exp10 = std::atoi(sci.c_str() + e + 1);
    std::string digits;
    for (size_t k = 0; k < e; ++k)
        if (sci[k] >= '0' && sci[k] <= '9') digits += sci[k];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    const std::string sign = x < 0 ? "-" : "";
    if (exp10 >= -4 && exp10 < 16) {
        std::string out;
        if (exp10 < 0) {
            out = "0." + std::string(size_t(-exp10 - 1), '0') + digits;
        } else if (size_t(exp10) + 1 >= digits.size()) {
            out = digits + std::string(size_t(exp10) + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, size_t(exp10) + 1) + "." + digits.substr(size_t(exp10) + 1);
        }
        return sign + out;
    }
    std::string mant = digits.substr(0, 1);
    if (digits.size() > 1) mant += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    return sign + mant + ebuf;
}

// Python's repr of a str: non-printable characters (str.isprintable, from the generated Unicode tables) escaped.
std::string str_repr(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos;
    const bool has_double = s.find('"') != std::string::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (size_t k = 0; k < s.size();) {
        const unsigned char c = (unsigned char)s[k];
        if (c < 0x80) {
            ++k;
            if (c == '\\') out += "\\\\";
            else if (c == quote) out += std::string("\\") + char(c);
            else if (c == '\n') out += "\\n";
            else if (c == '\r') out += "\\r";
            else if (c == '\t') out += "\\t";
            else if (c < 0x20 || c == 0x7f) out += hex_escape('x', c, 2);
            else out += char(c);
            continue;
        }
        size_t n;
        const uint32_t cp = lex::decode_utf8(s, k, &n);
        if (lex::printable(cp)) out.append(s, k, n);
        else if (cp <= 0xFF) out += hex_escape('x', cp, 2);
        else if (cp <= 0xFFFF) out += hex_escape('u', cp, 4);
        else out += hex_escape('U', cp, 8);
        k += n;
    }
    return out + quote;
}

}  // namespace

std::string py_repr(const Value& v) {
    switch (v.kind) {
        case Value::Kind::None: return "None";
        case Value::Kind::Bool: return v.b ? "True" : "False";
        case Value::Kind::Int: return std::to_string(v.i);
        case Value::Kind::Float: return float_repr(v.f);
        case Value::Kind::Str: return str_repr(v.s);
        case Value::Kind::List:
        case Value::Kind::Tuple: {
            const bool list = v.kind == Value::Kind::List;
            std::string out = list ? "[" : "(";
            for (size_t k = 0; k < v.items.size(); ++k) out += (k ? ", " : "") + py_repr(v.items[k]);
            if (!list && v.items.size() == 1) out += ",";
            return out + (list ? "]" : ")");
        }
        case Value::Kind::Dict: {
            std::string out = "{";
            for (size_t k = 0; k < v.keys.size(); ++k)
                out += (k ? ", " : "") + py_repr(v.keys[k]) + ": " + py_repr(v.items[k]);
            return out + "}";
        }
    }
    return "";
}

}  // namespace tl_fast
