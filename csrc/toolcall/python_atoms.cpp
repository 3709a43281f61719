// Python atoms and trailers: names, numbers, strings, displays (tuple / list / dict / set, with their
// comprehensions), attribute access, calls with their arguments, subscripts with slices.
#include "python_parser.h"

namespace tl_fast {

using K = Expr::Kind;
using lex::is_digit;

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
            out->kind = K::Const;  // (the caller may have marked *out Missing: an absent slice part, a default)
            out->value = Value::boolean(raw == "True");
        } else if (raw == "None") {
            out->kind = K::Const;
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

}  // namespace tl_fast
