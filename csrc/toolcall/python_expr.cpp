// Python 3.11's expression grammar (Grammar/python.gram): what `ast.parse(text, mode="eval")` accepts, as Expr
// nodes. This file: statements, named / conditional / boolean / comparison / arithmetic expressions; atoms and
// trailers are in python_atoms.cpp, comprehensions, targets, lambdas and yield in python_comp.cpp. Rules are
// named after the grammar's; errors are syntax errors (their wording is ours).
#include "python_parser.h"

namespace tl_fast {

using K = Expr::Kind;

bool is_constant_name(std::string_view id) { return id == "True" || id == "False" || id == "None"; }

bool PyParser::parse_single(Expr* out) {
    skip(true);
    if (!expression(out)) return false;
    skip(true);
    if (pos_ != src_.size()) return fail("unexpected text after the expression");
    return true;
}

bool PyParser::parse_statements(std::vector<Expr>* out) {
    for (;;) {
        skip(true);
        while (pos_ < src_.size() && src_[pos_] == ';') {
            ++pos_;
            skip(true);
        }
        if (pos_ >= src_.size()) return true;
        Expr e;
        if (!expression(&e)) return false;
        out->push_back(std::move(e));
        skip(false);
        if (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r' && src_[pos_] != ';')
            return fail("expected a newline or ';' between calls");
    }
}

bool PyParser::deeper() { return nesting_ <= kMaxDepth || fail("nesting deeper than the limit"); }

Expr PyParser::node(Expr::Kind kind, size_t start) const {
    Expr n;
    n.kind = kind;
    n.begin = base_ + start;
    return n;
}

bool PyParser::separator(char close, const char* reason, bool* closed) {
    skip(false);
    if (peek() == ',') {
        ++pos_;
        *closed = false;
        return true;
    }
    *closed = peek() == (unsigned char)close;
    return *closed || fail(reason);
}

bool PyParser::expression(Expr* out) {
    Depth guard(*this);
    if (!deeper()) return false;
    if (at_keyword("lambda")) return lambda(out);
    return test(out);
}

bool PyParser::named_expression(Expr* out) {
    const size_t start = pos_;
    std::string_view raw;
    const int r = identifier(&raw);
    if (r < 0) return false;
    if (r > 0) {
        std::string name = name_;
        skip(false);
        if (at_walrus() && !is_keyword(raw) && !is_constant_name(raw)) {
            pos_ += 2;
            skip(false);
            Expr value;
            if (!expression(&value)) return false;
            *out = node(K::Walrus, start);
            out->value = Value::str(std::move(name));
            out->end = value.end;
            out->kids.push_back(std::move(value));
            return true;
        }
        pos_ = start;
    }
    if (!expression(out)) return false;
    skip(false);
    return !at_walrus() || fail("':=' needs a plain name on its left");
}

bool PyParser::star_named_expression(Expr* out) {
    if (peek() == '*' && peek(1) != '*') return starred(out);
    return named_expression(out);
}

// '*' bitwise_or (an element of a display)
bool PyParser::starred(Expr* out) {
    const size_t at = pos_++;
    skip(false);
    Expr value;
    if (!bitwise(&value, 0)) return false;
    *out = node(K::Starred, at);
    out->id = "*";
    out->end = base_ + pos_;
    out->kids.push_back(std::move(value));
    return true;
}

// Python's `test` and below. Common case first: parse the operand once, then climb through whatever operators
// follow it (none, for almost every value in a tool call) instead of descending ten grammar levels per operand.
bool PyParser::test(Expr* out) {
    const size_t start = pos_;
    if (at_keyword("not")) {
        if (!or_test(out)) return false;
        return if_tail(out, start);
    }
    if (!unary(out)) return false;
    skip(false);
    const unsigned char next = peek();
    if (at_end() || next == ',' || next == ')' || next == ']' || next == '}' || next == ';' || next == '\n' ||
        next == '\r' || ((next == '=' || next == ':') && peek(1) != '='))
        return true;  // a delimiter: no operator follows
    for (int level = 5; level >= 0; --level)
        if (!binary_tail(out, start, level)) return false;
    return comparison_tail(out, start) && bool_tail(out, start, "and", &PyParser::not_test) &&
           bool_tail(out, start, "or", &PyParser::and_test) && if_tail(out, start);
}

bool PyParser::if_tail(Expr* out, size_t start) {
    skip(false);
    if (!at_keyword("if")) return true;
    Depth guard(*this);
    if (!deeper()) return false;
    pos_ += 2;
    skip(false);
    Expr n = node(K::IfExp, start), cond, orelse;
    if (!or_test(&cond)) return false;
    skip(false);
    if (!at_keyword("else")) return fail("expected 'else'");
    pos_ += 4;
    skip(false);
    if (!expression(&orelse)) return false;
    n.kids.push_back(std::move(*out));
    n.kids.push_back(std::move(cond));
    n.kids.push_back(std::move(orelse));
    n.end = base_ + pos_;
    *out = std::move(n);
    return true;
}

bool PyParser::bool_tail(Expr* out, size_t start, std::string_view word, bool (PyParser::*operand)(Expr*)) {
    skip(false);
    if (!at_keyword(word)) return true;
    Expr n = node(K::BoolOp, start);
    n.id = std::string(word);
    n.kids.push_back(std::move(*out));
    while (at_keyword(word)) {
        if (int(n.kids.size()) + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
        pos_ += word.size();
        skip(false);
        Expr next;
        if (!(this->*operand)(&next)) return false;
        n.kids.push_back(std::move(next));
        skip(false);
    }
    n.end = base_ + pos_;
    *out = std::move(n);
    return true;
}

bool PyParser::or_test(Expr* out) {
    const size_t start = pos_;
    return and_test(out) && bool_tail(out, start, "or", &PyParser::and_test);
}

bool PyParser::and_test(Expr* out) {
    const size_t start = pos_;
    return not_test(out) && bool_tail(out, start, "and", &PyParser::not_test);
}

bool PyParser::not_test(Expr* out) {
    if (!at_keyword("not")) return comparison(out);
    Depth guard(*this);
    if (!deeper()) return false;
    const size_t start = pos_;
    pos_ += 3;
    skip(false);
    Expr operand;
    if (!not_test(&operand)) return false;
    *out = node(K::Unary, start);
    out->id = "not";
    out->end = base_ + pos_;
    out->kids.push_back(std::move(operand));
    return true;
}

// The comparison operator at the cursor; *length is its extent in the source ("is  not" spans spaces).
std::string PyParser::comparison_op(size_t* length) {
    const unsigned char c = peek(), d = peek(1);
    *length = 2;
    if ((c == '=' || c == '!') && d == '=') return c == '=' ? "==" : "!=";
    if ((c == '<' || c == '>') && d == '=') return c == '<' ? "<=" : ">=";
    *length = 1;
    if ((c == '<' || c == '>') && d != c) return std::string(1, char(c));
    const bool is = at_keyword("is"), not_ = at_keyword("not");
    if (at_keyword("in")) return *length = 2, "in";
    if (!is && !not_) return "";
    const size_t save = pos_;
    pos_ += is ? 2 : 3;
    skip(false);
    const bool second = is ? at_keyword("not") : at_keyword("in");
    *length = pos_ + (is ? 3 : 2) - save;
    pos_ = save;
    if (is) return second ? "is not" : (*length = 2, "is");
    return second ? "not in" : "";
}

bool PyParser::comparison(Expr* out) {
    const size_t start = pos_;
    return bitwise(out, 0) && comparison_tail(out, start);
}

bool PyParser::comparison_tail(Expr* out, size_t start) {
    skip(false);
    size_t length = 0;
    std::string op = comparison_op(&length);
    if (op.empty()) return true;
    Expr n = node(K::Compare, start);
    n.kids.push_back(std::move(*out));
    while (!op.empty()) {
        if (int(n.keywords.size()) + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
        pos_ += length;
        skip(false);
        Expr rhs;
        if (!bitwise(&rhs, 0)) return false;
        n.keywords.emplace_back(op, std::move(rhs));
        skip(false);
        op = comparison_op(&length);
    }
    n.end = base_ + pos_;
    *out = std::move(n);
    return true;
}

// Binary operator levels, loosest first: | ^ & (<< >>) (+ -) (* / // % @).
std::string PyParser::binary_op(int level) const {
    const unsigned char c = peek(), d = peek(1), e = peek(2);
    switch (level) {
        case 0: return c == '|' && d != '=' ? "|" : "";
        case 1: return c == '^' && d != '=' ? "^" : "";
        case 2: return c == '&' && d != '=' ? "&" : "";
        case 3: return (c == '<' || c == '>') && d == c && e != '=' ? std::string(2, char(c)) : "";
        case 4: return (c == '+' || c == '-') && d != '=' ? std::string(1, char(c)) : "";
        default:
            if (c == '*' && d != '*' && d != '=') return "*";
            if (c == '/' && d == '/' && e != '=') return "//";
            if ((c == '/' || c == '%' || c == '@') && d != '=') return std::string(1, char(c));
            return "";
    }
}

bool PyParser::bitwise(Expr* out, int level) {
    const size_t start = pos_;
    if (!(level == 5 ? unary(out) : bitwise(out, level + 1))) return false;
    return binary_tail(out, start, level);
}

// Operators of one level after a complete left operand (left-associative).
bool PyParser::binary_tail(Expr* out, size_t start, int level) {
    int chain = 0;
    for (;;) {
        skip(false);
        const std::string op = binary_op(level);
        if (op.empty()) return true;
        if (++chain + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
        pos_ += op.size();
        skip(false);
        Expr rhs;
        if (!(level == 5 ? unary(&rhs) : bitwise(&rhs, level + 1))) return false;
        Expr n = node(K::BinOp, start);
        n.id = op;
        n.end = rhs.end;
        n.kids.push_back(std::move(*out));
        n.kids.push_back(std::move(rhs));
        *out = std::move(n);
    }
}

bool PyParser::unary(Expr* out) {
    const unsigned char c = peek();
    if (c != '-' && c != '+' && c != '~') return power(out);
    Depth guard(*this);
    if (!deeper()) return false;
    const size_t start = pos_++;
    skip(false);
    Expr operand;
    if (!unary(&operand)) return false;
    *out = node(K::Unary, start);
    out->id = std::string(1, char(c));
    out->end = operand.end;
    out->kids.push_back(std::move(operand));
    return true;
}

// power: await_primary ['**' factor]
bool PyParser::power(Expr* out) {
    const size_t start = pos_;
    if (at_keyword("await")) {
        Depth guard(*this);
        if (!deeper()) return false;
        pos_ += 5;
        skip(false);
        Expr value;
        if (!primary(&value)) return false;
        *out = node(K::Await, start);
        out->end = value.end;
        out->kids.push_back(std::move(value));
    } else if (!primary(out)) {
        return false;
    }
    skip(false);
    if (peek() == '*' && peek(1) == '*' && peek(2) != '=') {
        Depth guard(*this);
        if (!deeper()) return false;
        pos_ += 2;
        skip(false);
        Expr rhs;
        if (!unary(&rhs)) return false;
        Expr n = node(K::BinOp, start);
        n.id = "**";
        n.end = rhs.end;
        n.kids.push_back(std::move(*out));
        n.kids.push_back(std::move(rhs));
        *out = std::move(n);
    }
    return true;
}

bool parse_python_expression(std::string_view text, size_t base, Expr* out, ParseError* err) {
    PyParser parser(text, base);
    if (parser.parse_single(out)) return true;
    *err = parser.error();
    return false;
}

}  // namespace tl_fast
