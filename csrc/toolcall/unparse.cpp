// ast.unparse (Lib/ast.py, _Unparser, Python 3.11) for the Expr nodes of the parser: BFCL's decoder unparses a
// call without keywords and both sides of a subscript, so its strings are what ast.unparse writes.
#include <cmath>

#include "toolcall.h"

namespace tl_fast {

namespace {

using K = Expr::Kind;

// _Precedence, loosest first. A node the parent does not set is written at TEST (get_precedence's default).
enum Prec : int {
    NAMED_EXPR = 1, TUPLE, YIELD, TEST, OR, AND, NOT, CMP, EXPR, BXOR, BAND, SHIFT, ARITH, TERM, FACTOR, POWER,
    AWAIT, ATOM
};
constexpr int BOR = EXPR;
int next(int p) { return p < ATOM ? p + 1 : p; }

int binop_precedence(const std::string& op) {
    if (op == "+" || op == "-") return ARITH;
    if (op == "<<" || op == ">>") return SHIFT;
    if (op == "|") return BOR;
    if (op == "^") return BXOR;
    if (op == "&") return BAND;
    if (op == "**") return POWER;
    return TERM;  // * @ / % //
}

// repr() of a float or complex constant, with ast.unparse's substitution of 1e309 for infinity.
std::string number_repr(double x, bool imaginary) {
    if (std::isinf(x)) return imaginary ? "1e309j" : "1e309";
    std::string s = py_repr(Value::real(x));
    if (imaginary) {  // complex repr drops the float's ".0"
        if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
        s += "j";
    }
    return s;
}

std::string bytes_repr(const std::string& b) {
    const bool single = b.find('\'') != std::string::npos, dbl = b.find('"') != std::string::npos;
    const char quote = single && !dbl ? '"' : '\'';
    std::string out = "b";
    out += quote;
    for (unsigned char c : b) {
        if (c == '\\' || c == (unsigned char)quote) out += '\\', out += char(c);
        else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c >= 0x7F) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else out += char(c);
    }
    return out + quote;
}

std::string unparse_at(const Expr& e, int prec);

std::string parens_if(bool cond, const std::string& s) { return cond ? "(" + s + ")" : s; }

// items_view: one item gets a trailing comma.
std::string items(const std::vector<Expr>& xs) {
    if (xs.size() == 1) return unparse_at(xs[0], TEST) + ",";
    std::string out;
    for (size_t k = 0; k < xs.size(); ++k) out += (k ? ", " : "") + unparse_at(xs[k], TEST);
    return out;
}

std::string comprehension_clauses(const Expr& e) {
    std::string out;
    for (const auto& [tag, part] : e.keywords) {
        if (tag == "in") out += " in " + unparse_at(part, next(TEST));
        else if (tag == "if") out += " if " + unparse_at(part, next(TEST));
        else out += " " + tag + " " + unparse_at(part, TUPLE);
    }
    return out;
}

std::string unparse_at(const Expr& e, int prec) {
    switch (e.kind) {
        case K::Const:
            if (e.value.kind == Value::Kind::Float) return number_repr(e.value.f, false);
            return (e.id == "u" ? "u" : "") + py_repr(e.value);
        case K::Complex: return number_repr(e.value.f, true);
        case K::Bytes: return bytes_repr(e.value.s);
        case K::FString: return e.value.s;  // as written (ast.unparse re-renders it)
        case K::Ellipsis: return "...";
        case K::Name: return e.id;
        case K::Missing: return "";
        case K::Attr: {
            const Expr& v = e.kids[0];
            const bool int_const = v.kind == K::Const && (v.value.kind == Value::Kind::Int || v.value.kind == Value::Kind::Bool);
            return unparse_at(v, ATOM) + (int_const ? " ." : ".") + e.id;
        }
        case K::Call: {
            std::string out = unparse_at(e.kids[0], ATOM) + "(";
            bool comma = false;
            for (size_t k = 1; k < e.kids.size(); ++k) out += (comma ? ", " : "") + unparse_at(e.kids[k], TEST), comma = true;
            for (const auto& [name, value] : e.keywords)
                out += (comma ? ", " : "") + (name.empty() ? "**" : name + "=") + unparse_at(value, TEST), comma = true;
            return out + ")";
        }
        case K::Starred:
            return e.id + unparse_at(e.kids[0], EXPR);
        case K::List:
        case K::Set: {
            std::string out;
            for (size_t k = 0; k < e.kids.size(); ++k) out += (k ? ", " : "") + unparse_at(e.kids[k], TEST);
            if (e.kind == K::Set) return e.kids.empty() ? "{*()}" : "{" + out + "}";
            return "[" + out + "]";
        }
        case K::Tuple: return parens_if(e.kids.empty() || prec > TUPLE, items(e.kids));
        case K::Dict: {
            std::string out = "{";
            for (size_t k = 0; k < e.kids.size(); ++k) {
                const Expr& key = e.keys[k];
                out += k ? ", " : "";
                out += key.kind == K::Starred ? "**" + unparse_at(key.kids[0], EXPR)
                                              : unparse_at(key, TEST) + ": " + unparse_at(e.kids[k], TEST);
            }
            return out + "}";
        }
        case K::Unary: {
            const int p = e.id == "not" ? NOT : FACTOR;
            return parens_if(prec > p, e.id + (p == NOT ? " " : "") + unparse_at(e.kids[0], p));
        }
        case K::BinOp: {
            const int p = binop_precedence(e.id);
            const bool right = e.id == "**";
            return parens_if(prec > p, unparse_at(e.kids[0], right ? next(p) : p) + " " + e.id + " " +
                                           unparse_at(e.kids[1], right ? p : next(p)));
        }
        case K::Compare: {
            std::string out = unparse_at(e.kids[0], next(CMP));
            for (const auto& [op, rhs] : e.keywords) out += " " + op + " " + unparse_at(rhs, next(CMP));
            return parens_if(prec > CMP, out);
        }
        case K::BoolOp: {  // each operand one level tighter than the one before
            int p = e.id == "and" ? AND : OR;
            const int own = p;
            std::string out;
            for (size_t k = 0; k < e.kids.size(); ++k) {
                p = next(p);
                out += (k ? " " + e.id + " " : "") + unparse_at(e.kids[k], p);
            }
            return parens_if(prec > own, out);
        }
        case K::IfExp:
            return parens_if(prec > TEST, unparse_at(e.kids[0], next(TEST)) + " if " + unparse_at(e.kids[1], next(TEST)) +
                                              " else " + unparse_at(e.kids[2], TEST));
        case K::Walrus:
            return parens_if(prec > NAMED_EXPR, e.value.s + " := " + unparse_at(e.kids[0], ATOM));
        case K::Lambda: {
            std::string params;
            for (size_t k = 0; k < e.keywords.size(); ++k) {
                const auto& [name, dflt] = e.keywords[k];
                params += (k ? ", " : "") + name;
                if (dflt.kind != K::Missing) params += "=" + unparse_at(dflt, TEST);
            }
            return parens_if(prec > TEST, "lambda" + (params.empty() ? "" : " " + params) + ": " + unparse_at(e.kids[0], TEST));
        }
        case K::Comp: {
            std::string body = unparse_at(e.kids[0], TEST);
            if (e.id == "dict") body += ": " + unparse_at(e.kids[1], TEST);
            body += comprehension_clauses(e);
            if (e.id == "list") return "[" + body + "]";
            if (e.id == "gen") return "(" + body + ")";
            return "{" + body + "}";
        }
        case K::Await: return parens_if(prec > AWAIT, "await " + unparse_at(e.kids[0], ATOM));
        case K::Yield: {
            std::string out = e.id;
            if (!e.kids.empty()) out += " " + unparse_at(e.kids[0], ATOM);
            return parens_if(prec > YIELD, out);
        }
        case K::Subscript: {
            const Expr& index = e.kids[1];
            const std::string inner = index.kind == K::Tuple && !index.kids.empty() ? items(index.kids) : unparse_at(index, TEST);
            return unparse_at(e.kids[0], ATOM) + "[" + inner + "]";
        }
        case K::Slice: {
            std::string out = unparse_at(e.kids[0], TEST) + ":" + unparse_at(e.kids[1], TEST);
            if (e.kids[2].kind != K::Missing) out += ":" + unparse_at(e.kids[2], TEST);
            return out;
        }
    }
    return "";
}

}  // namespace

std::string unparse(const Expr& e) { return unparse_at(e, TEST); }

}  // namespace tl_fast
