// Python 3.11's expression grammar (Grammar/python.gram): what `ast.parse(text, mode="eval")` accepts, as Expr
// nodes. Rules are named after the grammar's; errors are syntax errors (their wording is ours).
#include "python_parser.h"

namespace tl_fast {

using K = Expr::Kind;
using lex::is_digit;

namespace {

bool is_constant_name(std::string_view id) { return id == "True" || id == "False" || id == "None"; }

// star_targets of a `for` clause: names, attributes, subscripts, and lists / tuples / starred of these.
bool valid_target(const Expr& e, bool starred_ok) {
    switch (e.kind) {
        case K::Name:
        case K::Attr:
        case K::Subscript: return true;
        case K::Starred: return starred_ok && e.id == "*" && valid_target(e.kids[0], false);
        case K::List:
        case K::Tuple:
            for (const Expr& k : e.kids)
                if (!valid_target(k, true)) return false;
            return true;
        default: return false;
    }
}

}  // namespace

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

bool PyParser::primary(Expr* out) {
    const size_t start = pos_;
    return atom(out) && trailers(out, start);
}

bool PyParser::trailers(Expr* out, size_t start) {
    int count = 0;
    for (;;) {
        skip(false);
        const unsigned char c = peek();
        if (c != '.' && c != '(' && c != '[') return true;
        if (c == '.' && is_digit(peek(1))) return fail("unexpected number");
        if (++count + nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
        Expr n;
        n.begin = base_ + start;
        if (c == '.') {
            ++pos_;
            skip(false);
            std::string_view raw;
            const int r = identifier(&raw);
            if (r < 0) return false;
            if (r == 0) return fail("expected an attribute name after '.'");
            if (is_keyword(raw) || is_constant_name(raw)) return fail("a keyword cannot be an attribute name");
            n.kind = K::Attr;
            n.id = name_;
            n.kids.push_back(std::move(*out));
        } else if (c == '(') {
            n.kind = K::Call;
            n.kids.push_back(std::move(*out));
            if (!call_arguments(&n)) return false;
        } else {
            n.kind = K::Subscript;
            n.kids.push_back(std::move(*out));
            if (!subscript(&n, start)) return false;
        }
        n.end = base_ + pos_;
        *out = std::move(n);
    }
}

// '[' slices ']': one slice / expression, or a tuple of them (`a[1, 2:3]`, `a[*b]`).
bool PyParser::subscript(Expr* out, size_t start) {
    (void)start;
    ++pos_;
    ++brackets_;
    skip(false);
    const size_t at = pos_;
    Expr first;
    if (!slice_item(&first)) return false;
    skip(false);
    Expr index;
    if (peek() == ',' || first.kind == K::Starred) {
        index = node(K::Tuple, at);
        index.kids.push_back(std::move(first));
        while (peek() == ',') {
            ++pos_;
            skip(false);
            if (peek() == ']') break;
            Expr more;
            if (!slice_item(&more)) return false;
            index.kids.push_back(std::move(more));
            skip(false);
        }
        index.end = base_ + pos_;
    } else {
        index = std::move(first);
    }
    if (peek() != ']') return fail("expected ']'");
    ++pos_;
    --brackets_;
    out->kids.push_back(std::move(index));
    return true;
}

// slice: [expression] ':' [expression] [':' [expression]] | named_expression; or '*' expression.
bool PyParser::slice_item(Expr* out) {
    const size_t start = pos_;
    if (peek() == '*' && peek(1) != '*') {
        ++pos_;
        skip(false);
        Expr value;
        if (!expression(&value)) return false;
        *out = node(K::Starred, start);
        out->id = "*";
        out->end = base_ + pos_;
        out->kids.push_back(std::move(value));
        return true;
    }
    Expr lower;
    lower.kind = K::Missing;
    if (peek() != ':' || at_walrus()) {
        if (!named_expression(&lower)) return false;
        skip(false);
    }
    if (peek() != ':' || at_walrus()) {
        *out = std::move(lower);
        return true;
    }
    if (lower.kind == K::Walrus) return fail("':=' in a slice needs parentheses");
    ++pos_;
    skip(false);
    Expr upper, step;
    upper.kind = step.kind = K::Missing;
    if (peek() != ':' && peek() != ',' && peek() != ']') {
        if (!expression(&upper)) return false;
        skip(false);
    }
    if (peek() == ':') {
        ++pos_;
        skip(false);
        if (peek() != ',' && peek() != ']') {
            if (!expression(&step)) return false;
            skip(false);
        }
    }
    *out = node(K::Slice, start);
    out->end = base_ + pos_;
    out->kids.push_back(std::move(lower));
    out->kids.push_back(std::move(upper));
    out->kids.push_back(std::move(step));
    return true;
}

// Arguments: positional (walrus allowed), *x, name=value, **x; a lone generator expression `f(x for x in y)`.
bool PyParser::call_arguments(Expr* call) {
    ++pos_;  // '('
    ++brackets_;
    bool seen_keyword = false, seen_dstar = false;
    size_t count = 0;
    for (;;) {
        skip(false);
        if (peek() == ')') break;
        const size_t arg_start = pos_;
        if (peek() == '*') {
            const bool dstar = peek(1) == '*';
            if (!dstar && seen_dstar) return fail("iterable argument unpacking follows keyword argument unpacking");
            pos_ += dstar ? 2 : 1;
            skip(false);
            Expr value;
            if (!expression(&value)) return false;
            if (dstar) {  // **x: a keyword without a name
                call->keywords.emplace_back(std::string(), std::move(value));
                seen_dstar = true;
            } else {
                Expr n = node(K::Starred, arg_start);
                n.id = "*";
                n.end = base_ + pos_;
                n.kids.push_back(std::move(value));
                call->kids.push_back(std::move(n));
            }
        } else {
            std::string_view raw;
            const int r = identifier(&raw);
            if (r < 0) return false;
            bool is_kw = false;
            std::string name;
            if (r > 0) {
                name = name_;
                skip(false);
                is_kw = peek() == '=' && peek(1) != '=';
                if (!is_kw) pos_ = arg_start;
            }
            if (is_kw) {
                if (is_keyword(raw) || is_constant_name(raw))
                    return fail_at(arg_start, "a keyword cannot be an argument name");
                ++pos_;
                skip(false);
                Expr value;
                if (!expression(&value)) return false;
                // One allocation for typical calls: growing 1->2->4->8 would move every (large) Expr each time.
                if (call->keywords.empty()) call->keywords.reserve(8);
                call->keywords.emplace_back(std::move(name), std::move(value));  // repeats parse, as in ast.parse
                seen_keyword = true;
            } else {
                Expr value;
                if (!named_expression(&value)) return false;
                if (seen_keyword || seen_dstar) return fail_at(arg_start, "positional argument follows keyword argument");
                skip(false);
                if (at_comprehension()) {
                    if (count > 0) return fail("a generator expression argument must be parenthesized");
                    Expr gen = node(K::Comp, arg_start);
                    gen.id = "gen";
                    gen.kids.push_back(std::move(value));
                    if (!comprehension(&gen)) return false;
                    skip(false);
                    if (peek() != ')') return fail("a generator expression argument must be parenthesized");
                    gen.end = base_ + pos_;
                    call->kids.push_back(std::move(gen));
                    break;
                }
                call->kids.push_back(std::move(value));
            }
        }
        ++count;
        bool closed;
        if (!separator(')', "expected ',' or ')' in the argument list", &closed)) return false;
        if (closed) break;
    }
    ++pos_;
    --brackets_;
    return true;
}

bool PyParser::atom(Expr* out) {
    const size_t start = pos_;
    out->begin = base_ + start;
    const unsigned char c = peek();
    if (at_end()) return fail("unexpected end of input");
    if (lex::id_start_byte(c)) {
        std::string_view raw;
        if (identifier(&raw) < 0) return false;
        if (peek() == '\'' || peek() == '"') {
            pos_ = start;
            return strings(out);
        }
        if (raw == "True" || raw == "False") {
            out->value = Value::boolean(raw == "True");
        } else if (raw == "None") {
            out->value = Value::none();
        } else if (is_keyword(raw)) {
            return fail_at(start, "unsupported syntax (Python keyword)");
        } else {
            out->kind = K::Name;
            out->id = name_;
        }
    } else if (is_digit(c) || (c == '.' && is_digit(peek(1)))) {
        if (!number(out)) return false;
    } else if (c == '.' && peek(1) == '.' && peek(2) == '.') {
        pos_ += 3;
        out->kind = K::Ellipsis;
    } else if (c == '\'' || c == '"') {
        return strings(out);
    } else if (c == '(') {
        return parens(out);  // a group keeps the inner node's span, as ast does
    } else if (c == '[') {
        if (!list_display(out)) return false;
    } else if (c == '{') {
        if (!braces(out)) return false;
    } else {
        return fail("unexpected character");
    }
    out->end = base_ + pos_;
    return true;
}

// '(' ... ')': a tuple, a group, a generator expression or a yield.
bool PyParser::parens(Expr* out) {
    const size_t start = pos_++;
    ++brackets_;
    skip(false);
    if (peek() == ')') {
        ++pos_;
        --brackets_;
        *out = node(K::Tuple, start);
        out->end = base_ + pos_;
        return true;
    }
    Expr first;
    if (at_keyword("yield")) {
        if (!yield_expr(&first)) return false;
        skip(false);
        if (peek() != ')') return fail("expected ')' after yield");
        ++pos_;
        --brackets_;
        *out = std::move(first);
        return true;
    }
    if (!star_named_expression(&first)) return false;
    skip(false);
    if (at_comprehension()) {
        if (first.kind == K::Starred) return fail("iterable unpacking cannot be used in a comprehension");
        *out = node(K::Comp, start);
        out->id = "gen";
        out->kids.push_back(std::move(first));
        if (!comprehension(out)) return false;
        skip(false);
        if (peek() != ')') return fail("expected ')' after a generator expression");
        ++pos_;
        --brackets_;
        out->end = base_ + pos_;
        return true;
    }
    if (peek() == ')') {
        if (first.kind == K::Starred) return fail("a starred expression needs a comma: (*x,)");
        ++pos_;
        --brackets_;
        *out = std::move(first);
        return true;
    }
    *out = node(K::Tuple, start);
    out->kids.push_back(std::move(first));
    for (;;) {
        bool closed;
        if (!separator(')', "expected ',' or ')'", &closed)) return false;
        if (closed) break;
        skip(false);
        if (peek() == ')') break;
        Expr e;
        if (!star_named_expression(&e)) return false;
        out->kids.push_back(std::move(e));
    }
    ++pos_;
    --brackets_;
    out->end = base_ + pos_;
    return true;
}

bool PyParser::list_display(Expr* out) {
    const size_t start = pos_++;
    ++brackets_;
    out->kind = K::List;
    for (;;) {
        skip(false);
        if (peek() == ']') break;
        Expr e;
        if (!star_named_expression(&e)) return false;
        skip(false);
        if (out->kids.empty() && at_comprehension()) {
            if (e.kind == K::Starred) return fail("iterable unpacking cannot be used in a comprehension");
            *out = node(K::Comp, start);
            out->id = "list";
            out->kids.push_back(std::move(e));
            if (!comprehension(out)) return false;
            skip(false);
            if (peek() != ']') return fail("expected ']' after a list comprehension");
            break;
        }
        out->kids.push_back(std::move(e));
        bool closed;
        if (!separator(']', "expected ',' or ']'", &closed)) return false;
        if (closed) break;
    }
    ++pos_;
    --brackets_;
    return true;
}

// '{' ... '}': a dict (with **x entries), a set, or a dict / set comprehension.
bool PyParser::braces(Expr* out) {
    const size_t start = pos_++;
    ++brackets_;
    out->kind = K::Dict;
    bool first = true;
    for (;;) {
        skip(false);
        if (peek() == '}') break;
        if (peek() == '*' && peek(1) == '*') {  // {**x}
            if (out->kind != K::Dict) return fail("'**' in a set");
            const size_t at = pos_;
            pos_ += 2;
            skip(false);
            Expr value;
            if (!bitwise(&value, 0)) return false;
            Expr key = node(K::Starred, at);
            key.id = "**";
            key.end = base_ + pos_;
            key.kids.push_back(std::move(value));
            out->keys.push_back(std::move(key));
            out->kids.emplace_back().kind = K::Missing;
            skip(false);
            if (first && at_comprehension()) return fail("dict unpacking cannot be used in a dict comprehension");
        } else {
            Expr key;
            if (!star_named_expression(&key)) return false;
            skip(false);
            const bool plain_key = key.kind != K::Starred && key.kind != K::Walrus;
            if (first) out->kind = plain_key && peek() == ':' && !at_walrus() ? K::Dict : K::Set;
            if (out->kind == K::Dict) {
                if (!plain_key || peek() != ':' || at_walrus()) return fail("expected ':' in a dict");
                ++pos_;
                skip(false);
                Expr value;
                if (!expression(&value)) return false;
                skip(false);
                if (first && at_comprehension()) {
                    *out = node(K::Comp, start);
                    out->id = "dict";
                    out->kids.push_back(std::move(key));
                    out->kids.push_back(std::move(value));
                    if (!comprehension(out)) return false;
                    skip(false);
                    if (peek() != '}') return fail("expected '}' after a dict comprehension");
                    break;
                }
                out->keys.push_back(std::move(key));
                out->kids.push_back(std::move(value));
            } else {
                if (first && at_comprehension()) {
                    if (key.kind == K::Starred) return fail("iterable unpacking cannot be used in a comprehension");
                    *out = node(K::Comp, start);
                    out->id = "set";
                    out->kids.push_back(std::move(key));
                    if (!comprehension(out)) return false;
                    skip(false);
                    if (peek() != '}') return fail("expected '}' after a set comprehension");
                    break;
                }
                out->kids.push_back(std::move(key));
            }
        }
        first = false;
        bool closed;
        if (!separator('}', "expected ',' or '}'", &closed)) return false;
        if (closed) break;
    }
    ++pos_;
    --brackets_;
    return true;
}

bool PyParser::for_after_async() {
    const size_t save = pos_;
    pos_ += 5;
    skip(false);
    const bool yes = at_keyword("for");
    pos_ = save;
    return yes;
}

// for_if_clauses: ('async'? 'for' star_targets 'in' disjunction ('if' disjunction)*)+
bool PyParser::comprehension(Expr* comp) {
    bool any = false;
    for (;;) {
        skip(false);
        bool is_async = false;
        if (at_keyword("async") && for_after_async()) {
            is_async = true;
            pos_ += 5;
            skip(false);
        }
        if (!at_keyword("for")) break;
        pos_ += 3;
        skip(false);
        Expr target, iterable;
        if (!targets(&target)) return false;
        skip(false);
        if (!at_keyword("in")) return fail("expected 'in' in a comprehension");
        pos_ += 2;
        skip(false);
        if (!or_test(&iterable)) return false;
        comp->keywords.emplace_back(is_async ? "async for" : "for", std::move(target));
        comp->keywords.emplace_back("in", std::move(iterable));
        for (;;) {
            skip(false);
            if (!at_keyword("if")) break;
            pos_ += 2;
            skip(false);
            Expr cond;
            if (!or_test(&cond)) return false;
            comp->keywords.emplace_back("if", std::move(cond));
        }
        any = true;
    }
    return any || fail("expected 'for'");
}

bool PyParser::targets(Expr* out) {
    const size_t start = pos_;
    std::vector<Expr> items;
    bool comma = false;
    for (;;) {
        skip(false);
        Expr t;
        const size_t at = pos_;
        if (peek() == '*' && peek(1) != '*') {
            ++pos_;
            skip(false);
            Expr inner;
            if (!primary(&inner)) return false;
            t = node(K::Starred, at);
            t.id = "*";
            t.end = base_ + pos_;
            t.kids.push_back(std::move(inner));
        } else if (!primary(&t)) {
            return false;
        }
        if (!valid_target(t, true)) return fail_at(at, "cannot assign to this expression");
        items.push_back(std::move(t));
        skip(false);
        if (peek() != ',') break;
        ++pos_;
        comma = true;
        skip(false);
        if (at_keyword("in")) break;
    }
    if (items.size() == 1 && !comma) {
        if (items[0].kind == K::Starred) return fail_at(start, "a starred target must be in a list or tuple");
        *out = std::move(items[0]);
        return true;
    }
    *out = node(K::Tuple, start);
    out->end = base_ + pos_;
    out->kids = std::move(items);
    return true;
}

// lambdef: 'lambda' [lambda_params] ':' expression
bool PyParser::lambda(Expr* out) {
    const size_t start = pos_;
    pos_ += 6;
    skip(false);
    Expr lam = node(K::Lambda, start);
    int phase = 0;  // 0 positional, 2 after '*', 3 after '**'
    bool seen_default = false, seen_slash = false, bare_star = false, keyword_only = false;
    size_t positional = 0;
    while (peek() != ':') {
        const size_t at = pos_;
        Expr dflt;
        dflt.kind = K::Missing;
        std::string param;
        auto name = [&](std::string* to) {
            std::string_view raw;
            const int r = identifier(&raw);
            if (r < 0) return false;
            if (r == 0 || is_keyword(raw) || is_constant_name(raw)) return fail("invalid lambda parameter");
            *to += name_;
            return true;
        };
        if (peek() == '*' && peek(1) == '*') {
            if (phase == 3) return fail_at(at, "arguments cannot follow var-keyword argument");
            pos_ += 2;
            skip(false);
            param = "**";
            if (!name(&param)) return false;
            phase = 3;
        } else if (peek() == '*') {
            if (phase >= 2) return fail_at(at, "* argument may appear only once");
            ++pos_;
            skip(false);
            param = "*";
            bare_star = !lex::id_start_byte(peek());
            if (!bare_star && !name(&param)) return false;
            phase = 2;
        } else if (peek() == '/') {
            if (phase != 0 || positional == 0 || seen_slash) return fail_at(at, "invalid '/' in lambda parameters");
            ++pos_;
            seen_slash = true;
            param = "/";
        } else {
            if (phase == 3) return fail_at(at, "arguments cannot follow var-keyword argument");
            if (!name(&param)) return false;
            skip(false);
            if (peek() == '=' && peek(1) != '=') {
                ++pos_;
                skip(false);
                if (!expression(&dflt)) return false;
                if (phase == 0) seen_default = true;
            } else if (phase == 0 && seen_default) {
                return fail_at(at, "non-default argument follows default argument");
            }
            if (phase == 0) ++positional;
            else keyword_only = true;
        }
        lam.keywords.emplace_back(std::move(param), std::move(dflt));
        skip(false);
        if (peek() == ',') {
            ++pos_;
            skip(false);
            continue;
        }
        if (peek() != ':') return fail("expected ':' after lambda parameters");
    }
    if (bare_star && !keyword_only) return fail("named arguments must follow bare *");
    ++pos_;
    skip(false);
    Expr body;
    if (!expression(&body)) return false;
    lam.end = body.end;
    lam.kids.push_back(std::move(body));
    *out = std::move(lam);
    return true;
}

// yield_expr: 'yield' 'from' expression | 'yield' [star_expressions]
bool PyParser::yield_expr(Expr* out) {
    const size_t start = pos_;
    pos_ += 5;
    skip(false);
    *out = node(K::Yield, start);
    out->id = "yield";
    if (at_keyword("from")) {
        pos_ += 4;
        skip(false);
        out->id = "yield from";
        Expr value;
        if (!expression(&value)) return false;
        out->kids.push_back(std::move(value));
    } else if (peek() != ')') {
        const size_t at = pos_;
        std::vector<Expr> items;
        bool comma = false;
        for (;;) {
            Expr e;
            if (!(peek() == '*' && peek(1) != '*' ? starred(&e) : expression(&e))) return false;
            items.push_back(std::move(e));
            skip(false);
            if (peek() != ',') break;
            ++pos_;
            comma = true;
            skip(false);
            if (peek() == ')') break;
        }
        if (items.size() == 1 && !comma) {
            out->kids.push_back(std::move(items[0]));
        } else {
            Expr tuple = node(K::Tuple, at);
            tuple.end = base_ + pos_;
            tuple.kids = std::move(items);
            out->kids.push_back(std::move(tuple));
        }
    }
    out->end = base_ + pos_;
    return true;
}

bool parse_python_expression(std::string_view text, size_t base, Expr* out, ParseError* err) {
    PyParser parser(text, base);
    if (parser.parse_single(out)) return true;
    *err = parser.error();
    return false;
}

}  // namespace tl_fast
