// Comprehension clauses and their targets, lambdas, yield expressions.
#include "python_parser.h"

namespace tl_fast {

using K = Expr::Kind;

namespace {

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

}  // namespace tl_fast
